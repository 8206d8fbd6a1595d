"""Demonstrations from the skills' scripted experts, recorded at both levels and cached on disk.

Per skill, a :class:`DemoSet` holds

* the raw-action level: ``obs`` (N, 29), ``actions`` (N, 5), ``episode`` (N,), and for every
  step the primitive call in force (``step_call``) and that primitive's goal features
  (``step_goal``: goal position, goal yaw, start gripper command -- used to train learned
  low-level primitives);
* the primitive level: for every call, the observation when it was decided (``call_obs``), the
  primitive index (``call_prim``, into :data:`PRIMITIVE_NAMES`), its parameters padded to
  ``MAX_PARAMS`` (``call_params``), its episode, step count and whether it achieved its goal.

Only successful episodes are kept (the experts succeed in practically every episode). Files live
in ``<cache>/demos/<skill>-s<first>-<last>-v<version>-<hash>.npz``: skill, seed range, format
version and a hash of everything that changes the episodes (sim and skill config). They hold
plain arrays only and load with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robot_cl import cache, resources, tasks
from robot_cl.errors import RobotCLError
from robot_cl.primitives.vocabulary import GOAL_FEATURES, MAX_PARAMS, PRIMITIVE_NAMES, goal_features
from robot_cl.tasks import run_expert

DEMO_VERSION = 1


@dataclass
class DemoSet:
    """Demonstrations of one skill (see the module docstring for the arrays)."""

    skill: str
    obs: np.ndarray
    actions: np.ndarray
    episode: np.ndarray
    step_call: np.ndarray
    step_goal: np.ndarray
    call_obs: np.ndarray
    call_prim: np.ndarray
    call_params: np.ndarray
    call_episode: np.ndarray
    call_steps: np.ndarray
    call_achieved: np.ndarray
    seeds: np.ndarray  # seed of each kept episode
    attempted: int  # episodes run (kept + failed)

    @property
    def episodes(self) -> int:
        return len(self.seeds)


def _pad_columns(a: np.ndarray, width: int) -> np.ndarray:
    """Zero columns up to ``width`` (an external task's end effector acts in the env's own action size)."""
    return np.pad(a, ((0, 0), (0, width - a.shape[1]))) if a.shape[1] < width else a


def record_episode(env, seed: int) -> dict:
    """Run the task's primitive-program expert once, recording both levels. Returns arrays for one
    episode and its success."""
    tr = run_expert(env, seed)
    for c in tr.calls:
        if c.name not in PRIMITIVE_NAMES:
            raise RobotCLError(
                f"an expert called the composite primitive {c.name!r}, which demonstrations cannot record; "
                f"valid: {', '.join(PRIMITIVE_NAMES)} (robot_cl.programs composes them, e.g. programs.pick)"
            )
    params = np.zeros((len(tr.calls), MAX_PARAMS), dtype=np.float32)
    for i, c in enumerate(tr.calls):
        params[i, : len(c.params)] = c.params
    return {
        "success": tr.success,
        "obs": np.array(tr.obs, dtype=np.float32).reshape(-1, env.observation_space.shape[0]),
        "actions": _pad_columns(np.array(tr.actions, dtype=np.float32).reshape(len(tr.actions), -1), env.action_space.shape[0]),
        "step_call": np.array(tr.step_call, dtype=np.int32),
        "step_goal": np.array([goal_features(tr.prims[c]) for c in tr.step_call], dtype=np.float32).reshape(-1, GOAL_FEATURES),
        "call_obs": np.array(tr.call_obs, dtype=np.float32),
        "call_prim": np.array([PRIMITIVE_NAMES.index(c.name) for c in tr.calls], dtype=np.int32),
        "call_params": params,
        "call_steps": np.array([c.steps for c in tr.calls], dtype=np.int32),
        "call_achieved": np.array([c.achieved for c in tr.calls], dtype=bool),
    }


def record_raw_episode(env, expert, seed: int) -> dict:
    """Run a raw-action expert (an external task's) once; only the raw-action level exists."""
    obs, _ = env.reset(seed=seed)
    observations, actions, success, done = [], [], False, False
    while not done:
        action = env.from_env_action(expert(env.raw_obs))  # the expert reads the env's own observation
        observations.append(obs)
        actions.append(action)
        obs, _, terminated, truncated, info = env.step(action)
        success |= info["success"]
        done = terminated or truncated
    n = len(actions)
    return {
        "success": success,
        "obs": np.array(observations, dtype=np.float32).reshape(n, -1),
        "actions": np.array(actions, dtype=np.float32).reshape(n, -1),
        "step_call": np.full(n, -1, dtype=np.int32),
        "step_goal": np.full((n, GOAL_FEATURES), np.nan, dtype=np.float32),
        "call_obs": np.zeros((0, env.observation_space.shape[0]), dtype=np.float32),
        "call_prim": np.zeros(0, dtype=np.int32),
        "call_params": np.zeros((0, MAX_PARAMS), dtype=np.float32),
        "call_steps": np.zeros(0, dtype=np.int32),
        "call_achieved": np.zeros(0, dtype=bool),
    }


def generate(skill: str, seeds: list[int], sim_config: dict | None = None, skill_config: dict | None = None) -> DemoSet:
    """Run the expert on every seed and keep the successful episodes."""
    env = tasks.make_env(skill, sim_config, skill_config)
    if tasks.is_external(skill_config) and not skill_config.get("primitive_expert"):
        if not skill_config.get("expert"):
            raise RobotCLError(
                f"task {skill!r} has no expert to record demonstrations from "
                f"(set curriculum.tasks.{skill}.primitive_expert or curriculum.tasks.{skill}.expert)"
            )
        expert = tasks.load_expert(skill_config["expert"])
        record = lambda env, seed: record_raw_episode(env, expert, seed)  # noqa: E731
    else:
        record = record_episode
    eps, kept_seeds = [], []
    for seed in seeds:
        ep = record(env, seed)
        if ep["success"]:
            eps.append(ep)
            kept_seeds.append(seed)
    env.close()
    if not eps:
        raise RobotCLError(f"the {skill} expert failed on every demonstration seed {seeds[0]}..{seeds[-1]}")
    offsets = np.cumsum([0] + [len(e["call_prim"]) for e in eps[:-1]])
    return DemoSet(
        skill=skill,
        obs=np.concatenate([e["obs"] for e in eps]),
        actions=np.concatenate([e["actions"] for e in eps]),
        episode=np.concatenate([np.full(len(e["obs"]), i, dtype=np.int32) for i, e in enumerate(eps)]),
        step_call=np.concatenate([e["step_call"] + off for e, off in zip(eps, offsets)]).astype(np.int32),
        step_goal=np.concatenate([e["step_goal"] for e in eps]),
        call_obs=np.concatenate([e["call_obs"] for e in eps]),
        call_prim=np.concatenate([e["call_prim"] for e in eps]),
        call_params=np.concatenate([e["call_params"] for e in eps]),
        call_episode=np.concatenate([np.full(len(e["call_prim"]), i, dtype=np.int32) for i, e in enumerate(eps)]),
        call_steps=np.concatenate([e["call_steps"] for e in eps]),
        call_achieved=np.concatenate([e["call_achieved"] for e in eps]),
        seeds=np.array(kept_seeds, dtype=np.int64),
        attempted=len(seeds),
    )


def cache_key(skill: str, seeds: range, sim_config: dict | None, skill_config: dict | None) -> str:
    """File name: skill, seed range, format version and a hash of the episode-defining config."""
    blob = json.dumps({"sim": sim_config, "skill": skill_config, "primitives": PRIMITIVE_NAMES}, sort_keys=True, default=str)
    digest = hashlib.sha1(blob.encode()).hexdigest()[:10]
    return f"{skill}-s{seeds.start}-{seeds.stop - 1}-v{DEMO_VERSION}-{digest}.npz"


def save(demos: DemoSet, path: Path) -> None:
    """Atomic write: a crash never leaves a truncated cache file under the final name."""
    arrays = {k: v for k, v in vars(demos).items() if isinstance(v, np.ndarray)}
    cache.atomic_write(path, lambda f: np.savez(f, skill=np.array(demos.skill), attempted=np.array(demos.attempted), **arrays))


def load(path: Path) -> DemoSet:
    """Read a cache file (plain arrays, no pickle)."""
    with np.load(path, allow_pickle=False) as z:
        fields = {k: z[k] for k in z.files}
    return DemoSet(skill=str(fields.pop("skill")), attempted=int(fields.pop("attempted")), **fields)


def _generate_and_save(args: tuple) -> str:
    skill, seeds, sim_config, skill_config, path = args
    save(generate(skill, list(seeds), sim_config, skill_config), Path(path))
    return path


def load_or_generate(
    skills: list[str],
    seeds: range,
    cache_dir: Path,
    sim_config: dict | None = None,
    skill_configs: dict[str, dict] | None = None,
    workers: int = 1,
    stats: dict[str, str] | None = None,
) -> dict[str, DemoSet]:
    """Demonstrations for every skill: from the cache when present, otherwise generated (in parallel).

    Safe when several jobs share ``cache_dir`` (:mod:`robot_cl.cache`): each missing entry is
    generated by one of them, the others wait for it. ``stats`` receives how each skill's entry was
    obtained (``hit``, ``created``, ``waited``).
    """
    skill_configs = skill_configs or {}
    paths = {s: cache_dir / "demos" / cache_key(s, seeds, sim_config, skill_configs.get(s)) for s in skills}

    def create(missing: list[str]) -> None:
        jobs = [(s, seeds, sim_config, skill_configs.get(s), str(paths[s])) for s in missing]
        if workers > 1 and len(jobs) > 1:
            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(min(workers, len(jobs)), ctx, resources.die_with_parent, (os.getpid(),)) as pool:
                list(pool.map(_generate_and_save, jobs))
        else:
            for job in jobs:
                _generate_and_save(job)

    how = cache.create_all(paths, create, batch=max(1, workers))
    if stats is not None:
        stats.update(how)
    out = {}
    for s, p in paths.items():
        try:
            out[s] = load(p)
        except Exception as e:  # a corrupt cache file: say so, regenerate it (under its lock)
            print(f"warning: demonstration cache {p} is unreadable ({type(e).__name__}); regenerating it")
            with cache.locked(p):
                create([s])
            out[s] = load(p)
    return out
