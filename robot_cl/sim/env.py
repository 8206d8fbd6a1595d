"""Gymnasium environment: one household skill on the Panda in the kitchen, on any simulator backend.

The observation and action layout is :mod:`robot_cl.layout`'s (29 values; ``[dx, dy, dz, dyaw, grip]``
in ``[-1, 1]``, tracked by the backend's Cartesian controller). ``info["success"]`` is the skill's
success predicate at this step. Episodes end by truncation after the skill's ``max_steps`` control
steps; success does not terminate them. The engine is ``sim.backend`` (:data:`robot_cl.sim.BACKENDS`).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from robot_cl.config import load_yaml, merge
from robot_cl.errors import ConfigError, choices
from robot_cl.layout import ACT_DIM, ENTITY_SIZE, GOAL, HOUSEHOLD, OBS_DIM, OPENING, SLOT1, TCP, VEL
from robot_cl.paths import CONFIGS_DIR
from robot_cl.primitives import Command, EEState, Program
from robot_cl.sim import shift
from robot_cl.sim.backend import BACKENDS
from robot_cl.skills import Skill, get_skill


def default_config() -> dict[str, Any]:
    """The household simulator's defaults (``configs/sim/household.yaml``)."""
    return load_yaml(CONFIGS_DIR / "sim" / "household.yaml")


class HouseholdEndEffector:
    """Primitive adapter for :class:`HouseholdEnv`: reads the tool state from the observation."""

    has_yaw = True

    def __init__(self, sim_cfg: dict) -> None:
        ctl, prim = sim_cfg["controller"], sim_cfg["primitives"]
        self.pos_step, self.yaw_step = float(ctl["pos_step"]), float(ctl["yaw_step"])
        self.gain = float(prim["gain"])
        self.pos_tolerance, self.yaw_tolerance = float(prim["pos_tolerance"]), float(prim["yaw_tolerance"])
        self.stall_steps = int(prim["stall_steps"])
        self.tip_offset = float(prim["tip_offset"])
        self.workspace_low = np.array(ctl["workspace_low"], dtype=float)  # where the tool can go (primitive-space RL)
        self.workspace_high = np.array(ctl["workspace_high"], dtype=float)

    def state(self, obs: np.ndarray) -> EEState:
        return EEState(obs[TCP].astype(float), math.atan2(float(obs[3]), float(obs[4])), float(obs[OPENING]))

    def action(self, cmd: Command) -> np.ndarray:
        return np.array([*cmd.dpos, cmd.dyaw, cmd.grip], dtype=np.float32)


class HouseholdEnv(gym.Env):
    """A household manipulation skill as a Gymnasium environment.

    Args:
        skill: skill name (see ``robot_cl.list_skills()``) or a :class:`Skill` instance.
        render_mode: ``None`` or ``"rgb_array"``.
        sim_config: overrides of ``configs/sim/household.yaml`` (nested dict).
        backend: the simulator backend (overrides ``sim_config["backend"]``; the Gymnasium ids set it).
        skill_config: overrides of the skill's ``default_config()``.
        width, height, camera: render settings (default from the sim config).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}
    layout = HOUSEHOLD  # the observation layout (robot_cl.layout)

    def __init__(
        self,
        skill: str | Skill = "press_button",
        render_mode: str | None = None,
        sim_config: dict | None = None,
        skill_config: dict | None = None,
        width: int | None = None,
        height: int | None = None,
        camera: str | None = None,
        backend: str | None = None,
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ConfigError(f"unknown render_mode {render_mode!r}; valid: None, {choices(self.metadata['render_modes'])}")
        self.cfg = merge(default_config(), sim_config, where="sim")
        if backend is not None:
            self.cfg["backend"] = backend
        if self.cfg["backend"] not in BACKENDS:
            raise ConfigError(f"unknown simulator backend {self.cfg['backend']!r}; valid: {choices(BACKENDS)}")
        self.cfg["shift"] = shift.check(self.cfg["shift"])
        self.skill = skill if isinstance(skill, Skill) else get_skill(skill)(skill_config)
        self.backend = BACKENDS[self.cfg["backend"]](self.cfg)
        self.scene = self.backend.scene
        self.skill.validate(self.scene, self.backend.name)
        self.control_dt = self.backend.control_dt
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.control_dt)}
        self.end_effector = HouseholdEndEffector(self.cfg)
        self.max_steps = self.skill.max_steps
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(OBS_DIM,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(ACT_DIM,), dtype=np.float32)

        self.render_mode = render_mode
        r = self.cfg["render"]
        self.width, self.height = int(width or r["width"]), int(height or r["height"])
        self.camera = camera or r["camera"]
        if self.camera not in self.backend.cameras():
            raise ConfigError(f"unknown camera {self.camera!r}; valid: {choices(self.backend.cameras())}")

        self._slots = list(self.skill.observe)
        self._obs = np.zeros(OBS_DIM, dtype=np.float64)
        self._prev_tcp = np.zeros(3)
        self._t = 0
        self.shift_values = dict(shift.NEUTRAL)

    # -- gymnasium API -------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.shift_values = shift.draw(self.cfg["shift"], self.np_random)  # no draws for fixed values
        self.backend.apply_shift(self.shift_values)
        self.backend.reset(self.np_random, self.skill)
        self._t = 0
        self._prev_tcp = self.backend.tool()[0].copy()
        return self._observe(), {"success": bool(self.skill.success(self.scene))}

    def step(self, action):
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (ACT_DIM,) or not np.all(np.isfinite(a)):
            raise ValueError(f"action must be {ACT_DIM} finite numbers in [-1, 1], got {action!r}")
        self._prev_tcp = self.backend.tool()[0].copy()
        self.backend.act(a)
        self.backend.step()
        self._t += 1
        obs = self._observe()
        success = bool(self.skill.success(self.scene))
        reward = 1.0 if success else float(self.skill.reward(self.scene))
        return obs, reward, False, self._t >= self.max_steps, {"success": success}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return self.render_frame()

    def close(self) -> None:
        self.backend.close()

    # -- the task protocol (robot_cl.tasks.TaskEnv) -----------------------------------------------
    def expert(self) -> Program:
        """The skill's scripted expert for the current episode, as a program of primitives."""
        return self.skill.expert(self.scene)

    def affordance_points(self) -> dict[str, list[np.ndarray]]:
        """Per primitive name, the current positions of the points the skill declares it useful at."""
        return {prim: [self.scene.pos(p) for p in points] for prim, points in self.skill.affordances.items()}

    # -- helpers -------------------------------------------------------------------------------
    def render_frame(self, camera: str | None = None) -> np.ndarray:
        """RGB frame (H, W, 3) uint8 from a named camera, whatever ``render_mode`` is."""
        return self.backend.render(camera or self.camera, self.width, self.height)

    def _observe(self) -> np.ndarray:
        o, sc = self._obs, self.scene
        tcp, yaw = self.backend.tool()
        o[TCP] = tcp
        o[3], o[4] = math.sin(yaw), math.cos(yaw)
        o[OPENING] = sc.opening
        o[VEL] = (tcp - self._prev_tcp) / self.control_dt
        o[SLOT1.start :] = 0.0
        for i, name in enumerate(self._slots):
            sc.entity(name, o[SLOT1.start + ENTITY_SIZE * i : SLOT1.start + ENTITY_SIZE * (i + 1)])
        o[GOAL] = sc.goal
        noise = self.shift_values["obs_noise"]
        if noise > 0:  # sensor noise (sim.shift.obs_noise): the scene itself, and success, are unaffected
            return (o + self.np_random.normal(0.0, noise, size=o.shape)).astype(np.float32)
        return o.astype(np.float32)
