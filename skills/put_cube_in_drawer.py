"""Composite: open the drawer, then put the cube inside."""

import numpy as np

from robot_cl.programs import grip_yaw, pick, place, pull_handle
from robot_cl.skills import Skill, near, register_skill, staged

TRAY_X = (-0.125, 0.105)  # drawer-frame extent of the tray's inside (m)
TRAY_HALF_Y = 0.11


@register_skill
class PutCubeInDrawer(Skill):
    name = "put_cube_in_drawer"
    description = "Open the drawer, pick the cube up from the counter and put it in the drawer."
    elements = ("drawer_unit", "drawer", "cube")
    affordances = {"reach": ("drawer_handle", "drawer"), "pick": ("cube",)}  # where primitive calls can make progress (RL bonus)
    observe = ("cube", "drawer")
    config = {
        "max_steps": 350,
        "init": {
            "drawer_slide": [0.0, 0.02],
            "cube": {"x": [0.38, 0.48], "y": [-0.07, 0.05], "yaw": [-0.8, 0.8]},
        },
        "pull_to": 0.17,
        "open_at": 0.10,  # the drawer must be open at least this far for the cube to fit in
    }

    def drop_point(self, s) -> np.ndarray:
        """Where the cube goes: 6 cm behind the tray's front wall."""
        return s.pos("drawer") + [TRAY_X[0] + 0.06, 0.0, 0.0]

    def goal(self, s):
        return np.array([*(self.drop_point(s) - [self.cfg["pull_to"] - s.joint("drawer_slide"), 0, 0]), self.cfg["pull_to"]])

    def in_drawer(self, s) -> bool:
        local = s.xmat("drawer").T @ (s.pos("cube") - s.pos("drawer"))
        return bool(TRAY_X[0] < local[0] < TRAY_X[1] and abs(local[1]) < TRAY_HALF_Y and local[2] < 0.09)

    def success(self, s):
        return self.in_drawer(s) and not s.grasping("cube")

    def reward(self, s):
        opened = s.joint("drawer_slide") / self.cfg["open_at"]
        reach_handle = near(np.linalg.norm(s.tcp - s.pos("drawer_handle")), 0.015, 0.1)
        cube = s.pos("cube")
        held = 1.0 if s.grasping("cube") or self.in_drawer(s) else near(np.linalg.norm(s.tcp - cube), 0.012, 0.1) * 0.5
        over = near(np.linalg.norm(cube[:2] - self.drop_point(s)[:2]), 0.02, 0.1)
        first = reach_handle if opened < 1.0 else 1.0
        return staged(first, opened, held, over, float(self.in_drawer(s)), float(not s.grasping("cube")))

    def expert(self, s):
        pull = self.cfg["pull_to"] - s.joint("drawer_slide")
        # Retreat high: the open drawer's front panel stands between the handle and the cube.
        yield from pull_handle(lambda: (s.pos("drawer_handle"), 0.0), (-pull, 0.0, 0.0), retreat=0.13)
        cube_grip = lambda: (s.pos("cube"), grip_yaw(s.yaw("cube"), np.pi / 2))  # noqa: E731
        if not (yield from pick(cube_grip, lift=0.1, approach=0.1)):
            return
        # Yaw 0 puts the hand's long side across the drawer, clear of its front panel and housing.
        yield from place(self.drop_point(s), 0.0, carry_height=0.23, release_height=0.085)
