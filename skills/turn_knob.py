"""Turn the stove knob a quarter turn counter-clockwise."""

import numpy as np

from robot_cl.primitives import Lift, Release, Rotate
from robot_cl.programs import grasp_at
from robot_cl.skills import Skill, near, register_skill, staged


@register_skill
class TurnKnob(Skill):
    name = "turn_knob"
    description = "Grip the knob's fin and turn the knob a quarter turn counter-clockwise (seen from above)."
    elements = ("knob_base", "knob")
    affordances = {"reach": ("knob_top",)}  # where primitive calls can make progress (RL bonus)
    observe = ("knob",)
    config = {
        "max_steps": 120,
        "init": {"knob_turn": [-0.3, 0.3]},
        "turn": 1.5708,  # rad, relative to the initial angle (counter-clockwise seen from above)
        "tolerance": 0.25,  # rad short of the full turn that still counts
    }

    def goal(self, s):
        return np.array([*s.pos("knob_top"), s.joint("knob_turn") + self.cfg["turn"]])

    def turned(self, s) -> float:
        """Fraction of the commanded turn done so far."""
        start = s.goal[3] - self.cfg["turn"]
        return (s.joint("knob_turn") - start) / self.cfg["turn"]

    def success(self, s):
        return self.turned(s) * abs(self.cfg["turn"]) >= abs(self.cfg["turn"]) - self.cfg["tolerance"]

    def reward(self, s):
        reach = near(np.linalg.norm(s.tcp - s.pos("knob_top")), 0.01, 0.05)
        return staged(reach, self.turned(s) * abs(self.cfg["turn"]) / (abs(self.cfg["turn"]) - self.cfg["tolerance"]))

    def expert(self, s):
        # Fingers straddle the fin: the gripper yaw equals the knob angle.
        if not (yield from grasp_at(lambda: (s.pos("knob_top"), s.joint("knob_turn")), approach=0.06)):
            return
        overshoot = 0.08 * np.sign(self.cfg["turn"])
        yield Rotate(s.goal[3] - s.joint("knob_turn") + overshoot)
        yield Release()
        yield Lift(0.06)
