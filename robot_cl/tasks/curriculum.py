"""A curriculum's tasks: their configs, their environments, their sizes, and the checks made before any work.

A name in ``curriculum.skills`` is looked up first in ``curriculum.tasks`` (an external task,
:mod:`robot_cl.tasks.external`) and otherwise among the household skills.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym

from robot_cl.envs import DEFAULT_BACKEND, split_task
from robot_cl.envs import make as make_skill_env
from robot_cl.errors import ConfigError, choices
from robot_cl.layout import ACT_DIM, OBS_CENTER, OBS_DIM, OBS_SCALE
from robot_cl.sim.env import HouseholdEnv
from robot_cl.skills import get_skill, list_skills
from robot_cl.tasks.external import DEFAULTS, TASK_KEYS, check_external, make_external
from robot_cl.tasks.suites import TASK_SUITES


def is_external(task_cfg: Any) -> bool:
    """Whether a task config describes an external Gymnasium task (rather than household-skill overrides)."""
    return isinstance(task_cfg, dict) and task_cfg.get("env_id") is not None


def _suite_defaults(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The keys a task's ``suite`` fills in (a suite registers itself when its module is imported, e.g. by ``import:``)."""
    suite = spec.get("suite")
    return TASK_SUITES[suite].defaults(name, spec) if suite else {}  # an unknown suite: one line naming the valid ones


def task_configs(cur: dict) -> dict[str, Any]:
    """Per task name in ``cur["skills"]``: the external task spec (defaults, its suite's keys and
    ``skill_config`` merged in), or the household skill's overrides from ``skill_config`` (``None`` when none)."""
    tasks, defaults, overrides = cur.get("tasks") or {}, cur.get("task_defaults") or {}, cur.get("skill_config") or {}
    out: dict[str, Any] = {}
    for name in cur["skills"]:
        if name not in tasks:
            out[name] = overrides.get(name)
            continue
        spec = {"env_id": None, **copy.deepcopy(DEFAULTS)}
        given: set[str] = set()
        for where, layer in (("task_defaults", defaults), (f"tasks.{name}", tasks[name]), (f"skill_config.{name}", overrides.get(name))):
            for key, value in (layer or {}).items():
                if key not in TASK_KEYS:
                    raise ConfigError(f"unknown curriculum.{where} key {key!r}; valid: {choices(TASK_KEYS)}")
                spec[key] = {**spec[key], **value} if key == "kwargs" and isinstance(value, dict) else copy.deepcopy(value)
                given.add(key)
        spec.update({k: v for k, v in _suite_defaults(name, spec).items() if k not in given})
        out[name] = spec
    return out


def make_env(name: str, sim_config: dict | None = None, task_config: Any = None, **kwargs) -> gym.Env:
    """The environment of a curriculum task: an external task (``task_config`` has ``env_id``) or a household skill."""
    if is_external(task_config):
        return make_external(name, task_config, kwargs.get("render_mode"), kwargs.get("width"), kwargs.get("height"))
    return make_skill_env(name, sim_config=sim_config, skill_config=task_config, **kwargs)


def check_scene_fit(cur: dict, sim_config: dict) -> None:
    """Every household task's skill against the scene of its engine (scene elements, observed entities,
    initial-state keys, extra scene queries): one environment per engine is built and each skill is checked
    on its scene, so a skill that does not fit is one line before any demonstration is recorded."""
    cfgs, envs = task_configs(cur), {}
    try:
        for name in cur["skills"]:
            if is_external(cfgs.get(name)):
                continue
            skill, backend = split_task(name)
            backend = backend or sim_config.get("backend", DEFAULT_BACKEND)
            if backend not in envs:  # building the environment checks its own skill
                envs[backend] = HouseholdEnv(skill, sim_config=sim_config, skill_config=cfgs.get(name), backend=backend)
            else:
                get_skill(skill)(cfgs.get(name)).validate(envs[backend].scene, backend)
    finally:
        for env in envs.values():
            env.close()


def io_spec(names: list[str], cfgs: dict[str, Any]) -> dict[str, Any]:
    """Observation/action sizes and input normalisation shared by the curriculum's tasks (one-line error if they differ)."""
    sizes = {name: check_external(name, cfgs[name]) if is_external(cfgs.get(name)) else (OBS_DIM, ACT_DIM, ACT_DIM) for name in names}
    specs = {name: s[:2] for name, s in sizes.items()}
    if len(set(specs.values())) > 1:
        sizes = ", ".join(f"{n} {s}" for n, s in specs.items())
        raise ConfigError(
            f"curriculum tasks differ in (observation, action) size: {sizes}; one policy learns them all: set "
            "curriculum.task_defaults.obs_size and action_size to the largest (each task is padded to them)"
        )
    obs_dim, act_dim = next(iter(specs.values()))
    if any(is_external(cfgs.get(n)) for n in names):
        # External observations have no known ranges (Meta-World's are unbounded): no fixed normalisation.
        out = {"obs_dim": obs_dim, "act_dim": act_dim, "obs_center": None, "obs_scale": None}
        native = [sizes[n][2] for n in names]
        if any(a < act_dim for a in native):  # padded actions: the policy masks each task's padding out of its loss
            out["action_sizes"] = native
        return out
    return {"obs_dim": obs_dim, "act_dim": act_dim, "obs_center": OBS_CENTER.tolist(), "obs_scale": OBS_SCALE.tolist()}


def validate_curriculum(cur: dict, policy: str) -> None:
    """One-line errors for unknown task names, malformed external tasks and policy/task mismatches."""
    names = cur["skills"]
    tasks = cur.get("tasks") or {}
    if not isinstance(tasks, dict):
        raise ConfigError(f"curriculum.tasks must be a mapping of task names to specs, got {tasks!r}")
    for name in names:
        if not isinstance(name, str):
            raise ConfigError(f"curriculum.skills entries are task names, got {name!r}")
        if name not in tasks and name.partition("@")[0] not in list_skills():
            raise ConfigError(
                f"unknown skill {name!r}; valid: {choices([*list_skills(), *tasks])} (a skill may name its engine: <skill>@<backend>)"
            )
        if name not in tasks:
            split_task(name)  # an unknown backend after '@': one line naming the valid ones
    cfgs = task_configs(cur)
    for name in names:
        spec = cfgs[name]
        if name in tasks:
            if not is_external(spec):
                raise ConfigError(f"curriculum.tasks.{name} needs an env_id (a registered Gymnasium id) or a suite")
            if policy == "hierarchical" and not spec.get("primitive_expert"):  # checked first: it needs no env
                raise ConfigError(
                    f"task {name!r} ({spec['env_id']}) has no primitive_expert, so policy=hierarchical cannot be "
                    f"trained on it; valid: policy=flat, or set curriculum.tasks.{name}.primitive_expert"
                )
            check_external(name, spec)
    io_spec(names, cfgs)  # one observation and action size for all tasks, before any demonstration
