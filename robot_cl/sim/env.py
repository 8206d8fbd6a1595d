"""Gymnasium environment: one household skill on the Panda in the kitchen scene.

Observation (float32, 29 values)::

    [0:3]   tool centre point position (m)
    [3:5]   sin, cos of the gripper yaw
    [5]     gripper opening in [0, 1]
    [6:9]   tool velocity (m/s)
    [9:17]  entity slot 1: position (3), orientation quaternion (4), state (1)
    [17:25] entity slot 2: same layout, zeros if the skill observes one entity
    [25:29] goal: position (3) and scalar (1)

Action (float32, 5 values in [-1, 1]): tool displacement x, y, z, yaw change, gripper
(-1 open ... +1 closed), tracked by :class:`robot_cl.sim.controller.CartesianController`.

``info["success"]`` is the skill's success predicate at this step. Episodes end by truncation
after the skill's ``max_steps`` control steps; success does not terminate them.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from robot_cl.config import load_yaml, merge
from robot_cl.errors import ConfigError, choices
from robot_cl.paths import CONFIGS_DIR
from robot_cl.primitives import Command, EEState, PrimitiveRunner, Program, Trace
from robot_cl.sim.controller import CartesianController
from robot_cl.sim.scene import Scene
from robot_cl.skills import Skill, get_skill

OBS_DIM = 29
ACT_DIM = 5
TCP, YAW, OPENING, VEL, SLOT1, SLOT2, GOAL = (
    slice(0, 3),
    slice(3, 5),
    5,
    slice(6, 9),
    slice(9, 17),
    slice(17, 25),
    slice(25, 29),
)


# Fixed input normalisation for policies (centre and scale per observation value): positions
# around the middle of the workspace in units of 20 cm, velocities in units of 0.5 m/s. Fixed
# rather than estimated from data, so that it cannot drift from one skill to the next.
_POS_C, _POS_S = [0.45, 0.0, 0.12], [0.2, 0.2, 0.2]
OBS_CENTER = np.array([*_POS_C, 0, 0, 0.5, 0, 0, 0, *(_POS_C + [0] * 5), *(_POS_C + [0] * 5), *_POS_C, 0], dtype=np.float32)
OBS_SCALE = np.array(
    [*_POS_S, 1, 1, 0.5, 0.5, 0.5, 0.5, *(_POS_S + [1] * 4 + [0.5]), *(_POS_S + [1] * 4 + [0.5]), *_POS_S, 0.5], dtype=np.float32
)


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
        skill_config: overrides of the skill's ``default_config()``.
        width, height, camera: render settings (default from the sim config).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(
        self,
        skill: str | Skill = "press_button",
        render_mode: str | None = None,
        sim_config: dict | None = None,
        skill_config: dict | None = None,
        width: int | None = None,
        height: int | None = None,
        camera: str | None = None,
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ConfigError(f"unknown render_mode {render_mode!r}; valid: None, {choices(self.metadata['render_modes'])}")
        self.cfg = merge(default_config(), sim_config, where="sim")
        self.skill = skill if isinstance(skill, Skill) else get_skill(skill)(skill_config)
        self.scene = Scene(self.cfg)
        self.skill.validate(self.scene)
        self.model, self.data = self.scene.model, self.scene.data
        self.frame_skip = int(self.cfg["frame_skip"])
        self.control_dt = self.model.opt.timestep * self.frame_skip
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.control_dt)}
        ctl_cfg = {**self.cfg["controller"], "home_qpos": self.cfg["robot"]["home_qpos"]}
        self.controller = CartesianController(self.model, ctl_cfg)
        self.end_effector = HouseholdEndEffector(self.cfg)
        self.max_steps = self.skill.max_steps
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(OBS_DIM,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(ACT_DIM,), dtype=np.float32)

        self.render_mode = render_mode
        r = self.cfg["render"]
        self.width, self.height = int(width or r["width"]), int(height or r["height"])
        self.camera = camera or r["camera"]
        if mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, self.camera) < 0:
            cams = [self.model.camera(i).name for i in range(self.model.ncam)]
            raise ConfigError(f"unknown camera {self.camera!r}; valid: {choices(cams)}")
        self._renderer: mujoco.Renderer | None = None

        self._slots = [e for e in self.skill.observe]
        self._obs = np.zeros(OBS_DIM, dtype=np.float64)
        self._prev_tcp = np.zeros(3)
        self._t = 0

    # -- gymnasium API -------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.scene.reset(self.np_random, self.skill)
        self.controller.reset(self.data)
        self._t = 0
        self._prev_tcp = self.data.site_xpos[self.scene.tcp_site].copy()
        return self._observe(), {"success": bool(self.skill.success(self.scene))}

    def step(self, action):
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (ACT_DIM,) or not np.all(np.isfinite(a)):
            raise ValueError(f"action must be {ACT_DIM} finite numbers in [-1, 1], got {action!r}")
        self._prev_tcp = self.data.site_xpos[self.scene.tcp_site].copy()
        self.controller.apply(self.data, a)
        self.scene.step(self.frame_skip)
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
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # -- helpers -------------------------------------------------------------------------------
    def render_frame(self, camera: str | None = None) -> np.ndarray:
        """RGB frame (H, W, 3) uint8 from a named camera, whatever ``render_mode`` is."""
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.height, self.width)
        self._renderer.update_scene(self.data, camera=camera or self.camera)
        return self._renderer.render()

    def expert(self) -> Program:
        """The skill's scripted expert for the current episode, as a program of primitives."""
        return self.skill.expert(self.scene)

    def _observe(self) -> np.ndarray:
        o, d, sc = self._obs, self.data, self.scene
        tcp = d.site_xpos[sc.tcp_site]
        o[TCP] = tcp
        xm = d.site_xmat[sc.tcp_site]
        yaw = math.atan2(xm[3], xm[0])
        o[3], o[4] = math.sin(yaw), math.cos(yaw)
        o[OPENING] = sc.opening
        o[VEL] = (tcp - self._prev_tcp) / self.control_dt
        o[SLOT1.start :] = 0.0
        for i, name in enumerate(self._slots):
            sc.entity(name, o[SLOT1.start + 8 * i : SLOT1.start + 8 * i + 8])
        o[GOAL] = sc.goal
        return o.astype(np.float32)


def run_expert(env: gym.Env, seed: int | None = None, stop_on_success: bool = False, on_step=None) -> Trace:
    """Reset ``env`` with ``seed`` and run its task's primitive-program expert; returns the :class:`Trace`.

    ``env`` is a household skill env or an external task with a ``primitive_expert`` (``robot_cl.tasks``).
    """
    from robot_cl import tasks

    obs, _ = env.reset(seed=seed)
    runner = PrimitiveRunner(env, tasks.end_effector(env), obs, on_step=on_step)
    return runner.run_program(tasks.expert_program(env), stop_on_success=stop_on_success)
