"""The pieces of a run that the runner, the reference/recovery protocol and the benchmarks share: a fresh
policy, a stage's budget and training data, the learning-curve schedule, deterministic seeds, the device."""

from __future__ import annotations

import hashlib
import json
from functools import partial
from typing import Any

import torch

from robot_cl import tasks
from robot_cl.errors import ConfigError
from robot_cl.learners import LEARNERS, RLTask
from robot_cl.policies import Policy, build_policy


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available; valid here: auto, cpu")
    return torch.device(name)


def stage_seed(seed: int, *parts: int) -> int:
    """Deterministic seed for one piece of work (stage, recovery of a skill, ...)."""
    return int(hashlib.sha1(json.dumps([seed, *parts]).encode()).hexdigest()[:8], 16)


def io_spec(cfg: dict) -> dict[str, Any]:
    """Observation and action sizes and input normalisation of the curriculum's tasks."""
    return tasks.io_spec(list(cfg["curriculum"]["skills"]), tasks.task_configs(cfg["curriculum"]))


def new_policy(cfg: dict, n_tasks: int, device: torch.device, seed: int, first_task: int = 0) -> Policy:
    """A freshly initialised policy with the module of ``first_task`` in place."""
    torch.manual_seed(seed)
    policy_cfg = LEARNERS[cfg["learner"]["name"]].policy_config(cfg["policy"], cfg["learner"])
    spec = {"cfg": policy_cfg, **io_spec(cfg), "n_tasks": n_tasks, "tasks_added": 0}
    policy = build_policy(spec).to(device)
    policy.add_task(first_task)
    return policy


def stage_budget(cfg: dict) -> int:
    """A stage's budget in the learner's unit (BC: gradient updates; RL: environment steps)."""
    return int(cfg["learner"][LEARNERS[cfg["learner"]["name"]].budget_key])


def stage_data(cfg: dict, policy: Policy, skill: str, task: int, demo):
    """What the learner trains on for one skill: its demonstrations as tensors, or (RL) its environment."""
    if LEARNERS[cfg["learner"]["name"]].needs_demos:
        return policy.dataset(demo, task)
    return RLTask(skill, partial(tasks.make_env, skill, cfg["sim"], tasks.task_configs(cfg["curriculum"])[skill]))


def curve_schedule(updates: int, points: int) -> list[int]:
    """Update counts at which the current skill is evaluated during its stage (the last is the stage end)."""
    return sorted({max(1, round(updates * c / points)) for c in range(1, points + 1)})


def eval_seeds(ev: dict, n: int) -> list[int]:
    """The seeds of ``n`` evaluation episodes: ``eval.seed_start`` on (disjoint from the demonstrations')."""
    return list(range(ev["seed_start"], ev["seed_start"] + n))
