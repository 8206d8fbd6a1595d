"""Motion primitives: parameterised closed-loop skills shared by every simulator.

See :mod:`robot_cl.primitives.core` for the interface and :mod:`robot_cl.primitives.library`
for the primitives themselves.
"""

from robot_cl.primitives.core import (
    PRIMITIVES,
    Command,
    EEState,
    EndEffector,
    Primitive,
    PrimitiveResult,
    make_primitive,
    register_primitive,
    wrap_angle,
)
from robot_cl.primitives.library import CLOSED, OPEN, Grasp, Hold, Lift, Pick, Press, Pull, Push, Reach, Release, Rotate
from robot_cl.primitives.runner import PrimitiveRunner, Program, Trace

__all__ = [
    "CLOSED",
    "OPEN",
    "PRIMITIVES",
    "Command",
    "EEState",
    "EndEffector",
    "Grasp",
    "Hold",
    "Lift",
    "Pick",
    "Press",
    "Primitive",
    "PrimitiveResult",
    "PrimitiveRunner",
    "Program",
    "Pull",
    "Push",
    "Reach",
    "Release",
    "Rotate",
    "Trace",
    "make_primitive",
    "register_primitive",
    "wrap_angle",
]
