"""Open the cabinet door by its handle, following the door's arc."""

import numpy as np

from robot_cl.primitives import Lift, Reach, Release
from robot_cl.programs import grasp_at
from robot_cl.skills import Skill, near, register_skill, staged


def swing(hinge: np.ndarray, point: np.ndarray, dangle: float) -> np.ndarray:
    """Where ``point`` goes when the door turns by ``dangle`` about the vertical hinge axis."""
    c, s_ = np.cos(dangle), np.sin(dangle)
    r = point[:2] - hinge[:2]
    return np.array([hinge[0] + c * r[0] - s_ * r[1], hinge[1] + s_ * r[0] + c * r[1], point[2]])


@register_skill
class OpenCabinet(Skill):
    name = "open_cabinet"
    description = "Grasp the cabinet door's handle and swing the door open."
    elements = ("cabinet", "cabinet_door")
    affordances = {"reach": ("door_handle",)}  # where primitive calls can make progress (RL bonus)
    observe = ("cabinet",)
    config = {
        "max_steps": 200,
        "init": {"door_hinge": [0.0, 0.05]},
        "open_at": 1.2,  # rad (about 70 degrees)
        "swing_to": 1.45,
        "arc_step": 0.3,  # rad per reach along the arc
    }

    def goal(self, s):
        handle = swing(s.pos("cabinet_door"), s.pos("door_handle"), self.cfg["swing_to"] - s.joint("door_hinge"))
        return np.array([*handle, self.cfg["open_at"]])

    def success(self, s):
        return s.joint("door_hinge") >= self.cfg["open_at"]

    def reward(self, s):
        reach = near(np.linalg.norm(s.tcp - s.pos("door_handle")), 0.015, 0.1)
        return staged(reach, s.joint("door_hinge") / self.cfg["open_at"])

    def expert(self, s):
        # The hand's long side stays parallel to the door: gripper yaw = door angle.
        if not (yield from grasp_at(lambda: (s.pos("door_handle"), s.joint("door_hinge")), approach=0.07, offset=-0.005)):
            return
        for _ in range(8):  # re-decided from the door's measured angle after every move
            angle = s.joint("door_hinge")
            if angle >= self.cfg["swing_to"] - 0.05:
                break
            nxt = min(angle + self.cfg["arc_step"], self.cfg["swing_to"])
            yield Reach(*swing(s.pos("cabinet_door"), s.tcp, nxt - angle), nxt)
        yield Release()
        yield Lift(0.08)
