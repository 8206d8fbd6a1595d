"""Gymnasium registration: one environment id per skill, ``robot_cl/<CamelName>-v0``."""

from __future__ import annotations

import gymnasium as gym

from robot_cl.skills import get_skill, list_skills

NAMESPACE = "robot_cl"
ENTRY_POINT = "robot_cl.sim.env:HouseholdEnv"


def env_id(skill: str) -> str:
    """Gymnasium id of a skill, e.g. ``open_drawer`` -> ``robot_cl/OpenDrawer-v0``."""
    return f"{NAMESPACE}/{''.join(part.capitalize() for part in skill.split('_'))}-v0"


def register_envs() -> list[str]:
    """Register every available skill with Gymnasium (idempotent); returns the ids."""
    ids = []
    for name in list_skills():
        eid = env_id(name)
        if eid not in gym.registry:
            gym.register(id=eid, entry_point=ENTRY_POINT, kwargs={"skill": name})
        ids.append(eid)
    return ids


def make(skill: str, **kwargs) -> gym.Env:
    """Make the environment of a skill by name (``robot_cl.make("open_drawer", render_mode="rgb_array")``)."""
    get_skill(skill)  # one-line error listing the valid skills
    register_envs()
    return gym.make(env_id(skill), **kwargs)
