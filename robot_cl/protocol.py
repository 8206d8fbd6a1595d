"""The reference and recovery protocol (Continual World's forward transfer, the review's fast recovery).

* Reference runs: each skill learned alone from scratch with the stage's budget, its learning curve
  recorded (the baseline of ``fwt_auc`` and of recovery ratios); cached, computed once per config.
* Recovery: after the curriculum, plain training on one skill from the final model until it is back to
  ``eval.recovery.threshold`` of its best success; the updates it takes, and their ratio to the updates the
  reference run needed to reach the same fraction of its own best.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from robot_cl import cache, metrics, tasks
from robot_cl.evaluation import Evaluator
from robot_cl.learners import make_learner
from robot_cl.policies import build_policy
from robot_cl.stages import curve_schedule, eval_seeds, new_policy, stage_budget, stage_data, stage_seed

REFERENCE_VERSION = 1  # bump when training or evaluation changes, so cached reference runs are redone


def reference_key(cfg: dict, skill: str, task: int, n_tasks: int) -> str:
    """Cache key of a reference run: everything that changes its curve."""
    blob = {
        "version": REFERENCE_VERSION,
        "skill": skill,
        "task": task,
        "n_tasks": n_tasks,
        "policy": {k: v for k, v in cfg["policy"].items() if k != "task_id"},  # a reference is told its task
        "learner": cfg["learner"],
        "sim": cfg["sim"],
        "skill_config": tasks.task_configs(cfg["curriculum"])[skill],
        "demos": [cfg["curriculum"]["demos"], cfg["curriculum"]["demo_seed"]],
        "seed": cfg["seed"],
        "threads": cfg["threads"],
        "eval": [cfg["eval"][k] for k in ("episodes", "seed_start", "curve_points", "curve_episodes")],
    }
    return hashlib.sha1(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


def reference_run(cfg: dict, skill: str, task: int, n_tasks: int, data, evaluator: Evaluator, device) -> dict[str, Any]:
    """Train a fresh policy on one skill alone and record its learning curve (Continual World's reference).
    It knows its one task: a task-agnostic run's reference is the same as a task-aware one's."""
    cfg = {**cfg, "policy": {**cfg["policy"], "task_id": True}}
    policy = new_policy(cfg, n_tasks, device, stage_seed(cfg["seed"], 10_000 + task), first_task=task)
    learner = make_learner(cfg["learner"], policy, [], device)
    ev = cfg["eval"]
    updates = stage_budget(cfg)
    schedule = curve_schedule(updates, ev["curve_points"])
    curve_seeds, final_seeds = eval_seeds(ev, ev["curve_episodes"]), eval_seeds(ev, ev["episodes"])
    curve = [evaluator.success_rates(policy, [skill], [task], curve_seeds)[0]]

    def at(u):
        seeds = final_seeds if u == schedule[-1] else curve_seeds
        curve.append(evaluator.success_rates(policy, [skill], [task], seeds)[0])

    learner.train_task(
        task,
        stage_data(cfg, policy, skill, task, data),
        updates,
        stage_seed(cfg["seed"], 20_000 + task),
        checkpoints={u: at for u in schedule},
    )
    return {"skill": skill, "curve": curve, "curve_updates": [0, *schedule], "final": curve[-1], "updates": updates}


def load_or_run_references(cfg, skills, all_demos, evaluator, device, cache_dir: Path, log=print, stats=None) -> dict[str, dict]:
    """Single-skill reference runs, from the cache or computed (each once, when parallel jobs share the cache)."""
    paths = {
        skill: cache_dir / "references" / f"{skill}-{reference_key(cfg, skill, task, len(skills))}.json"
        for task, skill in enumerate(skills)
    }

    def create(missing: list[str]) -> None:
        for skill in missing:
            log(f"reference run (single skill, from scratch): {skill}")
            task = skills.index(skill)
            cache.write_json(paths[skill], reference_run(cfg, skill, task, len(skills), all_demos.get(skill), evaluator, device))

    how = cache.create_all(paths, create)
    if stats is not None:
        stats.update(how)
    return {skill: json.loads(path.read_text()) for skill, path in paths.items()}


def measure_recovery(cfg, policy, skills, all_demos, matrix, curves, refs, evaluator, device) -> dict[str, dict]:
    """Per skill: updates of plain behaviour cloning on that skill alone (from the final model) until it is
    back to ``threshold`` of its best success, and the ratio to the updates a from-scratch run needed."""
    rc = cfg["eval"]["recovery"]
    out = {}
    for task, skill in enumerate(skills):
        best = float(np.nanmax([*curves[task], *(row[task] for row in matrix)]))  # NaN: cells not evaluated
        final = matrix[-1][task]
        entry: dict[str, Any] = {"best": best, "final": final, "updates": None, "scratch_updates": None, "ratio": None}
        ref = refs.get(skill)
        if ref is not None and max(ref["curve"]) > 0:
            entry["scratch_updates"] = metrics.updates_to_reach(ref["curve"], ref["curve_updates"], rc["threshold"] * max(ref["curve"]))
        if best > 0:  # a skill never learned has nothing to recover
            target = rc["threshold"] * best
            entry["updates"] = (
                0 if final >= target else _updates_to_recover(cfg, policy, skill, task, all_demos.get(skill), target, evaluator, device)
            )
        if entry["updates"] is not None and entry["scratch_updates"]:
            entry["ratio"] = entry["updates"] / entry["scratch_updates"]
        out[skill] = entry
    return out


def _updates_to_recover(cfg, policy, skill, task, demo, target, evaluator, device) -> int | None:
    """Plain training of a copy of ``policy`` on one skill, checked every ``check_every`` updates, until its
    success reaches ``target`` (None if it does not within ``max_updates``)."""
    rc = cfg["eval"]["recovery"]
    seeds = eval_seeds(cfg["eval"], rc["episodes"])
    clone = build_policy(policy.spec()).to(device)
    clone.load_state_dict(policy.state_dict())
    learner = make_learner(cfg["learner"], clone, [], device)
    data = stage_data(cfg, clone, skill, task, demo)
    done = 0
    while done < rc["max_updates"]:
        learner.train_task(task, data, rc["check_every"], stage_seed(cfg["seed"], 30_000 + task, done))
        done += rc["check_every"]
        if evaluator.success_rates(clone, [skill], [task], seeds)[0] >= target:
            return done
    return None
