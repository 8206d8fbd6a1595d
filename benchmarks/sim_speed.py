"""Household env throughput against raw MuJoCo physics on the same model, measured in one run.

    python benchmarks/sim_speed.py                # every skill, best of 5 repeats
    python benchmarks/sim_speed.py --skills open_drawer --repeats 10

For each skill the scripted expert is run once to get a realistic action sequence (reaching,
grasping, contacts). Then, timed:

* env:  ``env.step`` over that action sequence from ``reset(seed)``;
* raw:  ``mj_step`` on the *same* model and initial state, replaying the exact actuator controls
        the env produced (``frame_skip`` physics steps per control step).

Both run the same physics, so the difference is the env's own work per step (Cartesian IK,
observation, reward, success). Reported: env steps/s, raw mj_step/s, raw mj_step/s divided by the
frame skip (the env's ceiling), and env / ceiling. Target: ratio >= 0.5.
"""

from __future__ import annotations

import argparse
import sys
import time

import mujoco
import numpy as np


def measure(skill: str, repeats: int, seed: int) -> dict:
    import robot_cl
    from robot_cl.tasks import run_expert

    env = robot_cl.make(skill)
    base = env.unwrapped
    actions = run_expert(env, seed).actions
    model, data, skip = base.backend.model, base.backend.data, base.backend.frame_skip
    env_time, raw_time, ctrls = np.inf, np.inf, []
    for _ in range(repeats):
        env.reset(seed=seed)
        ctrls = []
        t = time.perf_counter()
        for a in actions:
            env.step(a)
            ctrls.append(data.ctrl.copy())
        env_time = min(env_time, time.perf_counter() - t)

        env.reset(seed=seed)
        t = time.perf_counter()
        for c in ctrls:
            data.ctrl[:] = c
            mujoco.mj_step(model, data, nstep=skip)
        raw_time = min(raw_time, time.perf_counter() - t)
    env.close()
    n = len(actions)
    return {
        "skill": skill,
        "steps": n,
        "frame_skip": skip,
        "env_sps": n / env_time,
        "raw_mj_sps": n * skip / raw_time,
        "env_time": env_time,
        "raw_time": raw_time,
    }


def main(argv: list[str] | None = None) -> int:
    import robot_cl

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skills", nargs="*", default=None, help="default: every registered skill")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per skill; the fastest is kept")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    skills = args.skills or robot_cl.list_skills()

    rows = [measure(s, args.repeats, args.seed) for s in skills]
    print(f"{'skill':<26} {'steps':>6} {'env steps/s':>12} {'raw mj_step/s':>14} {'raw/frame_skip':>15} {'ratio':>6}")
    for r in rows:
        ceiling = r["raw_mj_sps"] / r["frame_skip"]
        ratio = r["env_sps"] / ceiling
        print(f"{r['skill']:<26} {r['steps']:>6} {r['env_sps']:>12.0f} {r['raw_mj_sps']:>14.0f} {ceiling:>15.0f} {ratio:>6.2f}")
    steps = sum(r["steps"] for r in rows)
    env_sps = steps / sum(r["env_time"] for r in rows)
    raw_ctl = steps / sum(r["raw_time"] for r in rows)
    skip = rows[0]["frame_skip"]
    print(f"{'all':<26} {steps:>6} {env_sps:>12.0f} {raw_ctl * skip:>14.0f} {raw_ctl:>15.0f} {env_sps / raw_ctl:>6.2f}")
    print(f"env keeps {100 * env_sps / raw_ctl:.0f}% of raw physics throughput (target >= 50%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
