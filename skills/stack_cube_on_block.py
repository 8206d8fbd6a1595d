"""Stack the cube on the block."""

import numpy as np

from robot_cl.programs import grip_yaw, pick, place
from robot_cl.skills import Skill, near, register_skill, staged

CUBE_HALF, BLOCK_HALF_HEIGHT = 0.02, 0.025


@register_skill
class StackCubeOnBlock(Skill):
    name = "stack_cube_on_block"
    description = "Pick the red cube up and set it down on top of the blue block."
    elements = ("cube", "block")
    affordances = {"pick": ("cube",), "reach": ("block",)}  # where primitive calls can make progress (RL bonus)
    observe = ("cube", "block")
    config = {
        "max_steps": 200,
        "init": {
            "cube": {"x": [0.38, 0.55], "y": [-0.16, 0.16], "yaw": [-0.8, 0.8]},
            "block": {"x": [0.38, 0.55], "y": [-0.16, 0.16], "yaw": [-0.8, 0.8]},
        },
        "xy_tolerance": 0.025,
    }

    def goal(self, s):
        return np.array([*(s.pos("block") + [0, 0, BLOCK_HALF_HEIGHT + CUBE_HALF]), 0.0])

    def on_block(self, s) -> bool:
        cube, block = s.pos("cube"), s.pos("block")
        dz = cube[2] - block[2] - (BLOCK_HALF_HEIGHT + CUBE_HALF)
        return bool(np.linalg.norm(cube[:2] - block[:2]) < self.cfg["xy_tolerance"] and abs(dz) < 0.008)

    def success(self, s):
        return self.on_block(s) and not s.grasping("cube")

    def reward(self, s):
        cube, block = s.pos("cube"), s.pos("block")
        reach = near(np.linalg.norm(s.tcp - cube), 0.012, 0.1)
        held = 1.0 if s.grasping("cube") or self.on_block(s) else 0.0
        over = near(np.linalg.norm(cube[:2] - block[:2]), 0.01, 0.1)
        return staged(reach, held, over, float(self.on_block(s)), float(not s.grasping("cube")))

    def expert(self, s):
        cube_grip = lambda: (s.pos("cube"), grip_yaw(s.yaw("cube"), np.pi / 2))  # noqa: E731
        if not (yield from pick(cube_grip, lift=0.1)):
            return
        top = s.pos("block")[2] + BLOCK_HALF_HEIGHT
        yield from place(s.pos("block"), s.tcp_yaw, carry_height=top + 0.1, release_height=top + CUBE_HALF + 0.006)
