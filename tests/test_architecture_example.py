"""The 'adding a skill' example in docs/ARCHITECTURE.md works exactly as written."""

import re

import gymnasium as gym
import pytest

import robot_cl
from robot_cl.paths import REPO_ROOT
from robot_cl.skills import SKILLS, load_skill_file
from robot_cl.tasks import run_expert


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


def test_worked_example_strategy_runs_in_a_curriculum(tmp_path, monkeypatch):
    import contextlib
    import io

    from robot_cl.cli import check_overrides
    from robot_cl.run import train
    from robot_cl.strategies import STRATEGIES

    doc = (REPO_ROOT / "docs" / "ARCHITECTURE.md").read_text()
    match = re.search(r"<!-- worked-example-strategy: (\S+) -->\s*```python\n(.*?)```", doc, re.S)
    assert match, "strategy worked example not found in docs/ARCHITECTURE.md"
    (tmp_path / match.group(1)).write_text(match.group(2))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = match.group(1).removesuffix(".py")
    try:
        cfg = check_overrides(
            [
                "curriculum=mini",
                "curriculum.demos=4",
                "eval=quick",
                "learner.updates=60",
                "learner.batch_size=32",
                f"cache_dir={tmp_path / 'cache'}",
                "progress=false",
                "workers=1",
                f"imports=[{module}]",
                "strategy=finetune",
                "~strategy.plugins.finetune",
                "+strategy.plugins.anchor_pull={strength: 1.0}",
            ]
        )
        with contextlib.redirect_stdout(io.StringIO()):
            m = train(cfg, tmp_path / "run")
    finally:
        STRATEGIES.pop("anchor_pull", None)
    assert m["run"]["strategy"] == ["anchor_pull"]
    assert m["memory_bytes"][0] > 0  # its anchor and weights are stored after the first skill
    assert "anchor_pull_penalty" in (tmp_path / "run" / "log.csv").read_text()  # its penalty was in the second skill's loss
