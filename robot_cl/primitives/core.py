"""Motion-primitive interface, independent of any simulator.

A primitive is a small closed-loop controller with parameters (``Reach(x, y, z, yaw)``,
``Push(dx, dy)``, ...). Each control step it reads an :class:`EEState` (tool position, yaw and
gripper opening) and returns a :class:`Command` (a normalised Cartesian step and a gripper
command). An :class:`EndEffector` adapter turns observations into ``EEState`` and commands into
the raw action vector of one particular environment, so the same primitives can drive the
household Panda, Meta-World's Sawyer or a PyBullet arm.

Every primitive has a termination condition (:meth:`Primitive.finished`), a step budget and a
report of whether it achieved its goal (:meth:`Primitive.achieved`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from robot_cl.registry import Registry


@dataclass(frozen=True)
class EEState:
    """What a primitive may observe about the end effector."""

    pos: np.ndarray  # (3,) tool centre point, metres, world frame
    yaw: float  # gripper yaw about world z, radians
    opening: float  # gripper opening in [0, 1] (1 = fully open)


@dataclass(frozen=True)
class Command:
    """One control step: normalised Cartesian displacement, yaw rate and gripper command, all in [-1, 1].

    ``grip`` is -1 for fully open and +1 for fully closed.
    """

    dpos: np.ndarray
    dyaw: float
    grip: float


class EndEffector(Protocol):
    """Adapter between the primitives and one environment's observation and action spaces."""

    pos_step: float  # metres moved by a unit position command in one control step
    yaw_step: float  # radians turned by a unit yaw command in one control step (0: no yaw)
    gain: float  # fraction of the remaining error to command per step (closed-loop gain)
    pos_tolerance: float
    yaw_tolerance: float
    stall_steps: int
    tip_offset: float  # how far the closed fingertips reach below the tool centre point (m)
    workspace_low: np.ndarray  # (3,) box the tool can reach: absolute primitive positions are drawn from it
    workspace_high: np.ndarray  # (primitive-space RL, robot_cl.rl.primitive_env)

    def state(self, obs: np.ndarray) -> EEState:
        """Read the end-effector state from an observation."""
        ...

    def action(self, cmd: Command) -> np.ndarray:
        """Raw environment action for a command."""
        ...


def wrap_angle(a: float) -> float:
    """Angle in [-pi, pi)."""
    return (a + math.pi) % (2 * math.pi) - math.pi


def toward(ee: EndEffector, s: EEState, pos: np.ndarray, yaw: float | None, speed: float = 1.0) -> tuple[np.ndarray, float]:
    """Normalised command moving the tool towards ``pos`` (and ``yaw``), direction preserved.

    ``speed`` caps the largest command component (1 = the arm's full step).
    """
    d = ee.gain * (np.asarray(pos, dtype=float) - s.pos) / ee.pos_step
    peak = np.abs(d).max()
    if peak > speed:
        d = d * (speed / peak)
    dyaw = 0.0
    if yaw is not None and ee.yaw_step > 0:
        dyaw = float(np.clip(ee.gain * wrap_angle(yaw - s.yaw) / ee.yaw_step, -1.0, 1.0))
    return d, dyaw


@dataclass
class PrimitiveResult:
    """What happened when a primitive ran."""

    name: str
    params: tuple[float, ...]
    achieved: bool
    steps: int
    reward: float = 0.0
    success: bool = False  # the task's success predicate held at some step of the primitive
    episode_over: bool = False  # the episode ended (time limit or termination) during the primitive


class Primitive:
    """Base class. Subclasses set ``name``, ``param_names``, ``budget`` and implement ``step``.

    ``grip`` is the gripper command the primitive holds while it runs: ``None`` keeps whatever the
    previous primitive commanded (a held object stays held).
    """

    name: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ()
    budget: ClassVar[int] = 100
    grip: ClassVar[float | None] = None
    speed: ClassVar[float] = 1.0  # cap on the normalised motion command (contact motions go slower)
    composite: ClassVar[bool] = False  # made of other primitives (library._Sequence): not in demonstrations

    def __init__(self, *params: float, budget: int | None = None) -> None:
        if len(params) != len(self.param_names):
            raise ValueError(f"{self.name} takes {len(self.param_names)} parameters {self.param_names}, got {len(params)}")
        self.params = tuple(float(p) for p in params)
        self.max_steps = self.budget if budget is None else int(budget)
        self.ee: EndEffector | None = None
        self.start_state: EEState | None = None
        self.held_grip = -1.0
        self.steps = 0
        self._best = math.inf
        self._since_best = 0

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={v:.3f}" for n, v in zip(self.param_names, self.params))
        return f"{self.name}({args})"

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, ee: EndEffector, s: EEState, held_grip: float) -> None:
        """Latch the starting state; ``held_grip`` is the gripper command currently in force."""
        self.ee, self.start_state, self.steps = ee, s, 0
        self.held_grip = held_grip if self.grip is None else self.grip
        self._best, self._since_best = math.inf, 0

    def command(self, s: EEState) -> Command:
        """Next command; counts the step and tracks progress for stall detection."""
        self.steps += 1
        err = self.error(s)
        if err < self._best - 1e-4:
            self._best, self._since_best = err, 0
        else:
            self._since_best += 1
        return self.step(s)

    def finished(self, s: EEState) -> bool:
        """Termination: goal reached, no progress for ``stall_steps`` steps, or budget spent."""
        return self.reached(s) or self.stalled() or self.steps >= self.max_steps

    def stalled(self) -> bool:
        return self._since_best >= self.ee.stall_steps

    # -- to implement ----------------------------------------------------------------------------
    def step(self, s: EEState) -> Command:
        raise NotImplementedError

    def error(self, s: EEState) -> float:
        """Scalar distance to the goal (progress measure)."""
        return 0.0

    def reached(self, s: EEState) -> bool:
        """The goal condition (termination)."""
        return self.error(s) <= self.ee.pos_tolerance

    def achieved(self, s: EEState) -> bool:
        """Report: did the primitive do what it was asked to?"""
        return self.reached(s)


PRIMITIVES: Registry = Registry("primitive")
register_primitive = PRIMITIVES.register  # class decorator: make a primitive available by name


def make_primitive(name: str, params: list[float] | tuple[float, ...] | np.ndarray) -> Primitive:
    """Build a primitive from its name and parameter vector (extra trailing values are ignored)."""
    cls = PRIMITIVES[name]  # an unknown name: ConfigError listing the valid ones
    return cls(*list(params)[: len(cls.param_names)])
