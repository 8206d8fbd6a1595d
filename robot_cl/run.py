"""The main job: learn a curriculum of skills one after another and measure it.

``train(cfg, run_dir)`` reads top to bottom:

1. check the config (one-line errors before any expensive work) and find a checkpoint to resume;
2. demonstrations for every skill (cached on disk, generated in parallel when missing);
3. single-skill reference runs (cached) for Continual World's forward transfer and recovery ratios;
4. for every stage: add the skill's module, train on its demonstrations (evaluating the skill at a
   few points on the way: its learning curve), evaluate *every* skill of the curriculum, and
   checkpoint atomically (model, optimiser, strategy state, results so far);
5. after the curriculum: recovery (updates needed to get back to 90 % of each skill's best),
   videos of the learned policy, metrics.json, matrix.csv and plots.

The same seed on the same machine gives the same numbers: every random draw derives from
``seed`` and the stage index, so a resumed run continues exactly like an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robot_cl import cache, checkpoint, demos, metrics, resources, tasks
from robot_cl.config import config_hash
from robot_cl.errors import ConfigError, choices
from robot_cl.evaluation import Evaluator, record
from robot_cl.learners import LEARNERS, make_learner
from robot_cl.logger import RunLogger
from robot_cl.paths import VIDEOS_DIR, resolve
from robot_cl.policies import POLICIES, build_policy, count_params
from robot_cl.report import figures
from robot_cl.report.html import write_run_report
from robot_cl.strategies import STRATEGIES, make_plugins

METRICS_VERSION = 1
REFERENCE_VERSION = 1  # bump when training or evaluation changes, so cached reference runs are redone


# -- configuration checks ---------------------------------------------------------------------------
def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def import_extensions(modules: list[str]) -> None:
    """Import user modules that register strategies, policies or learners (``imports=[...]``)."""
    for name in modules or []:
        try:
            importlib.import_module(name)
        except Exception as e:
            raise ConfigError(
                f"cannot import {name!r} listed in imports: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            ) from None


def validate(cfg: dict) -> None:
    """One-line errors for unknown names and values of the wrong type, before any work starts."""
    _expect(isinstance(cfg.get("imports", []), list), f"imports must be a list of module names, got {cfg.get('imports')!r}")
    import_extensions(cfg.get("imports", []))
    _expect(cfg["mode"] in ("train", "reference"), f"unknown mode {cfg['mode']!r}; valid: reference, train")
    _expect(_is_int(cfg["seed"]), f"seed must be an integer, got {cfg['seed']!r}")
    _expect(
        cfg["workers"] == "auto" or (_is_int(cfg["workers"]) and cfg["workers"] > 0),
        f"workers must be auto or a positive integer, got {cfg['workers']!r}",
    )
    _expect(_is_int(cfg["threads"]) and cfg["threads"] > 0, f"threads must be a positive integer, got {cfg['threads']!r}")
    _expect(
        cfg["resume_from"] is None or _is_int(cfg["resume_from"]),
        f"resume_from must be a stage index, got {cfg['resume_from']!r}",
    )
    dev = str(cfg["device"])
    _expect(dev in ("auto", "cpu", "cuda") or dev.startswith("cuda:"), f"unknown device {dev!r}; valid: auto, cpu, cuda, cuda:N")
    cur = cfg["curriculum"]
    skills = cur["skills"]
    _expect(isinstance(skills, list) and len(skills) > 0, f"curriculum.skills must be a non-empty list, got {skills!r}")
    _expect(len(set(map(str, skills))) == len(skills), f"curriculum.skills lists a skill twice: {skills}")
    for key in ("demos", "demo_seed"):
        _expect(
            _is_int(cur[key]) and cur[key] >= (1 if key == "demos" else 0),
            f"curriculum.{key} must be a positive integer, got {cur[key]!r}",
        )
    for s in cur.get("skill_config") or {}:
        _expect(s in skills, f"curriculum.skill_config names {s!r}, which is not in curriculum.skills: {', '.join(skills)}")
    _expect(cfg["policy"].get("name") in POLICIES, f"unknown policy {cfg['policy'].get('name')!r}; valid: {choices(POLICIES)}")
    tasks.validate_curriculum(cur, cfg["policy"]["name"])  # unknown skills, external tasks' env ids, experts, success keys
    _expect(cfg["learner"].get("name") in LEARNERS, f"unknown learner {cfg['learner'].get('name')!r}; valid: {choices(LEARNERS)}")
    plugins = cfg["strategy"].get("plugins") or {}
    _expect(isinstance(plugins, dict), f"strategy.plugins must be a mapping of strategy names to settings, got {plugins!r}")
    for name in plugins:
        _expect(name in STRATEGIES, f"unknown strategy {name!r}; valid: {choices(STRATEGIES)}")
    learner = cfg["learner"]
    learner_cls = LEARNERS[learner["name"]]
    if hasattr(learner_cls, "policy_config"):
        learner_cls.policy_config(cfg["policy"], learner)  # a learner may refuse a policy (one-line error)
    for key in (learner_cls.budget_key, "batch_size"):
        _expect(_is_int(learner[key]) and learner[key] > 0, f"learner.{key} must be a positive integer, got {learner[key]!r}")
    _expect(
        isinstance(learner["lr"], (int, float)) and learner["lr"] > 0,
        f"learner.lr must be a positive number, got {learner['lr']!r}",
    )
    if "n_envs" in learner:  # RL learners: collection settings
        n = learner["n_envs"]
        _expect(_is_int(n) and n > 0, f"learner.n_envs must be a positive integer, got {n!r}")
        w = learner.get("workers")
        _expect(w is None or (_is_int(w) and w > 0), f"learner.workers must be null (one per env) or a positive integer, got {w!r}")
    ev = cfg["eval"]
    for key in ("episodes", "curve_episodes", "seed_start"):
        _expect(_is_int(ev[key]) and ev[key] > 0, f"eval.{key} must be a positive integer, got {ev[key]!r}")
    _expect(_is_int(ev["curve_points"]) and ev["curve_points"] >= 1, f"eval.curve_points must be >= 1, got {ev['curve_points']!r}")
    _expect(ev["seed_start"] >= cur["demo_seed"] + cur["demos"], "eval.seed_start must be above the demonstration seeds")
    _expect(isinstance(ev["unseen"], bool), f"eval.unseen must be true or false, got {ev['unseen']!r}")
    rec = ev["recovery"]
    for key in ("check_every", "max_updates", "episodes"):
        _expect(_is_int(rec[key]) and rec[key] > 0, f"eval.recovery.{key} must be a positive integer, got {rec[key]!r}")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available; valid here: auto, cpu")
    return torch.device(name)


def stage_seed(seed: int, *parts: int) -> int:
    """Deterministic seed for one piece of work (stage, recovery of a skill, ...)."""
    return int(hashlib.sha1(json.dumps([seed, *parts]).encode()).hexdigest()[:8], 16)


class Timer:
    """Wall-clock seconds per phase."""

    def __init__(self, initial: dict[str, float] | None = None) -> None:
        self.seconds: dict[str, float] = dict(initial or {})

    @contextmanager
    def __call__(self, phase: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - t0


# -- pieces of the run --------------------------------------------------------------------------------
def new_policy(cfg: dict, n_tasks: int, device: torch.device, seed: int, first_task: int = 0):
    """A freshly initialised policy with the module of ``first_task`` in place."""
    torch.manual_seed(seed)
    policy_cfg = LEARNERS[cfg["learner"]["name"]].policy_config(cfg["policy"], cfg["learner"])
    spec = {"cfg": policy_cfg, **io_spec(cfg), "n_tasks": n_tasks, "tasks_added": 0}
    policy = build_policy(spec).to(device)
    policy.add_task(first_task)
    return policy


def io_spec(cfg: dict) -> dict[str, Any]:
    """Observation and action sizes and input normalisation of the curriculum's tasks."""
    return tasks.io_spec(list(cfg["curriculum"]["skills"]), tasks.task_configs(cfg["curriculum"]))


def stage_budget(cfg: dict) -> int:
    """A stage's budget in the learner's unit (BC: gradient updates; RL: environment steps)."""
    return int(cfg["learner"][LEARNERS[cfg["learner"]["name"]].budget_key])


def stage_data(cfg: dict, policy, skill: str, task: int, demo):
    """What the learner trains on for one skill: its demonstrations as tensors, or (RL) its environment."""
    if LEARNERS[cfg["learner"]["name"]].needs_demos:
        return policy.dataset(demo, task)
    from robot_cl.rl.agent import RLTask

    return RLTask(skill, partial(tasks.make_env, skill, cfg["sim"], tasks.task_configs(cfg["curriculum"])[skill]))


def curve_schedule(updates: int, points: int) -> list[int]:
    """Update counts at which the current skill is evaluated during its stage (the last is the stage end)."""
    return sorted({max(1, round(updates * c / points)) for c in range(1, points + 1)})


def reference_key(cfg: dict, skill: str, task: int, n_tasks: int) -> str:
    blob = {
        "version": REFERENCE_VERSION,
        "skill": skill,
        "task": task,
        "n_tasks": n_tasks,
        "policy": cfg["policy"],
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
    """Train a fresh policy on one skill alone and record its learning curve (Continual World's reference)."""
    policy = new_policy(cfg, n_tasks, device, stage_seed(cfg["seed"], 10_000 + task), first_task=task)
    learner = make_learner(cfg["learner"], policy, [], device)
    ev = cfg["eval"]
    updates = stage_budget(cfg)
    schedule = curve_schedule(updates, ev["curve_points"])
    curve_seeds = list(range(ev["seed_start"], ev["seed_start"] + ev["curve_episodes"]))
    final_seeds = list(range(ev["seed_start"], ev["seed_start"] + ev["episodes"]))
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
            _write_json(paths[skill], reference_run(cfg, skill, task, len(skills), all_demos.get(skill), evaluator, device))

    how = cache.create_all(paths, create)
    if stats is not None:
        stats.update(how)
    return {skill: json.loads(path.read_text()) for skill, path in paths.items()}


def measure_recovery(cfg, policy, skills, all_demos, matrix, curves, refs, evaluator, device) -> dict[str, dict]:
    """Per skill: updates of plain behaviour cloning on that skill alone (from the final model) until it is
    back to ``threshold`` of its best success, and the ratio to the updates a from-scratch run needed."""
    rc = cfg["eval"]["recovery"]
    seeds = list(range(cfg["eval"]["seed_start"], cfg["eval"]["seed_start"] + rc["episodes"]))
    out = {}
    for task, skill in enumerate(skills):
        best = float(np.nanmax([*curves[task], *(row[task] for row in matrix)]))  # NaN: cells not evaluated
        final = matrix[-1][task]
        entry: dict[str, Any] = {"best": best, "final": final, "updates": None, "scratch_updates": None, "ratio": None}
        ref = refs.get(skill)
        if ref is not None and max(ref["curve"]) > 0:
            entry["scratch_updates"] = metrics.updates_to_reach(ref["curve"], ref["curve_updates"], rc["threshold"] * max(ref["curve"]))
        if best <= 0:
            out[skill] = entry  # never learned: nothing to recover
            continue
        target = rc["threshold"] * best
        if final >= target:
            entry["updates"] = 0
        else:
            clone = build_policy(policy.spec()).to(device)
            clone.load_state_dict(policy.state_dict())
            learner = make_learner(cfg["learner"], clone, [], device)
            data = stage_data(cfg, clone, skill, task, all_demos.get(skill))
            done = 0
            while done < rc["max_updates"]:
                learner.train_task(task, data, rc["check_every"], stage_seed(cfg["seed"], 30_000 + task, done))
                done += rc["check_every"]
                if evaluator.success_rates(clone, [skill], [task], seeds)[0] >= target:
                    entry["updates"] = done
                    break
        if entry["updates"] is not None and entry["scratch_updates"]:
            entry["ratio"] = entry["updates"] / entry["scratch_updates"]
        out[skill] = entry
    return out


def compute_metrics(tasks, init, matrix, curves, curve_updates, refs, recovery, params, memory, wall) -> dict[str, Any]:
    R = np.asarray(matrix)
    out: dict[str, Any] = {
        "version": METRICS_VERSION,
        "tasks": tasks,
        "success_matrix": matrix,
        "init_success": init,
        "avg_success": metrics.average_success(R),
        "forgetting": metrics.forgetting(R),
        "forgetting_per_task": metrics.forgetting_per_task(R).tolist(),
        "bwt": metrics.backward_transfer(R),
        "fwt": metrics.forward_transfer(R, init) if init is not None else None,
        "fwt_auc": None,
        "learning_curves": curves,
        "curve_updates": curve_updates,
    }
    if refs and all(t in refs for t in tasks):
        ref_curves = [refs[t]["curve"] for t in tasks]
        out["fwt_auc"] = metrics.cw_forward_transfer(curves, ref_curves)
        out["fwt_auc_per_task"] = metrics.cw_forward_transfer_per_task(curves, ref_curves).tolist()
        out["reference_success"] = [refs[t]["final"] for t in tasks]
        out["reference_curves"] = ref_curves
    out.update(metrics.libero_metrics(R, curves))
    out["recovery"] = recovery
    out["params"] = params
    out["memory_bytes"] = memory
    out["wall_clock_s"] = {k: round(v, 2) for k, v in wall.items()}
    return out


def video_dir(configured: str | None, run_dir: Path) -> Path:
    """Where a run's videos go: ``eval.video.dir`` if set; else ``videos/<run folder>`` for a single run
    and ``<run dir>/videos`` for a job of a sweep (its folder name need not be unique across sweeps)."""
    if configured:
        return resolve(configured)
    return Path(run_dir) / "videos" if resources.launcher_config() is not None else VIDEOS_DIR / Path(run_dir).name


def finished_metrics(run_dir: Path, chash: str) -> dict[str, Any] | None:
    """The metrics of the finished run of config hash ``chash`` in ``run_dir``, if it holds one."""
    path = Path(run_dir) / "metrics.json"
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(m, dict) and m.get("version") == METRICS_VERSION and m.get("run", {}).get("config_hash") == chash
    return m if ok else None


# -- the run ----------------------------------------------------------------------------------------
def train(cfg: dict, run_dir: Path, say=print) -> dict[str, Any]:
    """Run the curriculum described by ``cfg`` (a plain dict, as composed by Hydra) in ``run_dir``.

    A run dir that already holds the finished run of this config returns its metrics without
    redoing anything (so an interrupted sweep continues where it stopped); ``say`` prints progress.
    """
    cfg = {**cfg, "workers": resources.resolve_workers(cfg["workers"])}
    validate(cfg)
    device = resolve_device(str(cfg["device"]))
    torch.set_num_threads(max(1, cfg["threads"]))
    torch.use_deterministic_algorithms(True, warn_only=True)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = run_dir / "checkpoints"
    chash = config_hash(cfg)
    cur, ev = cfg["curriculum"], cfg["eval"]
    skills: list[str] = list(cur["skills"])
    T = len(skills)
    skill_cfgs = {k: v for k, v in tasks.task_configs(cur).items() if v is not None}  # skill overrides or external task specs
    cache_dir = resolve(cfg["cache_dir"])

    # 1. resume? (checked before any expensive work)
    state = None
    if checkpoint.available(ckpt_dir):
        if not cfg["resume"]:
            raise ConfigError(f"{run_dir} already holds checkpoints of a run; resume=true continues it, or choose a new hydra.run.dir")
        if cfg["resume_from"] is None and (done := finished_metrics(run_dir, chash)) is not None:
            say(f"{run_dir} holds the finished run of this configuration (avg_success {done['avg_success']:.3f}); nothing to do")
            return done
        state = checkpoint.load(ckpt_dir, cfg["resume_from"])
        if state["config_hash"] != chash:
            raise ConfigError(
                f"{run_dir} holds a run with a different configuration; resume it with the same overrides, or choose a new hydra.run.dir"
            )
    timer = Timer(state["wall_clock_s"] if state else None)
    log = RunLogger(run_dir)
    (run_dir / "config.json").write_text(json.dumps(cfg, indent=1, default=str))

    # 2. demonstrations (an RL learner collects its own experience instead)
    all_demos = {}
    cache_stats: dict[str, dict[str, str]] = {"demos": {}, "references": {}}  # hit / created / waited per entry
    if LEARNERS[cfg["learner"]["name"]].needs_demos:
        with timer("demos"):
            all_demos = demos.load_or_generate(
                skills,
                range(cur["demo_seed"], cur["demo_seed"] + cur["demos"]),
                cache_dir,
                cfg["sim"],
                skill_cfgs,
                workers=cfg["workers"],
                stats=cache_stats["demos"],
            )
        say(f"demonstrations: {', '.join(f'{s} {d.episodes}/{d.attempted}' for s, d in all_demos.items())}")

    with Evaluator(cfg["workers"], cfg["sim"], skill_cfgs, cfg.get("imports")) as evaluator:
        # 3. references (single-skill from scratch)
        refs: dict[str, dict] = {}
        if ev["references"] or cfg["mode"] == "reference":
            with timer("references"):
                refs = load_or_run_references(
                    cfg, skills, all_demos, evaluator, device, cache_dir, log=say, stats=cache_stats["references"]
                )
        if cfg["mode"] == "reference":
            for s in skills:
                say(f"reference {s:<26} final success {refs[s]['final']:.2f}  curve {[round(c, 2) for c in refs[s]['curve']]}")
            log.close()
            return {"references": refs}

        # 4. the curriculum
        policy = new_policy(cfg, T, device, stage_seed(cfg["seed"], 0))
        plugins = make_plugins(cfg["strategy"]["plugins"])
        learner = make_learner(cfg["learner"], policy, plugins, device)
        eval_seeds = list(range(ev["seed_start"], ev["seed_start"] + ev["episodes"]))
        curve_seeds = list(range(ev["seed_start"], ev["seed_start"] + ev["curve_episodes"]))
        results: dict[str, Any] = {
            "init": None,
            "matrix": [],
            "curves": [],
            "curve_updates": [],
            "params": [],
            "memory_bytes": [],
        }
        start = 0
        if state is not None:
            policy = build_policy(state["policy_spec"]).to(device)
            policy.load_state_dict(state["policy"])
            learner = make_learner(cfg["learner"], policy, plugins, device)
            learner.load_state_dict(state["learner"])
            for p, s in zip(plugins, state["plugins"]):
                p.load_state_dict(s)
            results = state["results"]
            start = state["stage"] + 1
            say(f"resuming {run_dir} after stage {state['stage']} ({skills[state['stage']]})")
        elif ev["init_row"]:
            with timer("evaluation"):
                results["init"] = evaluator.success_rates(policy, skills, list(range(T)), eval_seeds)

        updates = stage_budget(cfg)
        schedule = curve_schedule(updates, ev["curve_points"])
        for stage in range(start, T):
            skill = skills[stage]
            torch.manual_seed(stage_seed(cfg["seed"], 100 + stage))  # the new module's initialisation, same after a resume
            policy.add_task(stage)
            data = stage_data(cfg, policy, skill, stage, all_demos.get(skill))
            before = results["matrix"][-1][stage] if results["matrix"] else (results["init"] or [0.0] * T)[stage]
            curve = [before]
            bar = _progress(cfg["progress"], updates, f"stage {stage} {skill}")
            t_train = time.perf_counter()

            def on_update(u, info, stage=stage, skill=skill, bar=bar, t0=t_train):
                if bar is not None:
                    bar.update(1)
                if u % 100 == 0 or u == updates:
                    ups = u / max(time.perf_counter() - t0, 1e-9)
                    step = learner.total_updates
                    for k, v in info.items():
                        log.scalar("train", k, v, step, stage, skill)
                    log.scalar("train", "updates_per_s", ups, step, stage, skill)
                    if bar is not None:
                        bar.set_postfix(loss=f"{info['loss']:.4f}", ups=f"{ups:.0f}")

            def at_checkpoint(u, stage=stage, skill=skill, curve=curve):
                if u == schedule[-1]:
                    return  # the stage-end point is the full evaluation below
                with timer("evaluation"):
                    curve.append(evaluator.success_rates(policy, [skill], [stage], curve_seeds)[0])
                log.scalar("curve", "success", curve[-1], learner.total_updates, stage, skill)

            with timer("training"):
                learner.train_task(
                    stage,
                    data,
                    updates,
                    stage_seed(cfg["seed"], 1 + stage),
                    on_update=on_update,
                    checkpoints={u: at_checkpoint for u in schedule},
                )
            if bar is not None:
                bar.close()
            with timer("evaluation"):
                t_eval = time.perf_counter()
                # eval.unseen=false: only the tasks trained so far and the next one (all the metrics use)
                k = T if ev["unseen"] else min(stage + 2, T)
                row = evaluator.success_rates(policy, skills[:k], list(range(k)), eval_seeds) + [float("nan")] * (T - k)
                eval_seconds = time.perf_counter() - t_eval
            curve.append(row[stage])
            results["matrix"].append(row)
            results["curves"].append(curve)
            results["curve_updates"].append([0, *schedule])
            results["params"].append(count_params(policy))
            results["memory_bytes"].append(sum(p.memory_bytes() for p in plugins))
            for j, s in enumerate(skills[:k]):
                log.scalar("eval", "success", row[j], stage, stage, s)
            log.scalar("eval", "episodes_per_s", k * len(eval_seeds) / max(eval_seconds, 1e-9), stage, stage)
            log.scalar("eval", "env_steps_per_s", evaluator.env_steps / max(evaluator.seconds, 1e-9), stage, stage)
            log.flush()
            say(f"stage {stage} {skill:<26} " + " ".join(f"{v:.2f}" for v in row[:k]))
            checkpoint.save(
                ckpt_dir,
                stage,
                {
                    "stage": stage,
                    "config_hash": chash,
                    "policy_spec": _plain(policy.spec()),
                    "policy": policy.state_dict(),
                    "learner": learner.state_dict(),
                    "plugins": [p.state_dict() for p in plugins],
                    "results": results,
                    "wall_clock_s": dict(timer.seconds),
                },
            )

        # 5. after the curriculum
        recovery = {}
        if ev["recovery"]["enabled"]:
            with timer("recovery"):
                recovery = measure_recovery(cfg, policy, skills, all_demos, results["matrix"], results["curves"], refs, evaluator, device)

    videos = {}
    if ev["video"]["enabled"]:
        with timer("rendering"):
            vdir = video_dir(ev["video"]["dir"], run_dir)
            for task, skill in enumerate(skills):
                out = record(
                    policy,
                    skill,
                    task,
                    ev["seed_start"],
                    vdir / f"{skill}.mp4",
                    cfg["sim"],
                    skill_cfgs.get(skill),
                    ev["video"]["width"],
                    ev["video"]["height"],
                    ev["video"]["every"],
                )
                videos[skill] = out["path"]
    m = compute_metrics(
        skills,
        results["init"],
        results["matrix"],
        results["curves"],
        results["curve_updates"],
        refs,
        recovery,
        results["params"],
        results["memory_bytes"],
        timer.seconds,
    )
    m["videos"] = videos
    m["cache"] = cache_stats
    m["demonstrations"] = {s: {"kept": d.episodes, "attempted": d.attempted} for s, d in all_demos.items()}  # expert success rates
    m["run"] = {
        "run_dir": str(run_dir),
        "config_hash": chash,
        "device": str(device),
        "strategy": list(cfg["strategy"]["plugins"]),
        "policy": cfg["policy"]["name"],
        "learner": cfg["learner"]["name"],
        "seed": cfg["seed"],
        "updates_per_stage": updates,
        "eval_episodes": ev["episodes"],
    }
    _write_json(run_dir / "metrics.json", m)
    figures.write_matrix_csv(run_dir / "matrix.csv", skills, results["matrix"])
    title = f"{cur['name']} | {cfg['policy']['name']} | {'+'.join(cfg['strategy']['plugins']) or 'finetune'} | seed {cfg['seed']}"
    (run_dir / "matrix.png").write_bytes(figures.matrix_png(skills, results["matrix"], title))
    (run_dir / "success_over_stages.png").write_bytes(figures.stages_png(skills, results["matrix"], title, init=results["init"]))
    write_run_report(run_dir)
    log.close()
    say(figures.summary_table(skills, results["matrix"], m))
    say("wall-clock (s): " + ", ".join(f"{k} {v:.0f}" for k, v in m["wall_clock_s"].items()))
    files = "report.html, metrics.json, matrix.csv, matrix.png, success_over_stages.png, log.csv, tensorboard/, checkpoints/"
    say(f"outputs: {run_dir} ({files})")
    if videos:
        say(f"videos: {video_dir(ev['video']['dir'], run_dir)}")
    return m


def _progress(enabled: bool, total: int, desc: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, leave=False, mininterval=1.0, dynamic_ncols=True, disable=None)  # None: off when not a terminal


def _plain(obj):
    """Plain Python containers only (for weights_only checkpoints)."""
    return json.loads(json.dumps(obj, default=str))


def _write_json(path: Path, obj) -> None:
    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        if isinstance(o, np.generic):
            return o.item()
        return o

    data = json.dumps(clean(obj), indent=1).encode()
    cache.atomic_write(path, lambda f: f.write(data))


__all__ = ["compute_metrics", "config_hash", "train", "validate"]
