"""Roll out learned policies: success rates (Continual World's "success at any step") and videos.

Evaluation can run in worker processes (``workers > 1``): each worker rebuilds the policy from its
``spec()`` and weights and keeps one environment per skill. Every episode is seeded, so results do
not depend on how episodes are spread over workers.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import torch

from robot_cl import learners as _learners  # noqa: F401  (registers every built-in policy, the RL agents' too)
from robot_cl import resources, tasks
from robot_cl.policies import HierarchicalPolicy, Policy, build_policy
from robot_cl.primitives import Hold, PrimitiveRunner
from robot_cl.rl.primitive_env import PrimitiveActionEnv
from robot_cl.sim import shift
from robot_cl.video import write_video


def rollout(
    env, policy: Policy, task: int, seed: int, frames: list | None = None, every: int = 2, stop_on_success: bool = False
) -> dict[str, Any]:
    """One episode; returns success (at any step), steps and primitive decisions.

    ``stop_on_success`` ends the episode at the first success (after the primitive in progress, for a
    hierarchical policy): the success rate is the same, since success counts at any step, and
    evaluation does not spend the rest of a successful episode's steps.
    """
    counter = [0]
    base_env = env

    def grab(*_):
        counter[0] += 1
        if frames is not None and counter[0] % every == 0:
            frames.append(base_env.render())

    # A task-agnostic policy is never handed the id: ``task`` only scores which behaviour it routed to.
    acting = task if getattr(policy, "task_id", True) else None
    routed = [0]

    def scored(x):
        routed[0] += int(getattr(policy, "last_route", None) == task)
        return x

    primitive_actions = getattr(policy, "primitive_actions", False)  # an RL policy acting in primitive space
    if primitive_actions:
        # The task's own return: no affordance bonus in evaluation (it is a training signal only).
        env = PrimitiveActionEnv(base_env, **{**policy.cfg["primitive_env"], "affordance": 0.0}, on_step=grab)
    obs, _ = env.reset(seed=seed)
    if frames is not None:
        frames.append(base_env.render())

    if isinstance(policy, HierarchicalPolicy):
        runner = PrimitiveRunner(env, env.unwrapped.end_effector, obs, on_step=grab)
        decisions = 0
        while not runner.done and not (stop_on_success and runner.trace.success):
            result = runner.run(scored(policy.decide(runner.obs, acting)))
            decisions += 1
            if result.steps == 0:  # a no-op decision: let time pass so the episode still ends
                runner.run(Hold(1))
        out = {"success": runner.trace.success, "steps": len(runner.trace.actions), "decisions": decisions}
        return out if acting is not None else {**out, "routed": routed[0]}
    success, steps, decisions, done, ret, calls = False, 0, 0, False, 0.0, []
    while not done:
        obs, reward, terminated, truncated, info = env.step(scored(policy.act(obs, acting)))
        if not primitive_actions:
            grab()  # (the primitive env grabs at every control step itself)
        else:
            calls.append(info["primitive"])
        success |= bool(info.get("success", False))
        steps += int(info.get("steps", 1))
        ret += float(reward)
        decisions += 1
        done = terminated or truncated or (stop_on_success and success)
    out = {"success": success, "steps": steps, "decisions": decisions, "return": ret}
    if acting is None:
        out["routed"] = routed[0]
    return {**out, "calls": calls} if primitive_actions else out


# -- worker side -----------------------------------------------------------------------------------
_ENVS: dict[tuple, Any] = {}
_POLICY: dict[str, Any] = {"key": None, "policy": None}  # the last policy rebuilt in this process


def _worker_init(imports: list[str], parent_pid: int) -> None:
    resources.die_with_parent(parent_pid)
    torch.set_num_threads(1)
    for name in imports:  # user modules that register policies
        importlib.import_module(name)


def _env(skill: str, sim_config: dict | None, skill_config: dict | None):
    key = (skill, json.dumps(sim_config, sort_keys=True), json.dumps(skill_config, sort_keys=True))
    if key not in _ENVS:
        _ENVS[key] = tasks.make_env(skill, sim_config, skill_config)
    return _ENVS[key]


def _policy(spec: dict, weights: bytes, key: str) -> Policy:
    if _POLICY["key"] != key:
        policy = build_policy(spec)
        policy.load_state_dict(torch.load(io.BytesIO(weights), weights_only=True))
        policy.eval()
        _POLICY["key"], _POLICY["policy"] = key, policy
    return _POLICY["policy"]


def _episodes(job: tuple) -> list[dict[str, Any]]:
    spec, weights, key, skill, task, seeds, sim_config, skill_config = job
    env, policy = _env(skill, sim_config, skill_config), _policy(spec, weights, key)
    return [rollout(env, policy, task, s, stop_on_success=True) for s in seeds]


class Evaluator:
    """Success rates of a policy on skills, in-process or over a pool of worker processes."""

    def __init__(
        self,
        workers: int = 1,
        sim_config: dict | None = None,
        skill_configs: dict[str, dict] | None = None,
        imports: list[str] | None = None,
    ) -> None:
        self.workers = max(1, int(workers))
        self.imports = list(imports or [])
        self.sim_config, self.skill_configs = sim_config, skill_configs or {}
        self.pool: ProcessPoolExecutor | None = None
        self.env_steps, self.seconds = 0, 0.0  # totals over all calls, for steps/s logging

    def __enter__(self) -> Evaluator:
        if self.workers > 1:
            self.pool = ProcessPoolExecutor(
                self.workers, mp_context=mp.get_context("spawn"), initializer=_worker_init, initargs=(self.imports, os.getpid())
            )
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None

    def episodes(self, policy: Policy, skill: str, task: int, seeds: list[int]) -> list[dict[str, Any]]:
        """Roll out one episode per seed (results in seed order)."""
        return self.many(policy, [(skill, task, seeds)])[0]

    def many(
        self, policy: Policy, requests: list[tuple[str, int, list[int]]], sim_config: dict | None = None
    ) -> list[list[dict[str, Any]]]:
        """Several (skill, task, seeds) requests with the same weights, spread over the workers
        (``sim_config``: another simulator config for these requests, e.g. under a dynamics shift)."""
        sim_config = self.sim_config if sim_config is None else sim_config
        spec = policy.spec()
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in policy.state_dict().items()}, buf)
        weights = buf.getvalue()
        # Workers (and this process) cache the rebuilt policy under a key naming exactly these weights.
        key = hashlib.sha1(weights + json.dumps(spec, sort_keys=True).encode()).hexdigest()
        jobs, slots = [], []
        for r, (skill, task, seeds) in enumerate(requests):
            chunks = np.array_split(np.asarray(seeds), min(len(seeds), self.workers * 2)) if self.pool else [np.asarray(seeds)]
            for c in chunks:
                if len(c):
                    jobs.append(
                        (
                            spec,
                            weights,
                            key,
                            skill,
                            task,
                            [int(s) for s in c],
                            sim_config,
                            self.skill_configs.get(skill),
                        )
                    )
                    slots.append(r)
        t0 = time.perf_counter()
        results = self.pool.map(_episodes, jobs) if self.pool else map(_episodes, jobs)
        out: list[list[dict[str, Any]]] = [[] for _ in requests]
        for r, res in zip(slots, results):
            out[r].extend(res)
        self.seconds += time.perf_counter() - t0
        self.env_steps += sum(e["steps"] for episodes in out for e in episodes)
        return out

    def success_rates(self, policy: Policy, skills: list[str], tasks: list[int], seeds: list[int]) -> list[float]:
        """Fraction of successful episodes for each (skill, task)."""
        return self.rates(policy, skills, tasks, seeds)[0]

    def rates(
        self, policy: Policy, skills: list[str], tasks: list[int], seeds: list[int], sim_config: dict | None = None
    ) -> tuple[list[float], list[float] | None]:
        """Success rates, and for a task-agnostic policy the fraction of its decisions routed to the
        skill's own task (routing accuracy; None for a policy that is told the task)."""
        res = self.many(policy, [(s, t, seeds) for s, t in zip(skills, tasks)], sim_config)
        success = [float(np.mean([e["success"] for e in r])) for r in res]
        if not all("routed" in e for r in res for e in r):
            return success, None
        return success, [sum(e["routed"] for e in r) / max(1, sum(e["decisions"] for e in r)) for r in res]


def under_shifts(
    evaluator: Evaluator, policy: Policy, skills: list[str], seeds: list[int], sim_config: dict, shifts: dict[str, dict]
) -> dict[str, dict[str, Any]]:
    """Success of every skill under each named dynamics shift (``eval.shifts``; :mod:`robot_cl.sim.shift`)."""
    out = {}
    for name, spec in shifts.items():
        sim = shift.shifted_sim(sim_config, spec)
        success, _ = evaluator.rates(policy, skills, list(range(len(skills))), seeds, sim_config=sim)
        out[name] = {"shift": dict(spec), "success": success, "mean": float(np.mean(success))}
    return out


def record(
    policy: Policy,
    skill: str,
    task: int,
    seed: int,
    path,
    sim_config=None,
    skill_config=None,
    width=320,
    height=240,
    every: int = 2,
) -> dict[str, Any]:
    """Render one evaluation episode of the learned policy to an mp4."""
    env = tasks.make_env(skill, sim_config, skill_config, render_mode="rgb_array", width=width, height=height)
    frames: list[np.ndarray] = []
    out = rollout(env, policy, task, seed, frames=frames, every=every)
    fps = max(1, round(env.unwrapped.metadata.get("render_fps", 30) / every))
    env.close()
    write_video(path, frames, fps)
    return {**out, "path": str(path)}
