"""Open the drawer by pulling its handle."""

import numpy as np

from robot_cl.programs import pull_handle
from robot_cl.skills import Skill, near, register_skill, staged


@register_skill
class OpenDrawer(Skill):
    name = "open_drawer"
    description = "Grasp the drawer handle and pull the drawer open."
    elements = ("drawer_unit", "drawer")
    affordances = {"reach": ("drawer_handle",)}  # where primitive calls can make progress (RL bonus)
    observe = ("drawer",)
    config = {
        "max_steps": 150,
        "init": {"drawer_slide": [0.0, 0.02]},
        "open_at": 0.12,  # m of the drawer's 0.2 m travel
        "pull_to": 0.17,
    }

    def goal(self, s):
        opening = s.joint("drawer_slide")
        return np.array([*(s.pos("drawer_handle") - [self.cfg["pull_to"] - opening, 0, 0]), self.cfg["open_at"]])

    def success(self, s):
        return s.joint("drawer_slide") >= self.cfg["open_at"]

    def reward(self, s):
        reach = near(np.linalg.norm(s.tcp - s.pos("drawer_handle")), 0.015, 0.1)
        return staged(reach, s.joint("drawer_slide") / self.cfg["open_at"])

    def expert(self, s):
        pull = self.cfg["pull_to"] - s.joint("drawer_slide")
        yield from pull_handle(lambda: (s.pos("drawer_handle"), 0.0), (-pull, 0.0, 0.0))
