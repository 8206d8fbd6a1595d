"""The motion-primitive library: reach, grasp, release, lift, push, pull, rotate, press, pick.

Parameters are absolute world coordinates for positions (``Reach``, ``Press``) and displacements
relative to where the primitive starts for motions (``Lift``, ``Push``, ``Pull``, ``Rotate``),
as in RAPS (Dalal et al., 2021). All of them run closed loop on the measured end-effector state.
``Pick`` chains several of them into one call, as MAPLE's parameterised grasping primitive does
(Nasiriany et al., 2022): for a policy that acts in primitive space it turns "open, come down on
the object, close, lift" from four decisions into one.
"""

from __future__ import annotations

import numpy as np

from robot_cl.primitives.core import Command, EEState, Primitive, register_primitive, toward, wrap_angle

OPEN, CLOSED = -1.0, 1.0
_ZERO = np.zeros(3)


class _MoveTo(Primitive):
    """Shared machinery: move the tool to ``self.goal_pos`` / ``self.goal_yaw``."""

    goal_pos: np.ndarray
    goal_yaw: float | None = None

    def step(self, s: EEState) -> Command:
        d, dyaw = toward(self.ee, s, self.goal_pos, self.goal_yaw, self.speed)
        return Command(d, dyaw, self.held_grip)

    def pos_error(self, s: EEState) -> float:
        return float(np.linalg.norm(self.goal_pos - s.pos))

    def yaw_error(self, s: EEState) -> float:
        if self.goal_yaw is None or self.ee.yaw_step <= 0:
            return 0.0
        return abs(wrap_angle(self.goal_yaw - s.yaw))

    def error(self, s: EEState) -> float:
        # Yaw error expressed in metres at the tolerance ratio, so one number tracks progress.
        return max(self.pos_error(s), self.yaw_error(s) * self.ee.pos_tolerance / self.ee.yaw_tolerance)

    def reached(self, s: EEState) -> bool:
        return self.pos_error(s) <= self.ee.pos_tolerance and self.yaw_error(s) <= self.ee.yaw_tolerance


@register_primitive
class Reach(_MoveTo):
    """Move the tool centre point to ``(x, y, z)`` with gripper yaw ``yaw``; the gripper keeps its state."""

    name = "reach"
    param_names = ("x", "y", "z", "yaw")
    budget = 120

    def start(self, ee, s, held_grip):
        super().start(ee, s, held_grip)
        self.goal_pos = np.array(self.params[:3])
        self.goal_yaw = self.params[3]


@register_primitive
class Lift(_MoveTo):
    """Move straight up by ``height`` metres from where the tool is; the gripper keeps its state."""

    name = "lift"
    param_names = ("height",)
    budget = 60

    def start(self, ee, s, held_grip):
        super().start(ee, s, held_grip)
        self.goal_pos = s.pos + np.array([0.0, 0.0, self.params[0]])
        self.goal_yaw = s.yaw


class _Displace(_MoveTo):
    """Move by a displacement from the start pose; achieved when most of it was covered."""

    min_fraction = 0.8

    def displacement(self) -> np.ndarray:
        raise NotImplementedError

    def start(self, ee, s, held_grip):
        super().start(ee, s, held_grip)
        self.goal_pos = s.pos + self.displacement()
        self.goal_yaw = s.yaw

    def achieved(self, s: EEState) -> bool:
        total = float(np.linalg.norm(self.displacement()))
        covered = float(np.dot(s.pos - self.start_state.pos, self.displacement())) / max(total, 1e-9)
        return self.reached(s) or covered >= self.min_fraction * total


@register_primitive
class Push(_Displace):
    """Push horizontally by ``(dx, dy)`` metres with the gripper closed."""

    name = "push"
    param_names = ("dx", "dy")
    budget = 100
    grip = CLOSED
    speed = 0.5

    def displacement(self) -> np.ndarray:
        return np.array([self.params[0], self.params[1], 0.0])


@register_primitive
class Pull(_Displace):
    """Slide the tool by ``(dx, dy, dz)`` metres keeping the gripper as it is (e.g. holding a handle)."""

    name = "pull"
    param_names = ("dx", "dy", "dz")
    budget = 80

    def displacement(self) -> np.ndarray:
        return np.array(self.params[:3])


@register_primitive
class Rotate(_MoveTo):
    """Turn the gripper by ``angle`` radians about the vertical, holding position and grip."""

    name = "rotate"
    param_names = ("angle",)
    budget = 80

    def start(self, ee, s, held_grip):
        super().start(ee, s, held_grip)
        self.goal_pos = s.pos.copy()
        self.goal_yaw = s.yaw + self.params[0]

    def error(self, s: EEState) -> float:
        return self.yaw_error(s)

    def reached(self, s: EEState) -> bool:
        return self.yaw_error(s) <= self.ee.yaw_tolerance


@register_primitive
class Press(_MoveTo):
    """Press the closed fingertips ``depth`` metres into the surface point ``(x, y, z)``.

    Achieved when the fingertips got at least 60 % of ``depth`` below the surface (a button that
    bottoms out early still counts).
    """

    name = "press"
    param_names = ("x", "y", "z", "depth")
    budget = 60
    grip = CLOSED
    speed = 0.5

    def start(self, ee, s, held_grip):
        super().start(ee, s, held_grip)
        x, y, z, depth = self.params
        self.goal_pos = np.array([x, y, z + ee.tip_offset - depth])
        self.goal_yaw = None

    def achieved(self, s: EEState) -> bool:
        z, depth = self.params[2], self.params[3]
        return self.reached(s) or s.pos[2] - self.ee.tip_offset <= z - 0.6 * depth


class _Gripper(Primitive):
    """Open or close the gripper while holding the tool where it started."""

    budget = 25
    settle_steps = 3
    min_steps = 4

    def start(self, ee, s, held_grip):
        super().start(ee, s, held_grip)
        self._last, self._still = s.opening, 0

    def step(self, s: EEState) -> Command:
        self._still = self._still + 1 if abs(s.opening - self._last) < 2e-3 else 0
        self._last = s.opening
        d, _ = toward(self.ee, s, self.start_state.pos, None)
        return Command(d, 0.0, self.grip)

    def finished(self, s: EEState) -> bool:
        settled = self.steps >= self.min_steps and self._still >= self.settle_steps
        return settled or self.steps >= self.max_steps


@register_primitive
class Grasp(_Gripper):
    """Close the gripper; achieved if something stops the fingers before they close."""

    name = "grasp"
    grip = CLOSED
    min_opening = 0.06  # normalised; a fully closed gripper reads about 0

    def achieved(self, s: EEState) -> bool:
        return s.opening > self.min_opening


@register_primitive
class Release(_Gripper):
    """Open the gripper; achieved once it is (nearly) fully open."""

    name = "release"
    grip = OPEN

    def finished(self, s: EEState) -> bool:
        return s.opening >= 0.97 or super().finished(s)

    def achieved(self, s: EEState) -> bool:
        return s.opening >= 0.9


class _Sequence(Primitive):
    """A primitive made of other primitives, run one after another within one call.

    Subclasses implement :meth:`parts` (the children, built from ``self.params`` and the start
    state); each child starts where the previous one stopped, with the gripper command it left.
    """

    composite = True

    def parts(self, s: EEState) -> list[Primitive]:
        raise NotImplementedError

    def start(self, ee, s, held_grip):
        super().start(ee, s, held_grip)
        self._parts = self.parts(s)
        self.max_steps = sum(p.max_steps for p in self._parts)
        self._index = 0
        self._parts[0].start(ee, s, held_grip)
        self.held_grip = self._last_grip = self._parts[0].held_grip

    @property
    def current(self) -> Primitive:
        return self._parts[self._index]

    def _advance(self, s: EEState) -> None:
        # Move past every finished child (one may finish at once, e.g. opening an open gripper).
        while self._index + 1 < len(self._parts) and self.current.finished(s):
            if self.current.steps == 0:  # it never commanded: its own grip is the one in force
                self._last_grip = self.current.held_grip
            self._index += 1
            self.current.start(self.ee, s, self._last_grip)

    def command(self, s: EEState) -> Command:
        # The runner asks finished(s) first, which has already moved on to the child in force.
        self.steps += 1
        cmd = self.current.command(s)
        self._last_grip = cmd.grip
        return cmd

    def finished(self, s: EEState) -> bool:
        self._advance(s)
        return (self._index == len(self._parts) - 1 and self.current.finished(s)) or self.steps >= self.max_steps

    def achieved(self, s: EEState) -> bool:
        return self._index == len(self._parts) - 1 and self.current.achieved(s)


@register_primitive
class Pick(_Sequence):
    """Grasp at ``(x, y, z)`` with gripper yaw ``yaw`` and lift: open, come down from ``approach`` above, close, lift by ``lift``.

    Achieved if the gripper still holds something after the lift.
    """

    name = "pick"
    param_names = ("x", "y", "z", "yaw")
    approach = 0.08  # m: hover height above the grasp point
    lift = 0.1  # m: raised this much after closing (clear of the counter and of low rims)

    def parts(self, s: EEState) -> list[Primitive]:
        x, y, z, yaw = self.params
        return [Release(), Reach(x, y, z + self.approach, yaw), Reach(x, y, z, yaw), Grasp(), Lift(self.lift)]

    def achieved(self, s: EEState) -> bool:
        return self._index == len(self._parts) - 1 and s.opening > Grasp.min_opening


class Hold(Primitive):
    """Keep still (and keep the grip) for ``steps`` control steps.

    Not registered as a learnable primitive: runners use it to let time pass, e.g. after a
    learned policy picks a primitive that has nothing to do.
    """

    name = "hold"
    param_names = ("steps",)

    def start(self, ee, s, held_grip):
        super().start(ee, s, held_grip)
        self.max_steps = max(1, int(self.params[0]))

    def step(self, s: EEState) -> Command:
        d, _ = toward(self.ee, s, self.start_state.pos, None)
        return Command(d, 0.0, self.held_grip)

    def finished(self, s: EEState) -> bool:
        return self.steps >= self.max_steps
