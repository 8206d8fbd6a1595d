"""The household observation and action layout, shared by every simulator backend (no engine imported).

Observation (float32, 29 values)::

    [0:3]   tool centre point position (m)
    [3:5]   sin, cos of the gripper yaw
    [5]     gripper opening in [0, 1]
    [6:9]   tool velocity (m/s)
    [9:17]  entity slot 1: position (3), orientation quaternion (4), state (1)
    [17:25] entity slot 2: same layout, zeros if the skill observes one entity
    [25:29] goal: position (3) and scalar (1)

Action (float32, 5 values in [-1, 1]): tool displacement x, y, z, yaw change, gripper (-1 open ... +1 closed).

Fixing the layout across skills is what lets one network learn all of them (as in Meta-World).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OBS_DIM = 29
ACT_DIM = 5
TCP, YAW, OPENING, VEL, SLOT1, SLOT2, GOAL = (
    slice(0, 3),
    slice(3, 5),
    5,
    slice(6, 9),
    slice(9, 17),
    slice(17, 25),
    slice(25, 29),
)
ENTITY_SIZE = 8  # position (3), quaternion (4), state (1) per entity slot

# Fixed input normalisation for policies (centre and scale per observation value): positions
# around the middle of the workspace in units of 20 cm, velocities in units of 0.5 m/s. Fixed
# rather than estimated from data, so that it cannot drift from one skill to the next.
_POS_C, _POS_S = [0.45, 0.0, 0.12], [0.2, 0.2, 0.2]
OBS_CENTER = np.array([*_POS_C, 0, 0, 0.5, 0, 0, 0, *(_POS_C + [0] * 5), *(_POS_C + [0] * 5), *_POS_C, 0], dtype=np.float32)
OBS_SCALE = np.array(
    [*_POS_S, 1, 1, 0.5, 0.5, 0.5, 0.5, *(_POS_S + [1] * 4 + [0.5]), *(_POS_S + [1] * 4 + [0.5]), *_POS_S, 0.5], dtype=np.float32
)


@dataclass(frozen=True)
class ObsLayout:
    """Where a task's observation holds the tool and the observed entities (primitive-space anchors read it)."""

    tcp: slice
    slot1: slice
    slot2: slice
    goal: slice


HOUSEHOLD = ObsLayout(tcp=TCP, slot1=SLOT1, slot2=SLOT2, goal=GOAL)
