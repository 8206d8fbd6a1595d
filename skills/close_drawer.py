"""Close an open drawer by pushing it in."""

import numpy as np

from robot_cl.primitives import Grasp, Lift, Push, Reach
from robot_cl.skills import Skill, near, register_skill, staged

GAP = 0.035  # m between the fingertips and the handle post before the push


@register_skill
class CloseDrawer(Skill):
    name = "close_drawer"
    description = "Push an open drawer shut."
    elements = ("drawer_unit", "drawer")
    affordances = {"reach": ("drawer_handle",)}  # where primitive calls can make progress (RL bonus)
    observe = ("drawer",)
    config = {
        "max_steps": 120,
        "init": {"drawer_slide": [0.12, 0.19]},
        "closed_at": 0.02,
    }

    def goal(self, s):
        return np.array([*(s.pos("drawer_handle") + [s.joint("drawer_slide"), 0, 0]), 0.0])

    def success(self, s):
        return s.joint("drawer_slide") <= self.cfg["closed_at"]

    def reward(self, s):
        reach = near(np.linalg.norm(s.tcp - (s.pos("drawer_handle") - [GAP, 0, 0])), 0.015, 0.1)
        closed = (0.2 - s.joint("drawer_slide")) / (0.2 - self.cfg["closed_at"])
        return staged(reach, closed)

    def expert(self, s):
        handle = s.pos("drawer_handle")
        start = handle - [GAP, 0.0, 0.005]
        yield Reach(*(start + [0, 0, 0.07]), 0.0)
        yield Grasp()  # close the fingers in the air: the push uses the closed fingertips
        yield Reach(*start, 0.0)
        yield Push(s.joint("drawer_slide") + GAP, 0.0)
        yield Lift(0.06)
