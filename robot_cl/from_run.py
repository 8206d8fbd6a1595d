"""``mode=eval``: a finished run's policy, evaluated (and filmed) under another simulator or evaluation
config — a dynamics shift, more episodes, other evaluation seeds — without retraining or scripting.

``robot-cl mode=eval from_run=outputs/<run> sim.shift.mass=3 ++eval.shifts={slippery:{friction:0.3}}``
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

from robot_cl import cache, checkpoint, tasks
from robot_cl.errors import ConfigError
from robot_cl.evaluation import Evaluator, record, under_shifts
from robot_cl.paths import resolve
from robot_cl.policies import build_policy
from robot_cl.stages import eval_seeds, resolve_device


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
        shifted = under_shifts(evaluator, policy, skills, eval_seeds(ev, ev["shift_episodes"]), cfg["sim"], ev["shifts"])
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
