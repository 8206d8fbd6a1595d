"""Shared fixtures. Importing robot_cl selects headless rendering (MUJOCO_GL) before MuJoCo loads."""

import pytest

import robot_cl  # noqa: F401  (selects MUJOCO_GL before any test imports MuJoCo)


@pytest.fixture(scope="session")
def demo_sets(tmp_path_factory):
    """Five demonstrations each of two skills (generated once per test session)."""
    from robot_cl import demos

    return demos.load_or_generate(["press_button", "open_drawer"], range(0, 5), tmp_path_factory.mktemp("demos"))
