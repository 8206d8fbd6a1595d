"""robot_cl: continual learning of household manipulation skills in simulation.

Importing the package picks a headless OpenGL backend for MuJoCo (``MUJOCO_GL``: ``egl`` when an
NVIDIA GPU is visible, ``osmesa`` otherwise, unless already set) and registers one Gymnasium
environment per skill::

    import robot_cl
    env = robot_cl.make("open_drawer", render_mode="rgb_array")
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

__version__ = "0.1.0"


def _default_gl() -> str:
    return "egl" if Path("/proc/driver/nvidia").exists() or Path("/dev/nvidia0").exists() else "osmesa"


os.environ.setdefault("MUJOCO_GL", _default_gl())
logging.getLogger("OpenGL").setLevel(logging.WARNING)  # PyOpenGL's INFO notes are noise in every run's log
if os.environ["MUJOCO_GL"] == "osmesa":
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

from robot_cl.envs import env_id, make, register_envs  # noqa: E402
from robot_cl.errors import SkillError  # noqa: E402
from robot_cl.skills import Skill, get_skill, list_skills, register_skill  # noqa: E402

with contextlib.suppress(SkillError):  # a broken skill file is reported (one line) by the command that loads it
    register_envs()

__all__ = ["Skill", "env_id", "get_skill", "list_skills", "make", "register_envs", "register_skill"]
