"""Shared fixtures. Importing robot_cl selects headless rendering (MUJOCO_GL) before MuJoCo loads."""

import pytest

import robot_cl


@pytest.fixture(scope="session")
def skill_names() -> list[str]:
    return robot_cl.list_skills()
