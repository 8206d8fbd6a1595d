"""Vectorised environments for RL collection (``gymnasium.vector``), seeded reproducibly.

    envs = make_vec_env("press_button", n_envs=2, seed=0)     # AsyncVectorEnv: one process per env
    obs, info = envs.reset(seed=0)                            # sub-env i is reset with seed 0 + i

Episodes reset in the same step they end (``AutoresetMode.SAME_STEP``), so a transition's true
next observation is ``info["final_obs"][i]`` where ``terminated | truncated`` -- what an off-policy
learner stores. Worker processes start with ``spawn`` (MuJoCo and torch do not survive ``fork``
well) and run one torch thread each.
"""

from __future__ import annotations

from functools import partial

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv


def _make(name: str, sim_config: dict | None, task_config, kwargs: dict) -> gym.Env:
    import torch

    from robot_cl import tasks

    torch.set_num_threads(1)
    return tasks.make_env(name, sim_config, task_config, **kwargs)


def make_vec_env(
    name: str,
    n_envs: int,
    sim_config: dict | None = None,
    task_config=None,
    asynchronous: bool = True,
    **kwargs,
) -> gym.vector.VectorEnv:
    """``n_envs`` copies of a curriculum task (household skill or external task) as one vector env."""
    fns = [partial(_make, name, sim_config, task_config, kwargs) for _ in range(int(n_envs))]
    if asynchronous and n_envs > 1:
        return AsyncVectorEnv(fns, context="spawn", autoreset_mode=AutoresetMode.SAME_STEP)
    return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)


def true_next_obs(next_obs: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, info: dict) -> np.ndarray:
    """The observation each env reached this step (the final one for envs whose episode just ended)."""
    out = np.array(next_obs, copy=True)
    ended = np.logical_or(terminated, truncated)
    if ended.any():
        for i in np.flatnonzero(ended):
            out[i] = info["final_obs"][i]
    return out
