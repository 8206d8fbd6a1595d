"""RL throughput: environment steps/s with 1 worker vs N workers, and SAC gradient updates/s.

    python benchmarks/rl_speed.py                      # press_button, 2 workers x 16 envs, CPU (and CUDA if present)
    python benchmarks/rl_speed.py --skill open_drawer --workers 4 --envs-per-worker 8 --steps 4000

Env steps/s: random actions through ``robot_cl.rl.vec.vectorise``, all envs stepped in this process
(1 worker, the baseline) and by ``--workers`` worker processes; each ratio is measured in the same
run. Twice: with one env per worker (gymnasium's ``AsyncVectorEnv``: a pipe round trip per env and
step) and with ``--envs-per-worker`` envs per worker (``GroupedVectorEnv``: one round trip per
worker and step, i.e. ``learner.n_envs=W*k learner.workers=W``). The same for primitive calls
(``policy=hierarchical``'s steps, each a whole primitive run).
SAC updates/s: Continual World's networks (4 x 256) at each ``--batches`` size (default 128, theirs) on
the skill's observation size, on the CPU and, when CUDA is available, on the GPU (with the GPU/CPU ratio).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def env_steps_per_s(skill: str, n_envs: int, workers: int, steps: int, seed: int = 0, primitive: bool = False) -> float:
    """Steps per second (all envs together) of random actions in ``n_envs`` envs stepped by ``workers``
    processes (0: in this process); with ``primitive``, primitive calls per second."""
    from functools import partial

    from robot_cl import tasks
    from robot_cl.rl.vec import vectorise

    envs = vectorise(partial(tasks.make_env, skill), n_envs, workers > 0, {"max_calls": 8} if primitive else None, workers or None)
    rng = np.random.default_rng(seed)
    envs.reset(seed=seed)
    for _ in range(5):  # warm up (worker start-up is not throughput)
        envs.step(rng.uniform(-1, 1, envs.action_space.shape).astype(np.float32))
    n = max(1, steps // n_envs)
    t0 = time.perf_counter()
    for _ in range(n):
        envs.step(rng.uniform(-1, 1, envs.action_space.shape).astype(np.float32))
    seconds = time.perf_counter() - t0
    envs.close()
    return n * n_envs / seconds


def scaling(skill: str, workers: int, per_worker: int, steps: int, primitive: bool) -> tuple[float, float]:
    """(1 worker, ``workers`` workers) throughput for ``workers * per_worker`` envs."""
    n_envs = workers * per_worker
    one = env_steps_per_s(skill, n_envs, 0, steps, primitive=primitive)
    return one, env_steps_per_s(skill, n_envs, workers, steps, primitive=primitive)


def sac_updates_per_s(obs_dim: int, act_dim: int, device: str, updates: int, batch: int = 128) -> float:
    """SAC updates/s through the learner's one update path (``SACLearner.step``: hooks, alpha, targets),
    with learner=sac's settings (Continual World's 4 x 256 networks) for a 10-task curriculum."""
    import torch

    from robot_cl.cli import compose_overrides
    from robot_cl.learners import SACLearner, make_learner
    from robot_cl.policies import build_policy
    from robot_cl.rl.sac import ReplayBuffer

    torch.manual_seed(0)
    learner_cfg = compose_overrides(["learner=sac", f"learner.batch_size={batch}"])["learner"]
    policy_cfg = SACLearner.policy_config(compose_overrides(["policy=flat"])["policy"], learner_cfg)
    policy = build_policy({"cfg": policy_cfg, "obs_dim": obs_dim, "act_dim": act_dim, "n_tasks": 10, "tasks_added": 1}).to(device)
    learner = make_learner(learner_cfg, policy, [], torch.device(device))
    buf = ReplayBuffer(10_000, obs_dim, act_dim)
    rng = np.random.default_rng(0)
    for _ in range(2_000):
        buf.add(rng.normal(size=obs_dim), rng.uniform(-1, 1, act_dim), rng.normal(), rng.normal(size=obs_dim), False, 0)
    batches = [{"transitions": buf.sample(batch, rng, device)} for _ in range(updates + 10)]
    for b in batches[:10]:
        learner.step(b)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for b in batches[10:]:
        learner.step(b)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return updates / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    import os

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skill", default="press_button")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--envs-per-worker", type=int, default=16, help="envs per worker for the grouped measurement")
    p.add_argument("--steps", type=int, default=8000, help="env steps per measurement (all envs together)")
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--batches", type=int, nargs="+", default=[128], help="SAC batch sizes (Continual World: 128)")
    p.add_argument("--primitive-calls", type=int, default=480, help="primitive calls per primitive-space measurement (0: skip)")
    args = p.parse_args(argv)

    import torch

    import robot_cl

    env = robot_cl.make(args.skill)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    env.close()
    for what, steps, primitive in (("env steps/s", args.steps, False), ("primitive calls/s", args.primitive_calls, True)):
        if steps <= 0:
            continue
        for k in dict.fromkeys((1, args.envs_per_worker)):
            one, many = scaling(args.skill, args.workers, k, steps, primitive)
            print(
                f"{what}  {args.skill}, {args.workers * k} envs ({k} per worker): "
                f"1 worker {one:.1f}, {args.workers} workers {many:.1f}, ratio {many / one:.2f}",
                flush=True,
            )
    for batch in args.batches:
        cpu = sac_updates_per_s(obs_dim, act_dim, "cpu", args.updates, batch)
        line = f"SAC updates/s (4x256, batch {batch}) cpu {cpu:.0f} ({torch.get_num_threads()} threads)"
        if torch.cuda.is_available():
            gpu = sac_updates_per_s(obs_dim, act_dim, "cuda", args.updates * 3, batch)
            line += f", cuda {gpu:.0f}, ratio gpu/cpu {gpu / cpu:.2f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
