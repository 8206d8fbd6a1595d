"""Hierarchical vs flat RL on single household skills under the same CPU-time budget.

    python benchmarks/rl_skills.py          # SAC; press_button, open_drawer, pick_place_cube_in_bowl; 20 CPU-min each
    python benchmarks/rl_skills.py --skills press_button --policies hierarchical --minutes 5
    python benchmarks/rl_skills.py --table                           # only tabulate the finished runs (markdown)

Each (skill, policy) pair trains one fresh agent (``learner=sac`` by default, any ``--override``
accepted) on that skill alone, seed 0, in this process with one torch thread (environments too:
``learner.asynchronous=false``), for ``--minutes``
of *training* CPU time (``time.process_time``: robust to other jobs on a shared machine;
evaluation is not counted). Every ``--eval-every`` CPU-seconds the deterministic policy is
evaluated on ``--episodes`` fixed held-out seeds. Results (the success curve against CPU-minutes
and environment steps, the best and final success) go to ``outputs/rl_skills/<learner>-<skill>-<policy>[-<tag>].json``;
pairs already there are skipped (``--rerun`` forces them). The trained agent is saved beside it
(``.pt``, and ``.best.pt`` at its best evaluation) for replays.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "outputs" / "rl_skills"


class Budget(Exception):
    """Raised from the learner's callback when the CPU budget is spent."""


def run_pair(
    skill: str, policy_name: str, minutes: float, eval_every: float, episodes: int, overrides: list[str], save: Path | None = None
) -> dict:
    """Train one fresh agent under the CPU budget; ``save``: where the agent goes (``.pt``: at the end;
    ``.best.pt``: at its best evaluation so far), for replaying what it learned."""
    import numpy as np
    import torch

    from robot_cl import tasks
    from robot_cl.cli import check_overrides
    from robot_cl.evaluation import rollout
    from robot_cl.learners import make_learner
    from robot_cl.stages import new_policy, stage_data, stage_seed

    torch.set_num_threads(1)
    # Environments in this process (learner.asynchronous=false): process_time then counts all the CPU the run uses.
    base = ["learner=sac", f"policy={policy_name}", "curriculum=mini", f"curriculum.skills=[{skill}]"]
    cfg = check_overrides([*base, *overrides, "learner.asynchronous=false"])
    device = torch.device("cpu")
    policy = new_policy(cfg, 1, device, stage_seed(cfg["seed"], 10_000))
    learner = make_learner(cfg["learner"], policy, [], device)
    env = tasks.make_env(skill, cfg["sim"], tasks.task_configs(cfg["curriculum"])[skill])
    seeds = list(range(cfg["eval"]["seed_start"], cfg["eval"]["seed_start"] + episodes))
    curve: list[dict] = []
    state = {"cpu": 0.0, "mark": time.process_time(), "next": eval_every, "info": {}}

    def evaluate(step: int) -> None:
        was = policy.training
        policy.eval()
        outs = [rollout(env, policy, 0, s, stop_on_success=True) for s in seeds]
        success = float(np.mean([o["success"] for o in outs]))
        policy.train(was)
        ret, train = state["info"].get("episode_return", float("nan")), state["info"].get("episode_success", float("nan"))
        point = {"cpu_minutes": state["cpu"] / 60, "steps": step, "success": success, "episode_return": ret, "train_success": train}
        point["eval_return"] = float(np.mean([o["return"] for o in outs]))
        point["alpha"] = state["info"].get("alpha", float("nan"))
        if "alpha_discrete" in state["info"]:  # learner.categorical: the primitive choice's own coefficient
            point["alpha_discrete"] = state["info"]["alpha_discrete"]
        calls = outs[0].get("calls")  # the deterministic policy's primitive calls in the first evaluation episode
        if calls is not None:
            point["calls"] = calls
        if save is not None and success > max((c["success"] for c in curve), default=-1.0):
            torch.save(policy.state_dict(), save.with_suffix(".best.pt"))
        curve.append(point)
        alpha_d = f"/{point['alpha_discrete']:.3g}" if "alpha_discrete" in point else ""
        print(
            f"  {skill} {policy_name}: {state['cpu'] / 60:5.1f} CPU-min  {step:7d} steps  success {success:.2f}"
            f" return {point['eval_return']:.1f} alpha {point['alpha']:.3g}{alpha_d}"
            f"  (training episodes: success {train:.2f}, return {ret:.1f})" + (f"  calls: {' '.join(calls)}" if calls is not None else ""),
            flush=True,
        )

    def on_update(step: int, info: dict) -> None:
        state["info"] = info
        now = time.process_time()
        state["cpu"] += now - state["mark"]
        if state["cpu"] >= state["next"] or state["cpu"] >= minutes * 60:
            state["next"] += eval_every
            evaluate(step)
        state["mark"] = time.process_time()  # evaluation time is not training time
        if state["cpu"] >= minutes * 60:
            raise Budget

    t0 = time.perf_counter()
    evaluate(0)
    with contextlib.suppress(Budget):
        learner.train_task(0, stage_data(cfg, policy, skill, 0, None), 10**9, stage_seed(cfg["seed"], 20_000), on_update=on_update)
    env.close()
    if save is not None:
        torch.save(policy.state_dict(), save.with_suffix(".pt"))
    return {
        "skill": skill,
        "policy": policy_name,
        "learner": cfg["learner"]["name"],
        "seed": cfg["seed"],
        "overrides": overrides,
        "learner_config": cfg["learner"],
        "cpu_minutes": state["cpu"] / 60,
        "wall_minutes": (time.perf_counter() - t0) / 60,
        "env_steps": learner.env_steps,
        "updates": learner.total_updates,
        "episodes": episodes,
        "curve": curve,
        "final": curve[-1]["success"],
        "best": max(c["success"] for c in curve),
    }


def table(rows: list[dict]) -> str:
    skills = sorted({r["skill"] for r in rows}, key=lambda s: [r["skill"] for r in rows].index(s))
    out = [
        "| learner | skill | policy | overrides | final success | best success | CPU-min | env steps | updates | first CPU-min at >= 0.8 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for skill in skills:
        for r in sorted((r for r in rows if r["skill"] == skill), key=lambda r: (r["learner"], r["policy"] != "hierarchical")):
            first = next((c["cpu_minutes"] for c in r["curve"] if c["success"] >= 0.8), None)
            out.append(
                f"| {r['learner']} | {skill} | {r['policy']} | {' '.join(r['overrides']) or '-'} |"
                f" {r['final']:.2f} | {r['best']:.2f} | {r['cpu_minutes']:.1f} | "
                f"{r['env_steps']} | {r['updates']} | {'-' if first is None else f'{first:.1f}'} |"
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skills", nargs="+", default=["press_button", "open_drawer", "pick_place_cube_in_bowl"])
    ap.add_argument("--policies", nargs="+", default=["hierarchical", "flat"], choices=["hierarchical", "flat"])
    ap.add_argument("--minutes", type=float, default=20.0, help="training CPU-minutes per (skill, policy)")
    ap.add_argument("--eval-every", type=float, default=120.0, help="CPU-seconds of training between evaluations")
    ap.add_argument("--episodes", type=int, default=20, help="evaluation episodes (fixed held-out seeds)")
    ap.add_argument("--override", nargs="*", default=[], help="config overrides, e.g. learner=ppo learner.lr=1e-4")
    ap.add_argument("--tag", default="", help="names a variant (its own result files), e.g. --tag depth01 with overrides")
    ap.add_argument("--rerun", action="store_true")
    ap.add_argument("--table", action="store_true", help="only tabulate finished runs")
    args = ap.parse_args(argv)

    from robot_cl.cli import check_overrides
    from robot_cl.errors import RobotCLError

    try:  # bad skills or overrides fail here, in one line, before any training
        check_overrides(["learner=sac", "curriculum=mini", f"curriculum.skills=[{','.join(args.skills)}]", *args.override])
    except RobotCLError as e:
        print(f"rl_skills: {e}", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    learner = next((o.split("=", 1)[1] for o in args.override if o.startswith("learner=")), "sac")
    if not args.table:
        for skill in args.skills:
            for pol in args.policies:
                path = OUT / f"{learner}-{skill}-{pol}{'-' + args.tag if args.tag else ''}.json"
                if path.exists() and not args.rerun:
                    print(f"{path.name}: done, skipped")
                    continue
                print(f"{skill} / {pol} / {learner}: {args.minutes} CPU-minutes", flush=True)
                try:
                    result = run_pair(skill, pol, args.minutes, args.eval_every, args.episodes, args.override, path.with_suffix(".pt"))
                except RobotCLError as e:
                    print(f"rl_skills: {e}", file=sys.stderr)
                    return 2
                path.write_text(json.dumps(result, indent=1))
    rows = [json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))]
    rows = [r for r in rows if r["skill"] in args.skills]
    text = table(rows)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
