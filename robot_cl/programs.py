"""Reusable primitive programs that skill experts compose (``ok = yield from pick(...)``).

They take positions and callables that re-read the world, never a simulator object, so they work
with any :class:`robot_cl.primitives.EndEffector`. Each returns whether it succeeded.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import numpy as np

from robot_cl.primitives import Grasp, Lift, Primitive, PrimitiveResult, Pull, Reach, Release

SubProgram = Generator[Primitive, PrimitiveResult, bool]
Locate = Callable[[], tuple[np.ndarray, float]]  # () -> (position, yaw) of the thing to grasp


def above(pos: np.ndarray, height: float) -> np.ndarray:
    return np.asarray(pos, dtype=float) + np.array([0.0, 0.0, height])


def grasp_at(locate: Locate, approach: float = 0.08, offset: float = 0.0, attempts: int = 3) -> SubProgram:
    """Open, come down on the located point from ``approach`` above, close; retry from a fresh look."""
    for _ in range(attempts):
        pos, yaw = locate()
        yield Release()
        yield Reach(*above(pos, approach), yaw)
        yield Reach(*above(pos, offset), yaw)
        result = yield Grasp()
        if result.achieved:
            return True
        yield Release()
        yield Lift(approach)
    return False


def pick(locate: Locate, lift: float = 0.1, approach: float = 0.08, offset: float = 0.0, attempts: int = 3) -> SubProgram:
    """Grasp an object and lift it by ``lift``."""
    if not (yield from grasp_at(locate, approach, offset, attempts)):
        return False
    yield Lift(lift)
    return True


def place(target: np.ndarray, yaw: float, carry_height: float, release_height: float, retreat: float = 0.08) -> SubProgram:
    """Carry a held object over ``target`` at ``carry_height`` (absolute z), lower, release, retreat up."""
    x, y = float(target[0]), float(target[1])
    yield Reach(x, y, carry_height, yaw)
    yield Reach(x, y, release_height, yaw)
    released = yield Release()
    yield Lift(retreat)
    return released.achieved


def pull_handle(locate: Locate, displacement, approach: float = 0.07, offset: float = -0.005, retreat: float | None = None) -> SubProgram:
    """Grasp a handle, pull it by ``displacement`` (dx, dy, dz), let go and move up by ``retreat``."""
    if not (yield from grasp_at(locate, approach, offset)):
        return False
    pulled = yield Pull(*displacement)
    yield Release()
    yield Lift(approach if retreat is None else retreat)
    return pulled.achieved


def grip_yaw(yaw: float, period: float = np.pi) -> float:
    """Equivalent gripper yaw closest to zero for an object symmetric under rotation by ``period``."""
    return float((yaw + period / 2) % period - period / 2)
