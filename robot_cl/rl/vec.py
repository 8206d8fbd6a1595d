"""Vectorised environments for RL collection (``gymnasium.vector``), seeded reproducibly.

    envs = make_vec_env("press_button", n_envs=2, seed=0)     # AsyncVectorEnv: one process per env
    obs, info = envs.reset(seed=0)                            # sub-env i is reset with seed 0 + i

Episodes reset in the same step they end (``AutoresetMode.SAME_STEP``), so a transition's true
next observation is ``info["final_obs"][i]`` where ``terminated | truncated`` -- what an off-policy
learner stores. After the first seeded reset each sub-env draws its later episodes from its own
generator, so a run is reproducible from the one seed. Worker processes start with ``spawn``
(MuJoCo and torch do not survive ``fork`` well) and run one torch thread each.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv


def _build(make_env: Callable[[], gym.Env], primitive_env: dict | None, worker: bool) -> gym.Env:
    if worker:  # one torch thread per worker process: the workers share the machine's cores
        import torch

        torch.set_num_threads(1)
    env = make_env()
    if primitive_env is not None:
        from robot_cl.rl.primitive_env import PrimitiveActionEnv

        env = PrimitiveActionEnv(env, **primitive_env)
    return env


def vectorise(
    make_env: Callable[[], gym.Env],
    n_envs: int,
    asynchronous: bool = True,
    primitive_env: dict | None = None,
) -> gym.vector.VectorEnv:
    """``n_envs`` copies of ``make_env()`` (a picklable factory) as one vector env; with
    ``primitive_env`` settings each copy acts in motion-primitive space (:mod:`robot_cl.rl.primitive_env`)."""
    worker = asynchronous and n_envs > 1
    fns = [partial(_build, make_env, primitive_env, worker) for _ in range(int(n_envs))]
    if worker:
        return AsyncVectorEnv(fns, context="spawn", autoreset_mode=AutoresetMode.SAME_STEP)
    return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)


def make_vec_env(
    name: str,
    n_envs: int,
    sim_config: dict | None = None,
    task_config=None,
    asynchronous: bool = True,
    **kwargs,
) -> gym.vector.VectorEnv:
    """``n_envs`` copies of a curriculum task (household skill or external task) as one vector env."""
    from robot_cl import tasks

    return vectorise(partial(tasks.make_env, name, sim_config, task_config, **kwargs), n_envs, asynchronous)


def true_next_obs(next_obs: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, info: dict) -> np.ndarray:
    """The observation each env reached this step (the final one for envs whose episode just ended)."""
    out = np.array(next_obs, copy=True)
    ended = np.logical_or(terminated, truncated)
    if ended.any():
        for i in np.flatnonzero(ended):
            out[i] = info["final_obs"][i]
    return out


def step_success(info: dict, ended: np.ndarray) -> np.ndarray:
    """Each env's ``info["success"]`` at this step; for envs whose episode just ended, the final step's
    (``SAME_STEP`` autoreset puts the reset's info in ``info`` and the final one in ``info["final_info"]``)."""
    out = np.array(info.get("success", np.zeros(len(ended), bool)), dtype=bool)
    final = info.get("final_info", {})
    if ended.any() and "success" in final:
        out[ended] = np.asarray(final["success"], dtype=bool)[ended]
    return out
