"""Tasks of a curriculum: household skills, or any Gymnasium environment described in config.

A curriculum lists task names in ``skills``. A name is looked up first in ``curriculum.tasks``
(external tasks, below) and otherwise among the household skills. An external task is a mapping::

    curriculum:
      skills: [hammer, push-wall]
      task_defaults: {env_id: robot_cl/MetaWorld-v0, max_steps: 200}   # merged under every entry
      tasks:
        hammer:
          env_id: robot_cl/MetaWorld-v0          # any registered Gymnasium id
          kwargs: {task: hammer-v3}              # passed to gymnasium.make
          expert: metaworld.policies:SawyerHammerV3Policy   # raw-action expert, "module:attr": a class (instantiated),
                                                 # an object with get_action(obs), or a callable obs -> action
          primitive_expert: robot_cl.metaworld_experts:hammer   # program of motion primitives: a function
                                                 # observe -> Program, observe() giving the env's current observation
          end_effector: null                     # "module:Class" primitive adapter; default: the env's own `end_effector`
          success_key: success                   # info key that marks success (any step counts)
          obs_adapter: null                      # "module:function" mapping the env's observation to the policy's
          max_steps: 200                         # episode length (truncation)
          import: null                           # module imported first (one that registers the env id)

Every task is wrapped by :class:`ExternalTask` so that the rest of the runner sees what it sees for
household skills: a flat float32 observation, actions in ``[-1, 1]`` (rescaled to the env's bounds),
``info["success"]`` and truncation after ``max_steps``. A task with a ``primitive_expert`` records its
demonstrations from that program at both levels (raw actions and primitive calls), like a household
skill, so flat and hierarchical policies learn from the same episodes; the end effector's actions are
in the wrapper's normalised ``[-1, 1]`` space. A task with only a raw ``expert`` records raw actions and
trains flat policies only.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import json
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from robot_cl.errors import ConfigError, choices

TASK_KEYS = ("env_id", "kwargs", "expert", "primitive_expert", "end_effector", "success_key", "obs_adapter", "max_steps", "import")
DEFAULTS: dict[str, Any] = {
    "kwargs": {},
    "expert": None,
    "primitive_expert": None,
    "end_effector": None,
    "success_key": "success",
    "obs_adapter": None,
    "max_steps": None,
    "import": None,
}

if "robot_cl/MetaWorld-v0" not in gym.registry:
    gym.register(id="robot_cl/MetaWorld-v0", entry_point="robot_cl.metaworld_env:MetaWorldEnv")


def is_external(task_cfg: Any) -> bool:
    """Whether a task config describes an external Gymnasium task (rather than household-skill overrides)."""
    return isinstance(task_cfg, dict) and task_cfg.get("env_id") is not None


def task_configs(cur: dict) -> dict[str, Any]:
    """Per task name in ``cur["skills"]``: the external task spec (defaults and ``skill_config`` merged in),
    or the household skill's overrides from ``skill_config`` (``None`` when there are none)."""
    tasks, defaults, overrides = cur.get("tasks") or {}, cur.get("task_defaults") or {}, cur.get("skill_config") or {}
    out: dict[str, Any] = {}
    for name in cur["skills"]:
        if name in tasks:
            spec = {"env_id": None, **copy.deepcopy(DEFAULTS)}
            layers = (("task_defaults", defaults), (f"tasks.{name}", tasks[name]), (f"skill_config.{name}", overrides.get(name)))
            for where, layer in layers:
                for key, value in (layer or {}).items():
                    if key not in TASK_KEYS:
                        raise ConfigError(f"unknown curriculum.{where} key {key!r}; valid: {choices(TASK_KEYS)}")
                    spec[key] = {**spec[key], **value} if key == "kwargs" and isinstance(value, dict) else copy.deepcopy(value)
            out[name] = spec
        else:
            out[name] = overrides.get(name)
    return out


def load_object(path: str, what: str) -> Any:
    """Import ``"package.module:attr"`` (or ``"package.module.attr"``); one-line error when it does not exist."""
    module, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        obj = importlib.import_module(module)
    except Exception as e:
        raise ConfigError(f"{what} {path!r}: cannot import module {module!r} ({type(e).__name__}: {e})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            valid = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, valid, n=5)
            raise ConfigError(f"{what} {path!r}: {module!r} has no attribute {part!r}; close matches: {', '.join(close) or 'none'}")
        obj = getattr(obj, part)
    return obj


def load_expert(path: str) -> Callable[[np.ndarray], np.ndarray]:
    """An expert from ``"module:attr"``: a class (instantiated), an object with ``get_action(obs)``, or a callable."""
    obj = load_object(path, "expert")
    if isinstance(obj, type):
        obj = obj()
    if hasattr(obj, "get_action"):
        return obj.get_action
    if callable(obj):
        return obj
    raise ConfigError(f"expert {path!r} is neither a class, an object with get_action(obs), nor a callable")


class ExternalTask(gym.Wrapper):
    """Makes any Gymnasium task look like a household skill env to the runner (see the module docstring)."""

    def __init__(self, env: gym.Env, name: str, spec: dict) -> None:
        super().__init__(env)
        self.name, self.spec_cfg = name, spec
        if not isinstance(env.action_space, gym.spaces.Box) or not np.all(np.isfinite(env.action_space.low)):
            raise ConfigError(f"task {name!r}: {spec['env_id']} has action space {env.action_space}; robot_cl needs a bounded Box")
        self.low, self.high = env.action_space.low.astype(np.float64), env.action_space.high.astype(np.float64)
        self.adapter = load_object(spec["obs_adapter"], "obs_adapter") if spec.get("obs_adapter") else None
        sample = self._adapt(env.observation_space.sample())
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, sample.shape, np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, env.action_space.shape, np.float32)
        self.max_steps = int(spec["max_steps"]) if spec.get("max_steps") else None
        self.raw_obs: Any = None  # the env's own observation (what an expert reads)
        if spec.get("end_effector"):
            self.end_effector = load_object(spec["end_effector"], "end_effector")()
        else:
            self.end_effector = getattr(env.unwrapped, "end_effector", None)
        self.steps = 0

    def _adapt(self, obs) -> np.ndarray:
        out = self.adapter(obs) if self.adapter is not None else obs
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def to_env_action(self, action: np.ndarray) -> np.ndarray:
        """[-1, 1] -> the env's bounds."""
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        return (self.low + (a + 1.0) * 0.5 * (self.high - self.low)).astype(self.env.action_space.dtype)

    def from_env_action(self, action: np.ndarray) -> np.ndarray:
        """The env's bounds -> [-1, 1] (for recording an expert's actions)."""
        a = np.clip(np.asarray(action, dtype=np.float64), self.low, self.high)
        return (2.0 * (a - self.low) / np.maximum(self.high - self.low, 1e-12) - 1.0).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.raw_obs, self.steps = obs, 0
        return self._adapt(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(self.to_env_action(action))
        self.raw_obs = obs
        self.steps += 1
        key = self.spec_cfg["success_key"]
        if key not in info:
            raise ConfigError(f"task {self.name!r}: info has no success key {key!r}; keys: {choices(info)}")
        info = dict(info)
        info["success"] = bool(info[key])
        if self.max_steps is not None and self.steps >= self.max_steps:
            truncated = True
        return self._adapt(obs), float(reward), bool(terminated), bool(truncated), info


def end_effector(env: gym.Env):
    """The primitive adapter of a curriculum task's env (an external task's, or the household env's)."""
    return env.end_effector if isinstance(env, ExternalTask) else env.unwrapped.end_effector


def affordance_points(env: gym.Env) -> dict[str, list[np.ndarray]]:
    """Per primitive name, the current positions of the points the task's skill declares it useful at
    (``Skill.affordances``); empty for tasks that declare none (external tasks)."""
    base = env.unwrapped
    skill, scene = getattr(base, "skill", None), getattr(base, "scene", None)
    if skill is None or scene is None or isinstance(env, ExternalTask):
        return {}
    return {prim: [scene.pos(p) for p in points] for prim, points in skill.affordances.items()}


def expert_program(env: gym.Env):
    """A fresh primitive program of the task's scripted expert, for an env that has just been reset."""
    if isinstance(env, ExternalTask):
        return load_object(env.spec_cfg["primitive_expert"], "primitive_expert")(lambda: env.raw_obs)
    return env.unwrapped.expert()


def make_external(
    name: str, spec: dict, render_mode: str | None = None, width: int | None = None, height: int | None = None
) -> ExternalTask:
    """Make and wrap an external task's env; one-line errors for an unknown id or bad kwargs."""
    if spec.get("import"):
        load_object(spec["import"] + ":__name__", "import")
    env_id = spec["env_id"]
    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=5, cutoff=0.4)
        raise ConfigError(f"task {name!r}: unknown Gymnasium env id {env_id!r}; close registered ids: {', '.join(close) or 'none'}")
    kwargs = dict(spec.get("kwargs") or {})
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    try:
        try:
            env = gym.make(env_id, **kwargs, **({"width": width, "height": height} if width and height else {}))
        except TypeError:  # an env without width/height arguments
            env = gym.make(env_id, **kwargs)
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"task {name!r}: gymnasium.make({env_id!r}, **{kwargs}) failed: {type(e).__name__}: {e}") from None
    return ExternalTask(env, name, spec)


def make_env(name: str, sim_config: dict | None = None, task_config: Any = None, **kwargs) -> gym.Env:
    """The environment of a curriculum task: an external task (``task_config`` has ``env_id``) or a household skill."""
    if is_external(task_config):
        return make_external(name, task_config, kwargs.get("render_mode"), kwargs.get("width"), kwargs.get("height"))
    import robot_cl

    return robot_cl.make(name, sim_config=sim_config, skill_config=task_config, **kwargs)


_CHECKED: dict[str, tuple[int, int]] = {}  # external tasks that passed check_external, with their sizes


def check_external(name: str, spec: dict) -> tuple[int, int]:
    """Everything that can be wrong with an external task, found before any expensive work: env id,
    expert, success key (one reset and one step). Returns (obs_dim, act_dim). A task that passed is
    not made again in this process (the runner checks, then reads the sizes)."""
    key = json.dumps([name, spec], sort_keys=True, default=str)
    if key not in _CHECKED:
        _CHECKED[key] = _check_external(name, spec)
    return _CHECKED[key]


def _check_external(name: str, spec: dict) -> tuple[int, int]:
    if spec.get("expert"):
        load_expert(spec["expert"])
    if spec.get("primitive_expert") and not callable(load_object(spec["primitive_expert"], "primitive_expert")):
        raise ConfigError(f"task {name!r}: primitive_expert {spec['primitive_expert']!r} is not a function observe -> program")
    env = make_external(name, spec)
    try:
        if spec.get("primitive_expert") and env.end_effector is None:
            raise ConfigError(
                f"task {name!r}: {spec['env_id']} has no `end_effector` for its primitive_expert; "
                f"set curriculum.tasks.{name}.end_effector to a 'module:Class' primitive adapter"
            )
        obs, _ = env.reset(seed=0)
        env.step(np.zeros(env.action_space.shape, dtype=np.float32))  # raises on a missing success key
    finally:
        env.close()
    return int(obs.shape[0]), int(env.action_space.shape[0])


def io_spec(names: list[str], cfgs: dict[str, Any]) -> dict[str, Any]:
    """Observation/action sizes and input normalisation shared by the curriculum's tasks (one-line error if they differ)."""
    from robot_cl.sim.env import ACT_DIM, OBS_CENTER, OBS_DIM, OBS_SCALE

    specs = {}
    for name in names:
        if is_external(cfgs.get(name)):
            specs[name] = check_external(name, cfgs[name])
        else:
            specs[name] = (OBS_DIM, ACT_DIM)
    if len(set(specs.values())) > 1:
        raise ConfigError("curriculum tasks differ in (observation, action) size: " + ", ".join(f"{n} {s}" for n, s in specs.items()))
    obs_dim, act_dim = next(iter(specs.values()))
    if any(is_external(cfgs.get(n)) for n in names):
        # External observations have no known ranges (Meta-World's are unbounded): no fixed normalisation.
        return {"obs_dim": obs_dim, "act_dim": act_dim, "obs_center": None, "obs_scale": None}
    return {"obs_dim": obs_dim, "act_dim": act_dim, "obs_center": OBS_CENTER.tolist(), "obs_scale": OBS_SCALE.tolist()}


def validate_curriculum(cur: dict, policy: str) -> None:
    """One-line errors for unknown task names, malformed external tasks and policy/task mismatches."""
    from robot_cl.skills import list_skills

    names = cur["skills"]
    tasks = cur.get("tasks") or {}
    if not isinstance(tasks, dict):
        raise ConfigError(f"curriculum.tasks must be a mapping of task names to specs, got {tasks!r}")
    for name in names:
        if not isinstance(name, str):
            raise ConfigError(f"curriculum.skills entries are task names, got {name!r}")
        if name not in tasks and name not in list_skills():
            raise ConfigError(f"unknown skill {name!r}; valid: {choices([*list_skills(), *tasks])}")
    cfgs = task_configs(cur)
    for name in names:
        spec = cfgs[name]
        if name in tasks:
            if not is_external(spec):
                raise ConfigError(f"curriculum.tasks.{name} needs an env_id (a registered Gymnasium id)")
            if policy == "hierarchical" and not spec.get("primitive_expert"):  # checked first: it needs no env
                raise ConfigError(
                    f"task {name!r} ({spec['env_id']}) has no primitive_expert, so policy=hierarchical cannot be "
                    f"trained on it; valid: policy=flat, or set curriculum.tasks.{name}.primitive_expert"
                )
            check_external(name, spec)
