"""Put the mug on the shelf."""

import numpy as np

from robot_cl.programs import grip_yaw, pick, place
from robot_cl.skills import Skill, near, register_skill, staged

MUG_HALF_HEIGHT = 0.045
GRIP_ABOVE_CENTRE = 0.02  # grasp the mug's body a little above its middle


@register_skill
class PutMugOnShelf(Skill):
    name = "put_mug_on_shelf"
    description = "Pick the mug up by its body (clear of the handle) and stand it on the shelf."
    elements = ("mug", "shelf")
    affordances = {"pick": ("mug",), "reach": ("shelf_surface",)}  # where primitive calls can make progress (RL bonus)
    observe = ("mug", "shelf")
    config = {
        "max_steps": 220,
        "init": {"mug": {"x": [0.38, 0.50], "y": [-0.10, 0.10], "yaw": [-0.6, 0.6]}},
    }

    def goal(self, s):
        return np.array([*(s.pos("shelf_surface") + [0, 0, MUG_HALF_HEIGHT]), 0.0])

    def on_shelf(self, s) -> bool:
        mug, shelf = s.pos("mug"), s.pos("shelf")
        board_top = s.pos("shelf_surface")[2]
        upright = s.xmat("mug")[2, 2] > 0.95
        inside = abs(mug[0] - shelf[0]) < 0.075 and abs(mug[1] - shelf[1]) < 0.085
        return bool(inside and upright and abs(mug[2] - board_top - MUG_HALF_HEIGHT) < 0.01)

    def success(self, s):
        return self.on_shelf(s) and not s.grasping("mug")

    def reward(self, s):
        mug, spot = s.pos("mug"), s.pos("shelf_surface")
        reach = near(np.linalg.norm(s.tcp - mug - [0, 0, GRIP_ABOVE_CENTRE]), 0.012, 0.1)
        held = 1.0 if s.grasping("mug") or self.on_shelf(s) else 0.0
        over = near(np.linalg.norm(mug[:2] - spot[:2]), 0.02, 0.15)
        return staged(reach, held, over, float(self.on_shelf(s)), float(not s.grasping("mug")))

    def expert(self, s):
        # Fingers close across the body, perpendicular to the handle: gripper yaw = mug heading.
        mug_grip = lambda: (s.pos("mug") + [0, 0, GRIP_ABOVE_CENTRE], grip_yaw(s.yaw("mug")))  # noqa: E731
        if not (yield from pick(mug_grip, lift=0.12, approach=0.1)):
            return
        board_top = s.pos("shelf_surface")[2]
        release = board_top + MUG_HALF_HEIGHT + GRIP_ABOVE_CENTRE + 0.008
        yield from place(s.pos("shelf_surface"), s.tcp_yaw, carry_height=release + 0.06, release_height=release, retreat=0.06)
