"""Runs from a finished run: ``mode=eval`` evaluates (and films) its policy under another simulator or
evaluation config — a dynamics shift, more episodes, other evaluation seeds — and ``mode=adapt``
measures how fast it adapts to each shift of ``eval.shifts`` (see :func:`adapt_finished`).

``robot-cl mode=eval from_run=outputs/<run> sim.shift.mass=3 eval.shifts=[slippery]``
loads the run's last checkpoint and its curriculum (skills and skill configs come from the run; the
simulator and evaluation settings from this command), evaluates every skill, then every named shift,
and writes ``evaluation.json`` (and videos with ``eval.video.enabled``) into its own folder,
``outputs/<run>-eval`` unless ``hydra.run.dir`` says otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from robot_cl import cache, checkpoint, demos, tasks
from robot_cl.errors import ConfigError
from robot_cl.evaluation import Evaluator, record, under_shifts
from robot_cl.learners import make_learner
from robot_cl.paths import resolve
from robot_cl.policies import build_policy
from robot_cl.sim import shift
from robot_cl.stages import eval_seeds, new_policy, resolve_device, stage_data, stage_seed
from robot_cl.strategies import make_plugins


def source(cfg: dict) -> tuple[Path, dict, dict]:
    """The finished run named by ``from_run``: its folder, config and last checkpoint (one-line errors)."""
    if cfg.get("from_run") in (None, ""):
        raise ConfigError("mode=eval needs from_run=<a finished run's folder> (one with config.json and checkpoints/)")
    src = resolve(cfg["from_run"])
    if not (src / "config.json").is_file():
        raise ConfigError(f"from_run={cfg['from_run']}: {src} is not a run folder (no config.json)")
    try:
        src_cfg = json.loads((src / "config.json").read_text())
    except ValueError as e:
        raise ConfigError(f"from_run={cfg['from_run']}: {src / 'config.json'} is not readable JSON ({e})") from None
    n = len(src_cfg["curriculum"]["skills"])
    stages = checkpoint.available(src / "checkpoints")
    if n - 1 not in stages:
        done = f"stages {', '.join(map(str, stages))} of {n}" if stages else "no stage"
        raise ConfigError(f"from_run={cfg['from_run']}: the run is not finished ({done} checkpointed); finish it first")
    return src, src_cfg, checkpoint.load(src / "checkpoints", n - 1)


def evaluate_finished(cfg: dict, run_dir: Path, say=print) -> dict[str, Any]:
    """Evaluate the finished run ``from_run`` under this config's ``sim`` and ``eval``; writes ``evaluation.json``."""
    src, src_cfg, state = source(cfg)
    device = resolve_device(str(cfg["device"]))
    policy = build_policy(state["policy_spec"]).to(device)
    policy.load_state_dict(state["policy"])
    policy.eval()
    skills = list(src_cfg["curriculum"]["skills"])
    skill_cfgs = {k: v for k, v in tasks.task_configs(src_cfg["curriculum"]).items() if v is not None}
    ev = cfg["eval"]
    with Evaluator(cfg["workers"], cfg["sim"], skill_cfgs, cfg.get("imports")) as evaluator:
        success, routing = evaluator.rates(policy, skills, list(range(len(skills))), eval_seeds(ev, ev["episodes"]))
        named = shift.named(cfg["sim"], ev["shifts"])
        shifted = under_shifts(evaluator, policy, skills, eval_seeds(ev, ev["shift_episodes"]), cfg["sim"], named)
    out: dict[str, Any] = {
        "mode": "eval",
        "from_run": str(src),
        "tasks": skills,
        "success": success,
        "avg_success": float(np.mean(success)),
        "trained_success": state["results"]["matrix"][-1],  # the run's own last row, for comparison
        "sim_shift": cfg["sim"]["shift"],
        "eval_episodes": ev["episodes"],
        "success_under_shift": shifted,
        "videos": _videos(cfg, policy, skills, skill_cfgs, run_dir),
    }
    if routing is not None:
        out["routing_accuracy"] = routing
    run_dir.mkdir(parents=True, exist_ok=True)
    cache.write_json(run_dir / "evaluation.json", out)
    say(f"{src.name} under sim.shift {cfg['sim']['shift']}:")
    for s, v, t in zip(skills, success, out["trained_success"]):
        say(f"  {s:<26} {v:.2f}  (after training: {t:.2f})")
    say(f"avg_success {out['avg_success']:.3f} (after training: {float(np.mean(out['trained_success'])):.3f})")
    for name, sh in shifted.items():
        say(f"under shift {name} {sh['shift']}: " + " ".join(f"{v:.2f}" for v in sh["success"]) + f"  (mean {sh['mean']:.2f})")
    say(f"outputs: {run_dir / 'evaluation.json'}")
    return out


def _videos(cfg: dict, policy, skills: list[str], skill_cfgs: dict, run_dir: Path) -> dict[str, str]:
    v = cfg["eval"]["video"]
    if not v["enabled"]:
        return {}
    vdir = run_dir / "videos"
    args = (cfg["eval"]["seed_start"], cfg["sim"])
    return {
        s: record(policy, s, t, args[0], vdir / f"{s}.mp4", args[1], skill_cfgs.get(s), v["width"], v["height"], v["every"])["path"]
        for t, s in enumerate(skills)
    }


# -- mode=adapt ------------------------------------------------------------------------------------------
def adapt_finished(cfg: dict, run_dir: Path, say=print) -> dict[str, Any]:
    """``mode=adapt``: for every named shift of ``eval.shifts`` and every skill of the finished run
    ``from_run``, fine-tune a copy of its policy on the skill's demonstrations recorded under the shift
    (with the run's strategies, their state restored) until it is back at ``eval.recovery.threshold`` of
    its unshifted success; next to it, a fresh policy learns the shifted skill from scratch. Reports the
    updates of both and their ratio (fast adaptation < 1), and what adapting cost the other skills
    (their unshifted success before minus after). Writes ``adaptation.json``."""
    src, src_cfg, state = source(cfg)
    if not cfg["eval"]["shifts"]:
        raise ConfigError("mode=adapt adapts to the shifts named in eval.shifts, and none is named; e.g. eval.shifts=[weak_servos]")
    device = resolve_device(str(cfg["device"]))
    run_cfg = {**src_cfg, "sim": cfg["sim"], "eval": cfg["eval"], "device": cfg["device"]}  # the run's learner and strategies
    skills = list(src_cfg["curriculum"]["skills"])
    skill_cfgs = {k: v for k, v in tasks.task_configs(src_cfg["curriculum"]).items() if v is not None}
    trained = state["results"]["matrix"][-1]
    seeds = range(src_cfg["curriculum"]["demo_seed"], src_cfg["curriculum"]["demo_seed"] + src_cfg["curriculum"]["demos"])
    out: dict[str, Any] = {"mode": "adapt", "from_run": str(src), "tasks": skills, "trained_success": trained, "shifts": {}}
    with Evaluator(cfg["workers"], cfg["sim"], skill_cfgs, cfg.get("imports")) as evaluator:
        for name, spec in shift.named(cfg["sim"], cfg["eval"]["shifts"]).items():
            sim = shift.shifted_sim(cfg["sim"], spec)
            shifted_demos = demos.load_or_generate(skills, seeds, resolve(cfg["cache_dir"]), sim, skill_cfgs, workers=cfg["workers"])
            per_skill = {}
            for task, skill in enumerate(skills):
                per_skill[skill] = _adapt_one(run_cfg, state, skills, task, trained, shifted_demos[skill], sim, evaluator, device)
                r = per_skill[skill]
                lost, ratio = ("n/a" if v is None else f"{v:.2f}" for v in (r["forgetting"], r["ratio"]))
                say(
                    f"{name} {skill:<26} under shift {r['shifted']:.2f} -> adapted in {r['updates']} updates "
                    f"(scratch {r['scratch_updates']}, ratio {ratio}); other skills lost {lost}"
                )
            out["shifts"][name] = {"shift": dict(spec), "skills": per_skill, **_summary(per_skill)}
    run_dir.mkdir(parents=True, exist_ok=True)
    cache.write_json(run_dir / "adaptation.json", out)
    say(f"outputs: {run_dir / 'adaptation.json'}")
    return out


def _summary(per_skill: dict[str, dict]) -> dict[str, float | None]:
    ratios = [r["ratio"] for r in per_skill.values() if r["ratio"] is not None]
    lost = [r["forgetting"] for r in per_skill.values() if r["forgetting"] is not None]
    return {"mean_ratio": float(np.mean(ratios)) if ratios else None, "mean_forgetting": float(np.mean(lost)) if lost else None}


def _adapt_one(run_cfg, state, skills, task, trained, demo, sim, evaluator, device) -> dict[str, Any]:
    """Adaptation of one skill to one shift, from the finished run and from scratch (see :func:`adapt_finished`)."""
    rc = run_cfg["eval"]["recovery"]
    seeds = eval_seeds(run_cfg["eval"], rc["episodes"])
    policy = build_policy(state["policy_spec"]).to(device)
    policy.load_state_dict(state["policy"])
    policy.eval()
    shifted = evaluator.rates(policy, [skills[task]], [task], seeds, sim_config=sim)[0][0]
    target = rc["threshold"] * trained[task]
    entry: dict[str, Any] = {"trained": trained[task], "shifted": shifted, "target": target}
    if trained[task] <= 0:  # never learnt: nothing to adapt
        return {**entry, "updates": None, "scratch_updates": None, "ratio": None, "forgetting": None}
    plugins = make_plugins(run_cfg["strategy"]["plugins"])
    for p, s in zip(plugins, state["plugins"]):
        p.load_state_dict(s)
    updates = 0 if shifted >= target else _train_until(run_cfg, policy, plugins, skills[task], task, demo, target, sim, evaluator)
    others = [j for j in range(len(skills)) if j != task]
    after = evaluator.rates(policy, [skills[j] for j in others], others, eval_seeds(run_cfg["eval"], rc["episodes"]))[0] if others else []
    fresh = new_policy(run_cfg, len(skills), device, stage_seed(run_cfg["seed"], 40_000 + task), first_task=task)
    scratch = _train_until(run_cfg, fresh, [], skills[task], task, demo, target, sim, evaluator)
    return {
        **entry,
        "updates": updates,
        "scratch_updates": scratch,
        "ratio": updates / scratch if updates is not None and scratch else None,
        "forgetting": float(np.mean([trained[j] - a for j, a in zip(others, after)])) if others else None,
    }


def _train_until(run_cfg, policy, plugins, skill, task, demo, target, sim, evaluator) -> int | None:
    """Train ``policy`` (in place) on one skill's data in blocks of ``eval.recovery.check_every`` updates,
    until its success under ``sim`` reaches ``target``; the updates it took (None: not within ``max_updates``)."""
    rc = run_cfg["eval"]["recovery"]
    seeds = eval_seeds(run_cfg["eval"], rc["episodes"])
    learner = make_learner(run_cfg["learner"], policy, plugins, policy.device)
    data = stage_data(run_cfg, policy, skill, task, demo)
    done = 0
    while done < rc["max_updates"]:
        learner.train_task(task, data, rc["check_every"], stage_seed(run_cfg["seed"], 50_000 + task, done))
        done += rc["check_every"]
        if evaluator.rates(policy, [skill], [task], seeds, sim_config=sim)[0][0] >= target:
            return done
    return None
