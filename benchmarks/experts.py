"""Success rate of every skill's scripted expert over seeded episodes.

    python benchmarks/experts.py                 # all skills, 50 seeds each
    python benchmarks/experts.py --seeds 20 --skills open_drawer turn_knob
    python benchmarks/experts.py --backend pybullet      # the same skills and experts on PyBullet
    python benchmarks/experts.py --curriculum cw10 --bar 0.9   # an external curriculum's primitive-program experts
    python benchmarks/experts.py --curriculum cw10 --raw --bar 0   # ... or its raw-action experts (Meta-World's scripted policies)

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


def evaluate(skill: str, spec: dict | None, seeds: list[int], raw: bool = False, backend: str = "mujoco") -> dict:
    """Run a task's expert on every seed: its primitive program, or (``raw``) an external task's raw-action expert."""
    import warnings

    warnings.filterwarnings("ignore")
    from robot_cl import tasks
    from robot_cl.demos import record_raw_episode
    from robot_cl.tasks import run_expert

    env = tasks.make_env(skill, {"backend": backend}, spec)
    expert = tasks.load_expert(spec["expert"]) if raw else None
    t0 = time.perf_counter()
    ok, steps, calls, failed = 0, [], [], []
    for seed in seeds:
        if raw:
            ep = record_raw_episode(env, expert, seed)
            success, n, c = ep["success"], len(ep["actions"]), 0
        else:
            trace = run_expert(env, seed)
            success, n, c = trace.success, len(trace.actions), len(trace.calls)
        ok += success
        steps.append(n)
        calls.append(c)
        if not success:
            failed.append(seed)
    env.close()
    limit = spec.get("max_steps") if tasks.is_external(spec) else env.unwrapped.max_steps
    return {
        "skill": skill,
        "ok": ok,
        "n": len(seeds),
        "steps": float(np.mean(steps)),
        "max_steps": limit,
        "calls": float(np.mean(calls)),
        "seconds": time.perf_counter() - t0,
        "failed": failed,
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
    p.add_argument("--backend", default="mujoco", help="household skills on this simulator backend (mujoco, pybullet)")
    p.add_argument("--raw", action="store_true", help="external tasks: run the raw-action `expert` instead of the primitive program")
    args = p.parse_args(argv)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    t0 = time.perf_counter()
    if args.curriculum:
        from robot_cl.cli import compose_overrides
        from robot_cl.tasks import task_configs

        specs = task_configs(compose_overrides([f"curriculum={args.curriculum}"])["curriculum"])
        names = args.skills or list(specs)
        if args.raw:
            missing = [n for n in names if not (specs[n] or {}).get("expert")]
        else:
            missing = [n for n in names if specs[n] is not None and not specs[n].get("primitive_expert")]
        if missing:
            print(f"error: no {'expert' if args.raw else 'primitive_expert'} for {', '.join(missing)}", file=sys.stderr)
            return 2
    else:
        names = args.skills or robot_cl.list_skills()
        for s in names:
            robot_cl.get_skill(s)  # fail fast with the list of valid names
        from robot_cl.sim import BACKENDS

        if args.backend not in BACKENDS:
            print(f"error: unknown backend {args.backend!r}; valid: {', '.join(BACKENDS)}", file=sys.stderr)
            return 2
        specs = {}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        n = len(names)
        rows = list(pool.map(evaluate, names, [specs.get(k) for k in names], [seeds] * n, [args.raw] * n, [args.backend] * n))
    print(f"{'skill':<26} {'success':>9} {'rate':>6} {'steps':>7} {'limit':>6} {'calls':>6} {'secs':>6}  failed seeds")
    below = []
    for r in rows:
        rate = r["ok"] / r["n"]
        if rate < args.bar:
            below.append(r["skill"])
        print(
            f"{r['skill']:<26} {r['ok']:>4}/{r['n']:<4} {rate:>6.2f} {r['steps']:>7.1f} {r['max_steps'] or '-'!s:>6} {r['calls']:>6.1f} "
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
