"""Hierarchical RL: an environment whose actions are motion-primitive calls (as in RAPS, Dalal et al. 2021).

One step of :class:`PrimitiveActionEnv` runs one primitive of :mod:`robot_cl.primitives` to its end in
the underlying task. The action is continuous, in ``[-1, 1]``, and holds one score per primitive
followed by one parameter vector per primitive (``len(ACTION_PRIMITIVES) * (1 + MAX_PARAMS)`` values;
every registered primitive, composites such as ``pick`` included):
the primitive with the highest score runs, with its own parameters mapped to physical ranges --
absolute positions into the arm's workspace box, displacements into ``±max_displacement`` metres,
press depths into ``[0, max_depth]``, angles into ``±pi``. The reward is the task's dense reward
summed over the primitive's control steps; ``info["success"]`` says whether the task's success
held at any of them. An episode ends when the task's own episode ends or after ``max_calls``
primitive calls; with ``hold_to_end`` (the default) the arm then holds still until the task's time
limit, and that tail's reward and success count to the last call. An episode then always lasts the
task's time limit, as a flat agent's does, and what the last state is worth is paid for the time
left: a cube released over a bowl lands in it during the tail, a pressed button stays pressed.
Without it, a policy that keeps carrying the cube earned more than one that dropped it in, because
the few no-op steps after a release could not pay for the landing (docs/results.md). A continuous
RL algorithm (``learner=sac``) then learns the behaviour level directly, the primitives'
closed-loop controllers doing the low level.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from robot_cl.demos import MAX_PARAMS
from robot_cl.primitives import PRIMITIVES, Hold, Primitive, PrimitiveRunner, make_primitive

ACTION_PRIMITIVES: tuple[str, ...] = tuple(sorted(PRIMITIVES))  # what one action may call (BC's list has no composites)
N_PRIMS = len(ACTION_PRIMITIVES)
ACTION_DIM = N_PRIMS * (1 + MAX_PARAMS)
TAIL_CAP = 10_000  # control steps of the hold after the last call, for a task with no time limit of its own


def primitive_action_dim() -> int:
    """Size of the primitive-space action: a score and ``MAX_PARAMS`` parameters per primitive."""
    return ACTION_DIM


class PrimitiveActionEnv(gym.Env):
    """See the module docstring. ``env`` is a curriculum task's env (household skill or external task)."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        env: gym.Env,
        max_calls: int = 8,
        max_displacement: float = 0.2,
        max_depth: float = 0.1,
        hold_to_end: bool = True,
        on_step: Callable | None = None,
    ) -> None:
        from robot_cl import tasks

        self.env, self.ee = env, tasks.end_effector(env)
        self.max_calls, self.max_displacement, self.max_depth = int(max_calls), float(max_displacement), float(max_depth)
        self.hold_to_end = bool(hold_to_end)
        self.low = np.asarray(self.ee.workspace_low, dtype=float)
        self.high = np.asarray(self.ee.workspace_high, dtype=float)
        self.on_step = on_step
        self.observation_space = env.observation_space
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        self.runner: PrimitiveRunner | None = None
        self.calls = 0

    def param_range(self, param: str) -> tuple[float, float]:
        """Physical range a primitive parameter's action value in ``[-1, 1]`` maps onto (affinely)."""
        axis = {"x": 0, "y": 1, "z": 2}
        if param in axis:  # absolute position: the workspace box
            return float(self.low[axis[param]]), float(self.high[axis[param]])
        if param == "depth":
            return 0.0, self.max_depth
        if param in ("yaw", "angle"):
            return -np.pi, np.pi
        return -self.max_displacement, self.max_displacement  # dx, dy, dz, height: displacements

    def decode(self, action: np.ndarray) -> Primitive:
        """The primitive an action selects, with its parameters in physical units."""
        a = np.clip(np.asarray(action, dtype=float).reshape(-1), -1.0, 1.0)
        k = int(np.argmax(a[:N_PRIMS]))
        name = ACTION_PRIMITIVES[k]
        raw = a[N_PRIMS + k * MAX_PARAMS : N_PRIMS + (k + 1) * MAX_PARAMS]
        values = []
        for v, p in zip(raw, PRIMITIVES[name].param_names):
            lo, hi = self.param_range(p)
            values.append(lo + (v + 1.0) * 0.5 * (hi - lo))
        return make_primitive(name, values)

    def encode(self, name: str, values=()) -> np.ndarray:
        """The action that :meth:`decode` turns into primitive ``name`` with ``values`` (scripted plans, tests)."""
        a, k = np.zeros(ACTION_DIM, np.float32), ACTION_PRIMITIVES.index(name)
        a[k] = 1.0
        for j, (v, p) in enumerate(zip(values, PRIMITIVES[name].param_names)):
            lo, hi = self.param_range(p)
            a[N_PRIMS + k * MAX_PARAMS + j] = 2.0 * (float(v) - lo) / (hi - lo) - 1.0
        return a

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.runner = PrimitiveRunner(self.env, self.ee, obs, on_step=self.on_step)
        self.calls = 0
        return obs, info

    def step(self, action):
        runner = self.runner
        start = len(runner.trace.rewards)
        prim = self.decode(action)
        if runner.run(prim).steps == 0:  # finished at once (e.g. opening an open gripper): let time pass
            runner.run(Hold(1))
        self.calls += 1
        if self.hold_to_end and self.calls >= self.max_calls and not runner.done:
            runner.run(Hold(TAIL_CAP))  # until the task's time limit ends the episode
        rewards, successes = runner.trace.rewards[start:], runner.trace.successes[start:]
        info = {"success": any(successes), "primitive": prim.name, "steps": len(rewards)}
        truncated = runner.done or self.calls >= self.max_calls
        return runner.obs, float(sum(rewards)), False, truncated, info

    def render(self):
        return self.env.render()

    def close(self) -> None:
        self.env.close()
