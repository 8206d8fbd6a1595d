"""The primitive vocabularies, from the registry: what a learned policy can choose, and what it chooses with.

* :data:`PRIMITIVE_NAMES` -- the atomic primitives: the vocabulary of demonstrations and of the
  behaviour-cloned hierarchical policy. Composite primitives (``pick``) stay out: an expert composes
  atomic ones, and one more output would re-initialise the policy like a new seed (the default run
  went from 0.99 to 0.76 average success at seed 0 with ``pick`` in this list).
* :data:`ACTION_PRIMITIVES` -- every registered primitive: what one primitive-space RL action may call.
* :data:`MAX_PARAMS` -- the longest parameter vector (parameters are padded to it).
* :func:`goal_features` -- what a learned low-level controller needs to imitate a primitive.

Both lists are fixed when this module is imported (the library's primitives registered by then): a
primitive registered later does not change what an existing policy outputs.
"""

from __future__ import annotations

import numpy as np

from robot_cl.primitives import library as _library  # noqa: F401  (registers the built-in primitives)
from robot_cl.primitives.core import PRIMITIVES, Primitive

PRIMITIVE_NAMES: tuple[str, ...] = tuple(sorted(n for n, cls in PRIMITIVES.items() if not cls.composite))
ACTION_PRIMITIVES: tuple[str, ...] = tuple(sorted(PRIMITIVES))
MAX_PARAMS = max(len(cls.param_names) for cls in PRIMITIVES.values())
GOAL_FEATURES = 6  # goal x, y, z (NaN if none), goal yaw (NaN if none), start opening, primitive grip


def goal_features(prim: Primitive) -> np.ndarray:
    """What a learned low-level controller needs to imitate ``prim``: its goal and gripper mode."""
    goal = getattr(prim, "goal_pos", None)
    yaw = getattr(prim, "goal_yaw", None)
    out = np.full(GOAL_FEATURES, np.nan, dtype=np.float32)
    if goal is not None:
        out[:3] = goal
    if yaw is not None:
        out[3] = yaw
    out[4] = prim.start_state.opening
    out[5] = prim.held_grip
    return out
