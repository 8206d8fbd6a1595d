"""Hierarchical RL: an environment whose actions are motion-primitive calls (as in RAPS, Dalal et al. 2021).

One step of :class:`PrimitiveActionEnv` runs one primitive of :mod:`robot_cl.primitives` to its end in
the underlying task. The action is continuous, in ``[-1, 1]``, and holds one score per primitive
followed by one parameter vector per primitive (``len(ACTION_PRIMITIVES) * (1 + MAX_PARAMS)`` values;
every registered primitive, composites such as ``pick`` included) or, with ``shared_params``, by one
value per parameter *name* that the primitives share (``x`` for reach, press and pick alike; a
hybrid discrete-continuous action in the spirit of MAPLE, Nasiriany et al. 2022); with ``anchors``
a score per anchor (``ANCHORS``) comes after the primitive scores, and the best-scoring anchor makes
the call's positions offsets of ``±anchor_range`` around an observed entity or the goal instead of
absolute points in the workspace box (object-relative parameters: "pick at the cube" is then the
same action wherever the cube lies):
the primitive with the highest score runs, with its own parameters mapped to physical ranges --
absolute positions into the arm's workspace box, displacements into ``±max_displacement`` metres,
press depths into ``[0, max_depth]``, angles into ``±pi``. The reward is the task's dense reward
summed over the primitive's control steps (plus, with ``affordance`` > 0, that weight times the call's
affordance score: MAPLE's affordance reward, nearness of the call's position to where the skill says
the primitive is useful, ``Skill.affordances``); ``info["success"]`` says whether the task's success
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

from robot_cl.errors import ConfigError
from robot_cl.primitives import PRIMITIVES, Hold, Primitive, PrimitiveRunner, make_primitive
from robot_cl.primitives.vocabulary import ACTION_PRIMITIVES, MAX_PARAMS
from robot_cl.skills import near
from robot_cl.tasks.base import TaskEnv

N_PRIMS = len(ACTION_PRIMITIVES)
# Every parameter name some primitive takes, in order of first appearance: the shared layout's slots.
PARAM_NAMES: tuple[str, ...] = tuple(dict.fromkeys(p for n in ACTION_PRIMITIVES for p in PRIMITIVES[n].param_names))
# Object-relative positions (``anchors``): the workspace box, or an offset around the first or second
# observed entity or the goal's position, as the household observation holds them (an unused slot is
# all zeros: its anchor is the origin, clipped into the workspace box).
ANCHORS: tuple[str, ...] = ("workspace", "slot1", "slot2", "goal")
AXES = {"x": 0, "y": 1, "z": 2}  # position parameters and their axis
TAIL_CAP = 10_000  # control steps of the hold after the last call, for a task with no time limit of its own


def primitive_action_dim(cfg: dict | None = None) -> int:
    """Size of the primitive-space action for a ``primitive_env`` config: a score per primitive, with
    ``anchors`` a score per anchor, then ``MAX_PARAMS`` parameters per primitive or, with
    ``shared_params``, one value per parameter name."""
    cfg = cfg or {}
    params = len(PARAM_NAMES) if cfg.get("shared_params", False) else N_PRIMS * MAX_PARAMS
    return N_PRIMS + (len(ANCHORS) if cfg.get("anchors", False) else 0) + params


def primitive_choices(cfg: dict | None = None) -> tuple[int, ...]:
    """The discrete choices leading a primitive-space action: the primitive, then with ``anchors`` the
    anchor (the sizes of the categorical heads of a hybrid actor, ``learner.categorical``)."""
    cfg = cfg or {}
    return (N_PRIMS, len(ANCHORS)) if cfg.get("anchors", False) else (N_PRIMS,)


def switch_primitives(action: np.ndarray, prob: float, rng: np.random.Generator) -> np.ndarray:
    """Exploration over the discrete part of primitive-space actions (B, dim): with probability ``prob``
    per row a uniformly drawn primitive's score is raised to the top, so that it runs with the policy's
    own parameters for it (epsilon-greedy on the discrete action, as P-DQN does for parameterised
    actions, Xiong et al. 2018). With ``shared_params`` a switch tries another primitive *where* the
    policy currently acts: a pick where it learned to press. The returned row is the action that ran."""
    a = np.array(action, dtype=np.float32, copy=True)
    rows = rng.random(len(a)) < prob
    k = rng.integers(0, N_PRIMS, len(a))
    # A saturated score can equal 1 in float32: cap the others so that the drawn primitive wins the argmax.
    a[rows, :N_PRIMS] = np.minimum(a[rows, :N_PRIMS], 0.999)
    a[rows, k[rows]] = 1.0
    return a


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
        shared_params: bool = False,
        affordance: float = 0.0,
        anchors: bool = False,
        anchor_range: float = 0.15,
        on_step: Callable | None = None,
    ) -> None:
        self.task: TaskEnv = env.unwrapped
        self.layout = self.task.layout  # where the observation holds the entities and the goal (anchors)
        if anchors and self.layout is None:
            raise ConfigError(
                "learner.primitive_env.anchors needs a task whose observation layout is known (a household skill); set it false"
            )

        self.env, self.ee = env, self.task.end_effector
        self.max_calls, self.max_displacement, self.max_depth = int(max_calls), float(max_displacement), float(max_depth)
        self.hold_to_end = bool(hold_to_end)
        self.affordance = float(affordance)
        self.low = np.asarray(self.ee.workspace_low, dtype=float)
        self.high = np.asarray(self.ee.workspace_high, dtype=float)
        self.on_step = on_step
        self.observation_space = env.observation_space
        self.shared_params, self.anchors, self.anchor_range = bool(shared_params), bool(anchors), float(anchor_range)
        self.n_anchors = len(ANCHORS) if self.anchors else 0
        dim = primitive_action_dim({"shared_params": self.shared_params, "anchors": self.anchors})
        self.action_space = gym.spaces.Box(-1.0, 1.0, (dim,), np.float32)
        # Where each primitive reads its parameters in the action vector.
        self.slots = {
            name: [
                N_PRIMS + self.n_anchors + (PARAM_NAMES.index(p) if self.shared_params else k * MAX_PARAMS + j)
                for j, p in enumerate(PRIMITIVES[name].param_names)
            ]
            for k, name in enumerate(ACTION_PRIMITIVES)
        }
        self.runner: PrimitiveRunner | None = None
        self.calls = 0

    def anchor_position(self, anchor: str) -> np.ndarray | None:
        """Where an anchor is in the current observation (None: ``workspace``, absolute positions)."""
        if anchor == "workspace":
            return None
        where = {"slot1": self.layout.slot1, "slot2": self.layout.slot2, "goal": self.layout.goal}[anchor]
        return np.asarray(self.runner.obs[where][:3], dtype=float)

    def param_range(self, param: str, anchor: np.ndarray | None = None) -> tuple[float, float]:
        """Physical range a primitive parameter's action value in ``[-1, 1]`` maps onto (affinely);
        positions relative to ``anchor`` span ``±anchor_range`` around it."""
        if param in AXES and anchor is not None:
            return float(anchor[AXES[param]] - self.anchor_range), float(anchor[AXES[param]] + self.anchor_range)
        if param in AXES:  # absolute position: the workspace box
            return float(self.low[AXES[param]]), float(self.high[AXES[param]])
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
        anchor = self.anchor_position(ANCHORS[int(np.argmax(a[N_PRIMS : N_PRIMS + self.n_anchors]))]) if self.anchors else None
        raw = a[self.slots[name]]
        values = []
        for v, p in zip(raw, PRIMITIVES[name].param_names):
            lo, hi = self.param_range(p, anchor)
            value = lo + (v + 1.0) * 0.5 * (hi - lo)
            if anchor is not None and p in AXES:  # an offset may point out of the workspace box
                value = float(np.clip(value, self.low[AXES[p]], self.high[AXES[p]]))
            values.append(value)
        return make_primitive(name, values)

    def encode(self, name: str, values=(), anchor: str = "workspace") -> np.ndarray:
        """The action that :meth:`decode` turns into primitive ``name`` with ``values`` (scripted plans,
        tests); with ``anchors``, positions are given absolute and encoded relative to ``anchor`` (a
        position more than ``anchor_range`` from it encodes outside [-1, 1], which decode clips)."""
        a, k = np.zeros(self.action_space.shape, np.float32), ACTION_PRIMITIVES.index(name)
        a[k] = 1.0
        where = None
        if self.anchors:
            a[N_PRIMS + ANCHORS.index(anchor)] = 1.0
            where = self.anchor_position(anchor)
        for slot, v, p in zip(self.slots[name], values, PRIMITIVES[name].param_names):
            lo, hi = self.param_range(p, where)
            a[slot] = 2.0 * (float(v) - lo) / (hi - lo) - 1.0
        return a

    def affordance_score(self, prim: Primitive) -> float:
        """In [0, 1]: how near the call's (x, y) is to a point the skill declares ``prim`` useful at
        (1 within 2 cm, 0.5 at about 4.7 cm); 0 for primitives without declared points or positions."""
        points = self.task.affordance_points().get(prim.name)
        if not points or "x" not in prim.param_names:
            return 0.0
        xy = np.array([prim.params[prim.param_names.index("x")], prim.params[prim.param_names.index("y")]])
        return near(min(float(np.linalg.norm(xy - p[:2])) for p in points), 0.02, 0.05)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.runner = PrimitiveRunner(self.env, self.ee, obs, on_step=self.on_step)
        self.calls = 0
        return obs, info

    def step(self, action):
        runner = self.runner
        start = len(runner.trace.rewards)
        prim = self.decode(action)
        score = self.affordance_score(prim) if self.affordance else 0.0  # where the objects are before the call
        if runner.run(prim).steps == 0:  # finished at once (e.g. opening an open gripper): let time pass
            runner.run(Hold(1))
        self.calls += 1
        if self.hold_to_end and self.calls >= self.max_calls and not runner.done:
            runner.run(Hold(TAIL_CAP))  # until the task's time limit ends the episode
        rewards, successes = runner.trace.rewards[start:], runner.trace.successes[start:]
        info = {"success": any(successes), "primitive": prim.name, "steps": len(rewards), "affordance": score}
        truncated = runner.done or self.calls >= self.max_calls
        return runner.obs, float(sum(rewards)) + self.affordance * score, False, truncated, info

    def render(self):
        return self.env.render()

    def close(self) -> None:
        self.env.close()
