"""Vectorised environments for RL collection (``gymnasium.vector``), seeded reproducibly.

    envs = make_vec_env("press_button", n_envs=2)             # AsyncVectorEnv: one process per env
    envs = make_vec_env("press_button", n_envs=8, workers=2)  # 2 processes stepping 4 envs each
    obs, info = envs.reset(seed=0)                            # sub-env i is reset with seed 0 + i

With one process per environment every step of every environment costs a pipe round trip in
the main process; a household-skill step takes about 0.6 ms, so on two cores that overhead eats
most of the gain (measured: 1.1-1.2x with 2 workers, ``benchmarks/rl_speed.py``). :class:`GroupedVectorEnv`
gives each worker process several environments, stepped there in a ``SyncVectorEnv``: one round
trip per worker per step (as Sample Factory and EnvPool batch environments per worker). Whatever
the worker count, sub-env ``i`` sees the same seeds and actions, so the transitions are identical.

Episodes reset in the same step they end (``AutoresetMode.SAME_STEP``), so a transition's true
next observation is ``info["final_obs"][i]`` where ``terminated | truncated`` -- what an off-policy
learner stores. After the first seeded reset each sub-env draws its later episodes from its own
generator, so a run is reproducible from the one seed. Worker processes start with ``spawn``
(MuJoCo and torch do not survive ``fork`` well) and run one torch thread each.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import batch_space

from robot_cl import resources, tasks
from robot_cl.rl.primitive_env import PrimitiveActionEnv


def _build(make_env: Callable[[], gym.Env], primitive_env: dict | None, worker: bool) -> gym.Env:
    if worker:  # one torch thread per worker process: the workers share the machine's cores
        torch.set_num_threads(1)
    env = make_env()
    if primitive_env is not None:
        env = PrimitiveActionEnv(env, **primitive_env)
    return env


def vectorise(
    make_env: Callable[[], gym.Env],
    n_envs: int,
    asynchronous: bool = True,
    primitive_env: dict | None = None,
    workers: int | None = None,
) -> gym.vector.VectorEnv:
    """``n_envs`` copies of ``make_env()`` (a picklable factory) as one vector env; with
    ``primitive_env`` settings each copy acts in motion-primitive space (:mod:`robot_cl.rl.primitive_env`).

    ``asynchronous`` with ``workers`` None (or at least ``n_envs``): one worker process per env
    (``AsyncVectorEnv``); with fewer ``workers``: that many processes sharing the envs
    (:class:`GroupedVectorEnv`); otherwise all envs in this process (``SyncVectorEnv``)."""
    n_envs = int(n_envs)
    if asynchronous and workers is not None and 0 < int(workers) < n_envs:
        return GroupedVectorEnv([partial(_build, make_env, primitive_env, True) for _ in range(n_envs)], int(workers))
    worker = asynchronous and n_envs > 1
    fns = [partial(_build, make_env, primitive_env, worker) for _ in range(n_envs)]
    if worker:
        return AsyncVectorEnv(fns, context="spawn", autoreset_mode=AutoresetMode.SAME_STEP)
    return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)


def merge_infos(infos: Sequence[dict], sizes: Sequence[int]) -> dict:
    """Concatenate vector-env infos of consecutive groups of sub-envs (gymnasium's layout: an array
    per key, a ``_key`` mask of the envs that set it, nested dicts such as ``final_info``)."""
    out: dict[str, Any] = {}
    for key in dict.fromkeys(k for info in infos for k in info):
        parts = [info.get(key) for info in infos]
        if any(isinstance(p, dict) for p in parts):
            out[key] = merge_infos([p or {} for p in parts], sizes)
            continue
        ref = next(np.asarray(p) for p in parts if p is not None)
        empty = None if ref.dtype == np.dtype(object) else 0  # what gymnasium leaves in the slots of envs without the key
        out[key] = np.concatenate(
            [np.full((n, *ref.shape[1:]), empty, ref.dtype) if p is None else np.asarray(p) for p, n in zip(parts, sizes)]
        )
    return out


def _group_worker(pipe, env_fns: list[Callable[[], gym.Env]], parent_pid: int) -> None:
    """A :class:`GroupedVectorEnv` worker: step its envs in a ``SyncVectorEnv`` on the main process's commands."""
    resources.die_with_parent(parent_pid)
    try:
        envs = SyncVectorEnv(env_fns, autoreset_mode=AutoresetMode.SAME_STEP)
        pipe.send(("ok", (envs.single_observation_space, envs.single_action_space)))
        while True:
            command, data = pipe.recv()
            if command == "step":
                pipe.send(("ok", envs.step(data)))
            elif command == "reset":
                pipe.send(("ok", envs.reset(seed=data[0], options=data[1])))
            else:  # close
                envs.close()
                pipe.send(("ok", None))
                return
    except Exception as e:  # the main process raises it, naming the worker's error
        pipe.send(("error", f"{type(e).__name__}: {e}"))
    except KeyboardInterrupt:
        pass


class GroupedVectorEnv(gym.vector.VectorEnv):
    """``len(env_fns)`` environments stepped by ``workers`` processes (``spawn``), each stepping its
    contiguous share in a ``SyncVectorEnv`` with same-step autoreset. Box observations and actions."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], workers: int) -> None:
        self.num_envs = len(env_fns)
        self.groups = [g for g in np.array_split(np.arange(self.num_envs), max(1, workers)) if len(g)]
        self.sizes = [len(g) for g in self.groups]
        ctx = multiprocessing.get_context("spawn")
        self.pipes, self.processes = [], []
        for g in self.groups:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_group_worker, args=(child, [env_fns[i] for i in g], os.getpid()), daemon=True)
            proc.start()
            child.close()
            self.pipes.append(parent)
            self.processes.append(proc)
        spaces = self._gather()
        self.single_observation_space, self.single_action_space = spaces[0]
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def _gather(self) -> list[Any]:
        try:
            replies = [pipe.recv() for pipe in self.pipes]
        except (EOFError, ConnectionResetError) as e:  # a worker process died
            self.close()
            raise RuntimeError(f"environment worker failed: its process ended ({type(e).__name__})") from e
        errors = [f"worker {i}: {msg}" for i, (status, msg) in enumerate(replies) if status == "error"]
        if errors:
            self.close()
            raise RuntimeError("environment worker failed: " + "; ".join(errors))
        return [msg for _, msg in replies]

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict | None = None):
        """Sub-env ``i`` is reset with ``seed + i`` (an int seed), ``seed[i]`` (a list) or unseeded."""
        if seed is None or isinstance(seed, int | np.integer):
            seeds = [None if seed is None else int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"reset got {len(seeds)} seeds for {self.num_envs} environments")
        for g, pipe in zip(self.groups, self.pipes):
            opts = options
            if options and "reset_mask" in options:  # each worker gets its own envs' part of the mask
                opts = {**options, "reset_mask": np.asarray(options["reset_mask"])[g]}
            pipe.send(("reset", ([seeds[i] for i in g], opts)))
        obs, infos = zip(*self._gather())
        return np.concatenate(obs), merge_infos(infos, self.sizes)

    def step(self, actions):
        actions = np.asarray(actions)
        for g, pipe in zip(self.groups, self.pipes):
            pipe.send(("step", actions[g]))
        obs, reward, terminated, truncated, infos = zip(*self._gather())
        cat = np.concatenate
        return cat(obs), cat(reward), cat(terminated), cat(truncated), merge_infos(infos, self.sizes)

    def close_extras(self, **kwargs: Any) -> None:
        for pipe, proc in zip(self.pipes, self.processes):
            try:
                if proc.is_alive():
                    pipe.send(("close", None))
                    pipe.recv()
            except (BrokenPipeError, EOFError, OSError):
                pass
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
            pipe.close()

    def __del__(self) -> None:
        if not getattr(self, "closed", True):
            self.close()


def make_vec_env(
    name: str,
    n_envs: int,
    sim_config: dict | None = None,
    task_config=None,
    asynchronous: bool = True,
    workers: int | None = None,
    **kwargs,
) -> gym.vector.VectorEnv:
    """``n_envs`` copies of a curriculum task (household skill or external task) as one vector env."""
    return vectorise(partial(tasks.make_env, name, sim_config, task_config, **kwargs), n_envs, asynchronous, workers=workers)


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
