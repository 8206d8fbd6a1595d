"""Which dynamics shifts hurt? A finished run's policy and the scripted experts under a sweep of
magnitudes per ``sim.shift`` key (robot_cl/sim/shift.py), on the same evaluation seeds.

    python benchmarks/shift_sweep.py outputs/household-hierarchical-bc-packnet-s0
    python benchmarks/shift_sweep.py RUN --episodes 20 --keys friction mass

Prints one row per (key, magnitude): the policy's mean success over the run's skills, the experts'
(their own closed-loop programs under the same shift), and the per-skill policy success; the first
row is the unshifted scene. The default ``eval.shifts`` names shifts this table shows to hurt.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

MAGNITUDES = {
    "friction": [0.5, 0.25, 0.1],
    "mass": [2.0, 5.0, 10.0],
    "size": [0.8, 1.2, 1.4],
    "gain": [0.5, 0.25, 0.1],
    "obs_noise": [0.005, 0.01, 0.02],
}


def expert_success(skills, skill_cfgs, sim: dict, seeds: list[int]) -> list[float]:
    from robot_cl import tasks
    from robot_cl.tasks import run_expert

    out = []
    for s in skills:
        env = tasks.make_env(s, sim, skill_cfgs.get(s))
        out.append(float(np.mean([run_expert(env, seed).success for seed in seeds])))
        env.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a finished run's folder")
    p.add_argument("--episodes", type=int, default=10, help="episodes per skill and shift")
    p.add_argument("--keys", nargs="*", default=list(MAGNITUDES), choices=list(MAGNITUDES))
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)

    from robot_cl import tasks
    from robot_cl.errors import ConfigError
    from robot_cl.evaluation import Evaluator, under_shifts
    from robot_cl.from_run import source
    from robot_cl.policies import build_policy
    from robot_cl.sim import shift

    try:
        src, cfg, state = source({"from_run": args.run})
    except ConfigError as e:
        print(f"shift_sweep: error: {e}", file=sys.stderr)
        return 2
    policy = build_policy(state["policy_spec"])
    policy.load_state_dict(state["policy"])
    policy.eval()
    skills = list(cfg["curriculum"]["skills"])
    skill_cfgs = {k: v for k, v in tasks.task_configs(cfg["curriculum"]).items() if v is not None}
    seeds = list(range(cfg["eval"]["seed_start"], cfg["eval"]["seed_start"] + args.episodes))
    shifts = {"none": {}, **{f"{k}={v}": {k: v} for k in args.keys for v in MAGNITUDES[k]}}
    with Evaluator(args.workers, cfg["sim"], skill_cfgs) as ev:
        res = under_shifts(ev, policy, skills, seeds, cfg["sim"], shifts)
    print(f"{src.name}: {args.episodes} episodes per skill; skills {', '.join(skills)}")
    print(f"{'shift':<18} {'policy':>6} {'expert':>6}   per skill (policy)")
    for name, r in res.items():
        sim = shift.shifted_sim(cfg["sim"], r["shift"])
        expert = float(np.mean(expert_success(skills, skill_cfgs, sim, seeds)))
        print(f"{name:<18} {r['mean']:6.2f} {expert:6.2f}   " + " ".join(f"{v:.2f}" for v in r["success"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
