"""The 'adding a skill' example in docs/ARCHITECTURE.md works exactly as written."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import torch

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


TINY = [
    "curriculum.demos=4",
    "eval=quick",
    "eval.recovery.enabled=false",
    "learner.updates=60",
    "learner.batch_size=32",
    "progress=false",
    "workers=1",
]


def run_documented(marker: str, tmp_path, *extra: str) -> tuple[dict, Path]:
    """Write the example under ``marker`` to its file, then run the first command of the bash block that
    follows it, as written, with tiny budgets added; returns the run's metrics and folder."""
    doc = (REPO_ROOT / "docs" / "ARCHITECTURE.md").read_text()
    match = re.search(rf"<!-- {marker}: (\S+) -->\s*```python\n(.*?)```.*?```bash\n(.*?)```", doc, re.S)
    assert match, f"{marker} not found in docs/ARCHITECTURE.md"
    (tmp_path / match.group(1)).write_text(match.group(2))
    command = shlex.split(match.group(3).replace("\\\n", " ").splitlines()[0], comments=True)
    assert command[0] == "robot-cl"
    run = tmp_path / "run"
    args = [*command[1:], *TINY, f"cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={run}", *extra]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-m", "robot_cl.cli", *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads((run / "metrics.json").read_text()), run


def test_worked_example_strategy_runs_in_a_curriculum(tmp_path):
    m, run = run_documented("worked-example-strategy", tmp_path, "curriculum=mini")
    assert m["run"]["strategy"] == ["anchor_pull"]
    assert m["memory_bytes"][0] > 0  # its anchor and weights are stored after the first skill
    assert "anchor_pull_penalty" in (run / "log.csv").read_text()  # its penalty was in the second skill's loss


def test_worked_example_learner_trains_with_its_own_optimizer(tmp_path):
    m, run = run_documented("worked-example-learner", tmp_path, "curriculum=mini")
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["learner"]["name"] == "sgd_bc" and cfg["learner"]["momentum"] == 0.9
    state = torch.load(run / "checkpoints" / "stage_01.pt", weights_only=True)
    assert "momentum_buffer" in str(state["learner"]["optimizer"]["state"])  # SGD's state, not Adam's exp_avg
    assert len(m["success_matrix"]) == 2


def test_worked_example_suite_fills_the_tasks_and_its_expert_is_learned(tmp_path):
    m, run = run_documented("worked-example-suite", tmp_path, "learner.updates=300")
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["curriculum"]["skills"] == ["near", "far"]
    assert cfg["curriculum"]["tasks"]["far"] == {"suite": "point", "kwargs": {"target": -0.6}}  # env id, expert: the suite's
    assert m["success_matrix"][0][0] > 0.5  # the flat policy imitates the suite's expert


def test_worked_example_tasks_of_different_sizes_are_padded_to_one_policy(tmp_path):
    m, run = run_documented("worked-example-sizes", tmp_path, "learner.updates=300")
    assert m["tasks"] == ["line", "plane", "space"] and len(m["success_matrix"]) == 3
    assert [m["success_matrix"][i][i] for i in range(3)] == [1.0, 1.0, 1.0]  # each task learned in its own size
    spec = torch.load(run / "checkpoints" / "stage_02.pt", weights_only=True)["policy_spec"]
    assert spec["act_dim"] == 3 and spec["action_sizes"] == [1, 2, 3]  # the loss masks each task's padding


def test_tasks_of_different_sizes_without_padding_stop_before_any_work(tmp_path):
    doc = (REPO_ROOT / "docs" / "ARCHITECTURE.md").read_text()
    module = re.search(r"<!-- worked-example-sizes: (\S+) -->\s*```python\n(.*?)```", doc, re.S)
    (tmp_path / module.group(1)).write_text(module.group(2))
    args = [
        "imports=[reach_suite]",
        "policy=flat",
        "curriculum=mini",
        "++curriculum.skills=[line,space]",
        "++curriculum.task_defaults={suite: reach}",
        "++curriculum.tasks={line: {kwargs: {dims: 1}}, space: {kwargs: {dims: 3}}}",
        f"cache_dir={tmp_path / 'cache'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "robot_cl.cli", *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and len(lines) == 1, out.stderr[-2000:]
    assert "line (2, 1)" in lines[0] and "space (6, 3)" in lines[0] and "obs_size" in lines[0] and "action_size" in lines[0]
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()  # no demonstrations, no run folder
