"""Press the light-switch button on the counter."""

import numpy as np

from robot_cl.primitives import Lift, Press, Reach
from robot_cl.skills import Skill, near, register_skill, staged


@register_skill
class PressButton(Skill):
    name = "press_button"
    description = "Press the push button (light switch) on the counter until it clicks."
    elements = ("button_base", "button")
    affordances = {"press": ("button_top",)}  # where primitive calls can make progress (RL bonus)
    observe = ("button",)
    config = {
        "max_steps": 100,
        "init": {},  # the button housing moves with the per-episode fixture jitter
        "pressed_depth": 0.012,  # m of the button's 18 mm travel
    }

    def goal(self, s):
        return np.array([*s.pos("button_top"), self.cfg["pressed_depth"]])

    def success(self, s):
        return -s.joint("button_press") >= self.cfg["pressed_depth"]

    def reward(self, s):
        top = s.pos("button_top")
        over = near(np.linalg.norm(s.tcp[:2] - top[:2]), 0.01, 0.05)
        # Fingertips down on the button's top (one-sided: pressing takes them lower). Without this
        # stage, hovering over the button at any height paid as much as touching it, and RL agents
        # stalled there (docs/results.md).
        tip = s.cfg["primitives"]["tip_offset"]  # the arm's: how far the fingertips reach below the tcp
        down = near(max(0.0, s.tcp[2] - tip - top[2]), 0.01, 0.05)
        return staged(over, down, -s.joint("button_press") / self.cfg["pressed_depth"])

    def expert(self, s):
        top = s.pos("button_top")
        yield Reach(top[0], top[1], top[2] + 0.06, 0.0)
        yield Press(*top, 0.025)
        yield Lift(0.06)
