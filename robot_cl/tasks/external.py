"""External tasks: any Gymnasium environment described in config, made to look like a household skill env.

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
          obs_size: null                         # pad the (adapted) observation with zeros to this size
          action_size: null                      # the policy's action size: the env reads the first entries, the
                                                 # rest are ignored (and zero in demonstrations)
          max_steps: 200                         # episode length (truncation)
          import: null                           # module imported first (one that registers the env id)
          suite: null                            # a registered task suite filling the keys above (robot_cl.tasks.suites)

Every task is wrapped by :class:`ExternalTask` so that the rest of the runner sees what it sees for
household skills: a flat float32 observation, actions in ``[-1, 1]`` (rescaled to the env's bounds),
``info["success"]`` and truncation after ``max_steps``. The tasks of one curriculum share one policy,
so they must have one observation size and one action size: tasks of a suite that differ in size set
``obs_size`` and ``action_size`` (e.g. in ``task_defaults``) to the largest, and each is padded to it.
A task with a ``primitive_expert`` records its
demonstrations from that program at both levels (raw actions and primitive calls), like a household
skill, so flat and hierarchical policies learn from the same episodes; the end effector's actions are
in the wrapper's normalised ``[-1, 1]`` space. A task with only a raw ``expert`` records raw actions and
trains flat policies only.
"""

from __future__ import annotations

import difflib
import importlib
import json
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from robot_cl.errors import ConfigError, choices
from robot_cl.primitives import Program

TASK_KEYS = (
    "env_id",
    "kwargs",
    "expert",
    "primitive_expert",
    "end_effector",
    "success_key",
    "obs_adapter",
    "obs_size",
    "action_size",
    "max_steps",
    "import",
    "suite",
)
DEFAULTS: dict[str, Any] = {
    "kwargs": {},
    "expert": None,
    "primitive_expert": None,
    "end_effector": None,
    "success_key": "success",
    "obs_adapter": None,
    "obs_size": None,
    "action_size": None,
    "max_steps": None,
    "import": None,
    "suite": None,
}


def load_object(path: str, what: str) -> Any:
    """Import ``"package.module:attr"`` (or ``"package.module.attr"``); one-line error when it does not exist."""
    module, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    if not module or not attr:
        raise ConfigError(f"{what} {path!r} must name 'module:attribute' (e.g. 'my_experts:reach')")
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


class ExternalTask(gym.Env):
    """Makes any Gymnasium task look like a household skill env to the runner (see the module docstring):
    the :class:`robot_cl.tasks.TaskEnv` protocol, on the wrapped env ``self.env``."""

    layout = None  # the observation layout is the env's own: no primitive-space anchors

    def __init__(self, env: gym.Env, name: str, spec: dict) -> None:
        self.env, self.name, self.spec_cfg = env, name, spec
        if not isinstance(env.action_space, gym.spaces.Box) or not np.all(np.isfinite(env.action_space.low)):
            raise ConfigError(f"task {name!r}: {spec['env_id']} has action space {env.action_space}; robot_cl needs a bounded Box")
        self.low, self.high = env.action_space.low.astype(np.float64), env.action_space.high.astype(np.float64)
        self.adapter = load_object(spec["obs_adapter"], "obs_adapter") if spec.get("obs_adapter") else None
        self.obs_pad = 0
        self.obs_pad = self._padding(name, "obs_size", spec.get("obs_size"), self._adapt(env.observation_space.sample()).size)
        self.env_act_dim = int(np.prod(env.action_space.shape))
        act_dim = self.env_act_dim + self._padding(name, "action_size", spec.get("action_size"), self.env_act_dim)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, self._adapt(env.observation_space.sample()).shape, np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (act_dim,), np.float32)
        self.metadata, self.render_mode = env.metadata, env.render_mode
        self.max_steps = int(spec["max_steps"]) if spec.get("max_steps") else None
        self.raw_obs: Any = None  # the env's own observation (what an expert reads)
        if spec.get("end_effector"):
            self.end_effector = load_object(spec["end_effector"], "end_effector")()
        else:
            self.end_effector = getattr(env.unwrapped, "end_effector", None)
        self.steps = 0

    @staticmethod
    def _padding(name: str, key: str, size, native: int) -> int:
        """Zeros to add so that ``native`` entries become ``size`` (``None``: none)."""
        if size is None:
            return 0
        if not isinstance(size, int) or isinstance(size, bool) or size < native:
            raise ConfigError(f"task {name!r}: {key} must be an integer >= the env's own size {native}, got {size!r}")
        return size - native

    def _adapt(self, obs) -> np.ndarray:
        out = np.asarray(self.adapter(obs) if self.adapter is not None else obs, dtype=np.float32).reshape(-1)
        return np.concatenate([out, np.zeros(self.obs_pad, np.float32)]) if self.obs_pad else out

    def to_env_action(self, action: np.ndarray) -> np.ndarray:
        """[-1, 1] -> the env's bounds (the env's own entries; padding entries are ignored)."""
        a = np.clip(np.asarray(action, dtype=np.float64)[: self.env_act_dim].reshape(self.low.shape), -1.0, 1.0)
        return (self.low + (a + 1.0) * 0.5 * (self.high - self.low)).astype(self.env.action_space.dtype)

    def from_env_action(self, action: np.ndarray) -> np.ndarray:
        """The env's bounds -> [-1, 1], padded with zeros to the action size (for recording an expert's actions)."""
        a = np.asarray(action, dtype=np.float64)
        if a.size != self.env_act_dim:
            raise ConfigError(
                f"task {self.name!r}: the expert returned {a.size} action values, {self.spec_cfg['env_id']} takes {self.env_act_dim}"
            )
        a = np.clip(a.reshape(self.low.shape), self.low, self.high)
        out = (2.0 * (a - self.low) / np.maximum(self.high - self.low, 1e-12) - 1.0).astype(np.float32).reshape(-1)
        return np.concatenate([out, np.zeros(self.action_space.shape[0] - out.size, np.float32)])

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

    def render(self):
        return self.env.render()

    def close(self) -> None:
        self.env.close()

    # -- the task protocol ------------------------------------------------------------------------
    def expert(self) -> Program:
        """The task's ``primitive_expert`` for this episode; ``observe()`` gives the env's own observation."""
        return load_object(self.spec_cfg["primitive_expert"], "primitive_expert")(lambda: self.raw_obs)

    def affordance_points(self) -> dict[str, list[np.ndarray]]:
        return {}  # an external task declares none


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


_CHECKED: dict[str, tuple[int, int, int]] = {}  # external tasks that passed check_external, with their sizes


def check_external(name: str, spec: dict) -> tuple[int, int, int]:
    """Everything that can be wrong with an external task, found before any expensive work: env id,
    expert, success key (one reset and one step). Returns (obs_dim, act_dim, the env's own action
    size before padding). A task that passed is not made again in this process (the runner checks,
    then reads the sizes)."""
    key = json.dumps([name, spec], sort_keys=True, default=str)
    if key not in _CHECKED:
        _CHECKED[key] = _check_external(name, spec)
    return _CHECKED[key]


def _check_external(name: str, spec: dict) -> tuple[int, int, int]:
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
        if spec.get("expert"):
            env.from_env_action(load_expert(spec["expert"])(env.raw_obs))  # an expert of the wrong action size: one line
        env.step(np.zeros(env.action_space.shape, dtype=np.float32))  # raises on a missing success key
    finally:
        env.close()
    return int(obs.shape[0]), int(env.action_space.shape[0]), env.env_act_dim
