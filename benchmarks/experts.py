"""Success rate of every skill's scripted expert over seeded episodes.

    python benchmarks/experts.py                 # all skills, 50 seeds each
    python benchmarks/experts.py --seeds 20 --skills open_drawer turn_knob
    python benchmarks/experts.py --curriculum cw10 --bar 0   # an external curriculum's experts (Meta-World's scripted policies)

Prints one row per skill: successes / episodes (success = the skill's predicate held at some
step, Continual World's convention), mean episode length in control steps, mean number of
primitive calls, and wall-clock seconds. Exits non-zero if any skill is under --bar.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np


def evaluate(skill: str, seeds: list[int]) -> dict:
    import robot_cl
    from robot_cl.sim.env import run_expert

    env = robot_cl.make(skill)
    t0 = time.perf_counter()
    ok, steps, calls, failed = 0, [], [], []
    for seed in seeds:
        trace = run_expert(env, seed)
        ok += trace.success
        steps.append(len(trace.actions))
        calls.append(len(trace.calls))
        if not trace.success:
            failed.append(seed)
    env.close()
    return {
        "skill": skill,
        "ok": ok,
        "n": len(seeds),
        "steps": float(np.mean(steps)),
        "max_steps": env.unwrapped.max_steps,
        "calls": float(np.mean(calls)),
        "seconds": time.perf_counter() - t0,
        "failed": failed,
    }


def evaluate_external(name: str, spec: dict, seeds: list[int]) -> dict:
    """The same figures for an external task's raw-action expert (no primitive calls)."""
    import warnings

    warnings.filterwarnings("ignore")
    from robot_cl import tasks
    from robot_cl.demos import record_raw_episode

    env = tasks.make_env(name, None, spec)
    expert = tasks.load_expert(spec["expert"])
    t0 = time.perf_counter()
    eps = [record_raw_episode(env, expert, seed) for seed in seeds]
    env.close()
    return {
        "skill": name,
        "ok": sum(e["success"] for e in eps),
        "n": len(seeds),
        "steps": float(np.mean([len(e["actions"]) for e in eps])),
        "max_steps": spec.get("max_steps"),
        "calls": 0.0,
        "seconds": time.perf_counter() - t0,
        "failed": [s for s, e in zip(seeds, eps) if not e["success"]],
    }


def main(argv: list[str] | None = None) -> int:
    import robot_cl

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=50, help="episodes per skill (seeds 0..N-1)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--skills", nargs="*", default=None, help="default: every registered skill")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--bar", type=float, default=0.95, help="minimum success rate")
    p.add_argument("--curriculum", default=None, help="evaluate this curriculum's tasks instead (e.g. cw10)")
    args = p.parse_args(argv)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    t0 = time.perf_counter()
    if args.curriculum:
        from robot_cl.cli import compose_overrides
        from robot_cl.tasks import task_configs

        specs = task_configs(compose_overrides([f"curriculum={args.curriculum}"])["curriculum"])
        names = args.skills or list(specs)
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            rows = list(pool.map(evaluate_external, names, [specs[n] for n in names], [seeds] * len(names)))
    else:
        skills = args.skills or robot_cl.list_skills()
        for s in skills:
            robot_cl.get_skill(s)  # fail fast with the list of valid names
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            rows = list(pool.map(evaluate, skills, [seeds] * len(skills)))
    print(f"{'skill':<26} {'success':>9} {'rate':>6} {'steps':>7} {'limit':>6} {'calls':>6} {'secs':>6}  failed seeds")
    below = []
    for r in rows:
        rate = r["ok"] / r["n"]
        if rate < args.bar:
            below.append(r["skill"])
        print(
            f"{r['skill']:<26} {r['ok']:>4}/{r['n']:<4} {rate:>6.2f} {r['steps']:>7.1f} {r['max_steps']:>6} {r['calls']:>6.1f} "
            f"{r['seconds']:>6.1f}  {r['failed'][:10]}"
        )
    total = sum(r["ok"] for r in rows) / sum(r["n"] for r in rows)
    print(f"{'all':<26} {'':>9} {total:>6.2f}   wall-clock {time.perf_counter() - t0:.1f} s with {args.workers} workers")
    if below:
        print(f"below the {args.bar:.2f} bar: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
