"""The 'adding a skill' example in docs/ARCHITECTURE.md works exactly as written."""

import re

import gymnasium as gym
import pytest

import robot_cl
from robot_cl.paths import REPO_ROOT
from robot_cl.sim.env import run_expert
from robot_cl.skills import SKILLS, load_skill_file


@pytest.fixture
def isolated_registry():
    """Keep the example skill out of the registry seen by other tests."""
    saved = dict(SKILLS)
    yield
    SKILLS.clear()
    SKILLS.update(saved)
    gym.registry.pop("robot_cl/LiftCube-v0", None)


def test_worked_example_skill_loads_and_its_expert_succeeds(tmp_path, isolated_registry):
    doc = (REPO_ROOT / "docs" / "ARCHITECTURE.md").read_text()
    match = re.search(r"<!-- worked-example: (\S+) -->\s*```python\n(.*?)```", doc, re.S)
    assert match, "worked example not found in docs/ARCHITECTURE.md"
    path = tmp_path / match.group(1)
    path.write_text(match.group(2))
    load_skill_file(path)  # as the loader does for a file dropped into skills/

    assert "lift_cube" in robot_cl.list_skills()
    robot_cl.register_envs()
    env = gym.make("robot_cl/LiftCube-v0")
    successes = sum(run_expert(env, seed).success for seed in range(3))
    assert successes == 3
