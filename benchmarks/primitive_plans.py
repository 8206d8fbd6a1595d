"""Scripted plans in primitive space on pick_place_cube_in_bowl: what the RL behaviour level can reach.

    python benchmarks/primitive_plans.py            # 8 seeds for the plan, 6 for the pick tolerances, 2 for the returns

Three measurements, all with the true object positions read from the scene (no learning):

1. the three-call plan pick(cube) -> reach(over the bowl at a carry height) -> release, then a
   short hold, for several carry heights: on how many seeds it succeeds;
2. how far off a ``pick`` may aim and still grasp the cube and lift it clear of the counter
   (offsets in the plane, in height, a random yaw);
3. the episode return of whole primitive-space episodes (``max_calls`` 8) for several scripted
   behaviours, with and without ``hold_to_end``: the return has to rank succeeding above carrying.
"""

from __future__ import annotations

import argparse

import numpy as np

SKILL = "pick_place_cube_in_bowl"


def three_call_plan(seeds: int, carry_heights: list[float]) -> None:
    import robot_cl
    from robot_cl.primitives import Hold, Pick, PrimitiveRunner, Reach, Release
    from robot_cl.programs import grip_yaw

    env = robot_cl.make(SKILL)
    ee, scene = env.unwrapped.end_effector, env.unwrapped.scene
    for z in carry_heights:
        ok = 0
        for seed in range(seeds):
            obs, _ = env.reset(seed=seed)
            runner = PrimitiveRunner(env, ee, obs)
            cube, bowl = scene.pos("cube"), scene.pos("bowl")
            runner.run(Pick(*cube, grip_yaw(scene.yaw("cube"), np.pi / 2)))
            runner.run(Reach(bowl[0], bowl[1], z, ee.state(runner.obs).yaw))
            runner.run(Release())
            runner.run(Hold(20))  # the cube lands
            ok += runner.trace.success
        print(f"plan pick -> reach(bowl, z {z:.2f}) -> release: success on {ok} of {seeds} seeds", flush=True)


def pick_tolerance(seeds: int) -> None:
    import robot_cl
    from robot_cl.primitives import Pick, PrimitiveRunner

    env = robot_cl.make(SKILL)
    ee, scene = env.unwrapped.end_effector, env.unwrapped.scene
    rng = np.random.default_rng(0)
    cases = {"exact, yaw 0": (0.0, 0.0, 0.0), "1 cm off in the plane": (0.01, 0.0, 0.0), "2 cm off in the plane": (0.02, 0.0, 0.0)}
    cases |= {"2 cm high": (0.0, 0.02, 0.0), "2 cm low": (0.0, -0.02, 0.0), "random yaw": (0.0, 0.0, np.pi)}
    for name, (plane, dz, yaw) in cases.items():
        ok = 0
        for seed in range(seeds):
            obs, _ = env.reset(seed=seed)
            cube, angle = scene.pos("cube"), rng.uniform(0, 2 * np.pi)
            target = cube + [plane * np.cos(angle), plane * np.sin(angle), dz]
            result = PrimitiveRunner(env, ee, obs).run(Pick(*target, rng.uniform(-yaw, yaw)))
            ok += result.achieved and scene.pos("cube")[2] > 0.08
        print(f"pick {name}: grasped and lifted on {ok} of {seeds} seeds", flush=True)


def _pick(env) -> np.ndarray:
    return env.encode("pick", [*env.env.unwrapped.scene.pos("cube"), 0.0])


def _carry(env) -> np.ndarray:
    return env.encode("reach", [*env.env.unwrapped.scene.pos("bowl")[:2], 0.14, 0.0])


def _noop(env) -> np.ndarray:
    return env.encode("lift", [0.0])


# Scripted behaviours: the action for call ``i`` of an episode.
PLANS = {
    "pick, carry, release": lambda env, i: [_pick, _carry, lambda e: e.encode("release")][i](env) if i < 3 else _noop(env),
    "pick, keep carrying": lambda env, i: _pick(env) if i == 0 else _carry(env),
    "pick, hold": lambda env, i: _pick(env) if i == 0 else _noop(env),
}


def plan_returns(seeds: int) -> None:
    import robot_cl
    from robot_cl.rl.primitive_env import PrimitiveActionEnv

    for hold in (False, True):
        env = PrimitiveActionEnv(robot_cl.make(SKILL), max_calls=8, hold_to_end=hold)
        for name, plan in PLANS.items():
            returns, successes = [], []
            for seed in range(seeds):
                env.reset(seed=seed)
                total, done, i, success = 0.0, False, 0, False
                while not done:
                    _, reward, terminated, truncated, info = env.step(plan(env, i))
                    total, i, done, success = total + reward, i + 1, terminated or truncated, success or info["success"]
                returns.append(total)
                successes.append(success)
            print(
                f"hold_to_end={hold!s:5}  {name:22s} returns {', '.join(f'{r:.1f}' for r in returns)}  success {sum(successes)} of {seeds}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plan-seeds", type=int, default=8)
    ap.add_argument("--carry-heights", type=float, nargs="+", default=[0.10, 0.14, 0.18])
    ap.add_argument("--tolerance-seeds", type=int, default=6)
    ap.add_argument("--return-seeds", type=int, default=2)
    args = ap.parse_args(argv)
    three_call_plan(args.plan_seeds, args.carry_heights)
    pick_tolerance(args.tolerance_seeds)
    plan_returns(args.return_seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
