"""Push the mug across the counter onto the green target."""

import numpy as np

from robot_cl.primitives import Grasp, Lift, Pull, Push, Reach
from robot_cl.programs import grip_yaw
from robot_cl.skills import Skill, near, register_skill, staged

MUG_RADIUS = 0.031
BEHIND = 0.04  # m between the mug's side and the tool before a push (clear of the handle)
PUSH_HEIGHT = 0.03


@register_skill
class PushMugToTarget(Skill):
    name = "push_mug_to_target"
    description = "Push the mug (without grasping it) onto the green target marker."
    elements = ("mug", "target")
    observe = ("mug", "target")
    config = {
        "max_steps": 250,
        "init": {"mug": {"x": [0.44, 0.52], "y": [-0.10, 0.08], "yaw": [-0.6, 0.6]}},
        "distance": [0.12, 0.18],  # m from the mug to the target
        "region": {"x": [0.38, 0.56], "y": [-0.16, 0.16]},  # where the target may land (clear of the fixtures)
        "tolerance": 0.035,
    }

    def initial_state(self, s, rng):
        super().initial_state(s, rng)
        mug, region = s.pos("mug")[:2], self.cfg["region"]
        for _ in range(100):
            angle, dist = rng.uniform(-np.pi, np.pi), rng.uniform(*self.cfg["distance"])
            target = mug + dist * np.array([np.cos(angle), np.sin(angle)])
            if region["x"][0] <= target[0] <= region["x"][1] and region["y"][0] <= target[1] <= region["y"][1]:
                break
        s.place("target", target)

    def goal(self, s):
        return np.array([*s.pos("target"), 0.0])

    def success(self, s):
        upright = s.xmat("mug")[2, 2] > 0.9
        return bool(upright and np.linalg.norm(s.pos("mug")[:2] - s.pos("target")[:2]) < self.cfg["tolerance"])

    def reward(self, s):
        mug, target = s.pos("mug"), s.pos("target")
        u = (target - mug)[:2] / max(np.linalg.norm((target - mug)[:2]), 1e-6)
        behind = np.array([*(mug[:2] - u * (MUG_RADIUS + BEHIND)), PUSH_HEIGHT])
        reach = near(np.linalg.norm(s.tcp - behind), 0.02, 0.1)
        return staged(reach, near(np.linalg.norm(mug[:2] - target[:2]), self.cfg["tolerance"], 0.1))

    def expert(self, s):
        yield Grasp()  # close the fingers: pushes use the closed fingertips
        for _ in range(4):  # push, look again, correct
            mug, target = s.pos("mug")[:2], s.pos("target")[:2]
            gap = target - mug
            dist = float(np.linalg.norm(gap))
            if dist < 0.8 * self.cfg["tolerance"]:
                break
            u = gap / dist
            yaw = grip_yaw(float(np.arctan2(u[1], u[0])))  # hand's long side across the push
            start = mug - u * (MUG_RADIUS + BEHIND)
            yield Reach(start[0], start[1], 0.12, yaw)
            yield Reach(start[0], start[1], PUSH_HEIGHT, yaw)
            yield Push(*(u * (dist + BEHIND - 0.01)))
            yield Pull(*(-u * 0.03), 0.0)  # back off before going up, so the fingers cannot catch the handle
            yield Lift(0.09)
