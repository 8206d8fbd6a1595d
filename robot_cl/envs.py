"""Gymnasium registration: one environment id per skill and simulator backend --
``robot_cl/<CamelName>-v0`` on MuJoCo, ``robot_cl/<CamelName>-<backend>-v0`` on another engine
(``robot_cl/OpenDrawer-pybullet-v0``).

A task name ``<skill>@<backend>`` (``open_drawer@pybullet``) is the skill on that engine, whatever
``sim.backend`` says: a curriculum can learn a skill on MuJoCo and meet it again on PyBullet as a later stage.
"""

from __future__ import annotations

import gymnasium as gym

from robot_cl.errors import ConfigError, choices
from robot_cl.sim.backend import BACKENDS
from robot_cl.skills import get_skill, list_skills

NAMESPACE = "robot_cl"
ENTRY_POINT = "robot_cl.sim.env:HouseholdEnv"
DEFAULT_BACKEND = "mujoco"  # the ids without a backend in them


def split_task(name: str) -> tuple[str, str | None]:
    """``"open_drawer@pybullet"`` -> ``("open_drawer", "pybullet")``; a plain skill name has no backend.
    One line naming the valid skills or backends if either part is unknown."""
    skill, _, backend = name.partition("@")
    get_skill(skill)
    if backend and backend not in BACKENDS:
        raise ConfigError(f"unknown simulator backend {backend!r} in task {name!r}; valid: {choices(BACKENDS)}")
    return skill, backend or None


def env_id(skill: str, backend: str | None = None) -> str:
    """Gymnasium id of a skill on a backend, e.g. ``open_drawer`` -> ``robot_cl/OpenDrawer-v0``,
    ``("open_drawer", "pybullet")`` -> ``robot_cl/OpenDrawer-pybullet-v0``."""
    camel = "".join(part.capitalize() for part in skill.split("_"))
    engine = "" if backend in (None, DEFAULT_BACKEND) else f"-{backend}"
    return f"{NAMESPACE}/{camel}{engine}-v0"


def register_envs() -> list[str]:
    """Register every available skill on every backend with Gymnasium (idempotent); returns the ids."""
    ids = []
    for name in list_skills():
        for backend in BACKENDS:
            eid = env_id(name, backend)
            if eid not in gym.registry:
                gym.register(id=eid, entry_point=ENTRY_POINT, kwargs={"skill": name, "backend": backend})
            ids.append(eid)
    return ids


def make(skill: str, **kwargs) -> gym.Env:
    """Make the environment of a skill by name (``robot_cl.make("open_drawer", render_mode="rgb_array")``;
    ``robot_cl.make("open_drawer@pybullet")`` on PyBullet). Without ``@backend``, ``sim_config["backend"]`` decides."""
    name, backend = split_task(skill)  # one-line error listing the valid skills
    register_envs()
    if backend is None:
        backend = (kwargs.get("sim_config") or {}).get("backend", DEFAULT_BACKEND)
    return gym.make(env_id(name, backend), **kwargs)
