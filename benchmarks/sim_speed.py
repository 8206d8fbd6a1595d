"""Household env throughput against the raw physics engine on the same model, measured in one run.

    python benchmarks/sim_speed.py                       # MuJoCo: every skill, best of 5 repeats
    python benchmarks/sim_speed.py --skills open_drawer --repeats 10
    python benchmarks/sim_speed.py --backend pybullet    # PyBullet against its raw stepSimulation, and against the MuJoCo env

For each skill the MuJoCo scripted expert is run once to get a realistic action sequence (reaching,
grasping, contacts). Then, timed from ``reset(seed)``:

* env:  ``env.step`` over that action sequence (on ``--backend``);
* raw:  the engine alone on the *same* world and initial state, replaying the exact controls the env
        produced: ``mj_step`` with the actuator controls (``frame_skip`` physics steps per control step),
        or PyBullet's motor targets and one ``stepSimulation`` (``frame_skip`` sub-steps).

Both run the same physics, so the difference is the env's own work per step (Cartesian IK, observation,
reward, success). Reported: env steps/s, raw control steps/s (the env's ceiling) and env / ceiling
(target >= 0.5). With ``--backend pybullet`` the MuJoCo env runs the same actions too, and the
PyBullet / MuJoCo env ratio is printed (target: PyBullet within 2x, i.e. a ratio >= 0.5).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _timed(fn, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure(skill: str, repeats: int, seed: int, backend: str = "mujoco", actions=None) -> dict:
    """Env and raw-engine time over one action sequence (the MuJoCo expert's unless ``actions`` is given)."""
    import robot_cl
    from robot_cl.tasks import run_expert

    if actions is None:
        actions = run_expert(robot_cl.make(skill), seed).actions
    env = robot_cl.make(skill, sim_config={"backend": backend})
    base = env.unwrapped
    controls: list = []
    record, replay = (_mujoco_io if backend == "mujoco" else _pybullet_io)(base.backend, controls)

    def run_env():
        env.reset(seed=seed)
        controls.clear()
        for a in actions:
            env.step(a)
            record()

    env_time = _timed(run_env, repeats)

    def run_raw():
        env.reset(seed=seed)
        for c in controls:
            replay(c)

    raw_time = _timed(run_raw, repeats)
    env.close()
    return {"skill": skill, "steps": len(actions), "env_time": env_time, "raw_time": raw_time, "actions": actions}


def _mujoco_io(backend, controls: list):
    import mujoco

    model, data, skip = backend.model, backend.data, backend.frame_skip

    def replay(c):
        data.ctrl[:] = c
        mujoco.mj_step(model, data, nstep=skip)

    return (lambda: controls.append(data.ctrl.copy())), replay


def _pybullet_io(backend, controls: list):
    """PyBullet keeps no readable control vector: record the motor targets the env set this step."""
    import pybullet as pb

    sent = {}
    motors = backend._motors

    def spy(q_cmd, qd_cmd, opening):
        sent["last"] = (list(q_cmd), list(qd_cmd), opening)
        motors(q_cmd, qd_cmd, opening)

    backend._motors = spy

    def replay(c):
        motors(*c)
        pb.stepSimulation(physicsClientId=backend.c)

    return (lambda: controls.append(sent["last"])), replay


def report(rows: list[dict], engine: str) -> float:
    print(f"{engine}: {'skill':<26} {'steps':>6} {'env steps/s':>12} {'raw ctl/s':>10} {'ratio':>6}")
    for r in rows:
        env_sps, raw = r["steps"] / r["env_time"], r["steps"] / r["raw_time"]
        print(f"{engine}: {r['skill']:<26} {r['steps']:>6} {env_sps:>12.0f} {raw:>10.0f} {env_sps / raw:>6.2f}")
    steps = sum(r["steps"] for r in rows)
    env_sps, raw = steps / sum(r["env_time"] for r in rows), steps / sum(r["raw_time"] for r in rows)
    print(f"{engine}: {'all':<26} {steps:>6} {env_sps:>12.0f} {raw:>10.0f} {env_sps / raw:>6.2f}")
    raw_name = "mj_step" if engine == "mujoco" else "stepSimulation"
    print(f"{engine} env keeps {100 * env_sps / raw:.0f}% of raw {raw_name} throughput (target >= 50%) -- of raw physics throughput")
    return env_sps


def main(argv: list[str] | None = None) -> int:
    import robot_cl

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skills", nargs="*", default=None, help="default: every registered skill")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per skill; the fastest is kept")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", default="mujoco", choices=["mujoco", "pybullet"])
    args = p.parse_args(argv)
    skills = args.skills or robot_cl.list_skills()

    rows = [measure(s, args.repeats, args.seed) for s in skills]
    mj_sps = report(rows, "mujoco")
    if args.backend == "pybullet":
        pb_rows = [measure(r["skill"], args.repeats, args.seed, "pybullet", r["actions"]) for r in rows]
        pb_sps = report(pb_rows, "pybullet")
        print(f"pybullet env / mujoco env steps/s on the same actions: {pb_sps / mj_sps:.2f} (target >= 0.5: within 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
