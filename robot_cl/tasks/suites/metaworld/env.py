"""Meta-World v3 tasks as seeded Gymnasium environments (``robot_cl/MetaWorld-v0``).

Meta-World's own ``Meta-World/MT1`` env draws object and goal positions from a random stream fixed
when the env is made; ``reset(seed=...)`` does not change them. Continual World and our runner need
every episode to be a function of its seed (demonstration seeds and evaluation seeds are disjoint
sets of initial states), so this env re-seeds Meta-World's sampler on every ``reset(seed=s)``:
the object and goal positions of episode ``s`` are the ones Meta-World's own randomisation draws
from seed ``s``. The observation is Meta-World's 39 values with the goal visible (Continual World's
setting); ``info["success"]`` is Meta-World's success flag. Episodes are truncated after
``max_steps`` (Continual World used 200; Meta-World v3's own limit is 500).

    env = gymnasium.make("robot_cl/MetaWorld-v0", task="hammer-v3", max_steps=200)
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from robot_cl.errors import ConfigError
from robot_cl.primitives import Command, EEState


def metaworld_tasks() -> list[str]:
    """Every Meta-World v3 task name (``hammer-v3``, ...)."""
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS

    return sorted(ALL_V3_ENVIRONMENTS)


class SawyerEndEffector:
    """Primitive adapter for Meta-World's Sawyer: the hand position is ``obs[0:3]`` (the point between
    the fingertips), the gripper opening ``obs[3]`` (1 = open); the action is ``[dx, dy, dz, grip]``,
    a unit ``dx`` moving the hand's mocap target by 1 cm (Meta-World's ``action_scale``). The gripper
    cannot turn, so ``yaw_step`` is 0 and primitives ignore yaw goals.

    The gain is lower than the household arm's: the mocap target runs ahead of the hand, so a high
    gain overshoots (Meta-World's own scripted policies command 10-25 x the error, i.e. gain 0.1-0.25).

    Known limitation: the Sawyer's fingers never close fully (``obs[3]`` reads about 0.30 closed on
    nothing and 0.33 on the stick), so ``Grasp.achieved()`` cannot tell an empty grip from a held
    thin object here; the CW10 programs do not branch on it.
    """

    pos_step = 0.01
    yaw_step = 0.0
    gain = 0.25
    pos_tolerance = 0.01
    yaw_tolerance = 0.1
    stall_steps = 12
    tip_offset = 0.0  # obs[0:3] already is the fingertip centre
    workspace_low = np.array([-0.525, 0.348, 0.0])  # Meta-World's mocap range for the hand
    workspace_high = np.array([0.525, 1.025, 0.7])

    def state(self, obs: np.ndarray) -> EEState:
        return EEState(np.asarray(obs[0:3], dtype=float), 0.0, float(obs[3]))

    def action(self, cmd: Command) -> np.ndarray:
        return np.array([*np.clip(cmd.dpos, -1.0, 1.0), cmd.grip], dtype=np.float32)


class MetaWorldEnv(gym.Env):
    """One Meta-World v3 task whose initial state is a function of the reset seed."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 80}  # Meta-World: 5 x 2.5 ms per step

    def __init__(
        self,
        task: str = "reach-v3",
        max_steps: int = 500,
        render_mode: str | None = None,
        width: int = 320,
        height: int = 240,
        camera: str = "corner",
    ) -> None:
        from metaworld import MT1

        if task not in metaworld_tasks():
            raise ConfigError(f"unknown Meta-World task {task!r}; valid: {', '.join(metaworld_tasks())}")
        bench = MT1(task, seed=0)
        self.env = bench.train_classes[task](render_mode=render_mode, camera_name=camera, width=width, height=height)
        self.env.set_task(bench.train_tasks[0])  # sets the task's fixed kwargs; positions are re-drawn per seed below
        self.env._freeze_rand_vec = False
        self.env.seeded_rand_vec = True
        self.env.max_path_length = max(int(max_steps), self.env.max_path_length)
        self.task, self.max_steps, self.render_mode = task, int(max_steps), render_mode
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, self.env.observation_space.shape, np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, self.env.action_space.shape, np.float32)
        self.end_effector = SawyerEndEffector()
        self.steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        # Meta-World samples positions from its own np_random; seed it from ours (deterministic given `seed`).
        self.env.seed(int(self.np_random.integers(2**31 - 1)))
        obs, info = self.env.reset()
        # Some v3 tasks (window-close) report a site position from before the reset's forward
        # kinematics in the first observation; recompute it once the state is consistent.
        mujoco.mj_forward(self.env.model, self.env.data)
        self.env._prev_obs = self.env._get_curr_obs_combined_no_goal()
        obs = self.env._get_obs()
        self.steps = 0
        return obs.astype(np.float32), dict(info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0))
        self.steps += 1
        info = dict(info)
        info["success"] = bool(info.get("success", 0.0))
        truncated = bool(truncated) or self.steps >= self.max_steps
        return obs.astype(np.float32), float(reward), bool(terminated), truncated, info

    def render(self):
        return self.env.render()

    def close(self) -> None:
        self.env.close()
