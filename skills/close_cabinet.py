"""Close an open cabinet door by pushing its outer face."""

import numpy as np

from robot_cl.primitives import Grasp, Lift, Push, Reach
from robot_cl.skills import Skill, near, register_skill, staged

PUSH_RADIUS = 0.12  # m from the hinge: the hand (+-10 cm along the door) stays clear of the handle
PUSH_HEIGHT = 0.07
STANDOFF = 0.06  # m between the tool and the door face before each push


def door_frame(s):
    """Hinge point, unit vector along the door towards its free edge, outward normal (handle side)."""
    angle = s.joint("door_hinge")
    along = np.array([-np.sin(angle), np.cos(angle), 0.0])
    normal = np.array([-np.cos(angle), -np.sin(angle), 0.0])
    return s.pos("cabinet_door"), along, normal, angle


@register_skill
class CloseCabinet(Skill):
    name = "close_cabinet"
    description = "Push an open cabinet door closed."
    elements = ("cabinet", "cabinet_door")
    observe = ("cabinet",)
    config = {
        "max_steps": 250,
        "init": {"door_hinge": [1.1, 1.5]},
        "closed_at": 0.1,  # rad
        "push_angle": 0.4,  # rad closed per push
    }

    def goal(self, s):
        hinge = s.pos("cabinet_door")
        closed_handle = hinge + np.array([-0.073, 0.245, 0.0])
        return np.array([closed_handle[0], closed_handle[1], s.pos("door_handle")[2], 0.0])

    def success(self, s):
        return s.joint("door_hinge") <= self.cfg["closed_at"]

    def contact_point(self, s):
        hinge, along, normal, angle = door_frame(s)
        p = hinge + along * PUSH_RADIUS + normal * (0.016 + STANDOFF)
        return np.array([p[0], p[1], PUSH_HEIGHT]), normal, angle

    def reward(self, s):
        p, _normal, angle = self.contact_point(s)
        reach = near(np.linalg.norm(s.tcp - p), 0.03, 0.1)
        return staged(reach, 1.0 - angle / 1.5)

    def expert(self, s):
        p, normal, angle = self.contact_point(s)
        yield Reach(p[0], p[1], p[2] + 0.1, angle)
        yield Grasp()  # close the fingers: the push uses the closed fingertips
        for _ in range(6):
            p, normal, angle = self.contact_point(s)
            if angle <= self.cfg["closed_at"] * 0.5:
                break
            yield Reach(*p, angle)
            step = min(self.cfg["push_angle"], angle)
            yield Push(*(-normal[:2] * (STANDOFF + PUSH_RADIUS * step + 0.01)))
        yield Lift(0.08)
