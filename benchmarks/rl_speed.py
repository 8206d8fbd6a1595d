"""RL throughput: environment steps/s with 1 worker vs N workers, and SAC gradient updates/s.

    python benchmarks/rl_speed.py                      # press_button, 2 workers, CPU (and CUDA if present)
    python benchmarks/rl_speed.py --skill open_drawer --workers 4 --steps 2000

Env steps/s: random actions through ``robot_cl.rl.vec.vectorise`` with one env in this process
(the baseline) and with ``--workers`` async worker processes; the ratio is measured in the same run.
The same for primitive calls (``policy=hierarchical``'s steps, each a whole primitive run).
SAC updates/s: Continual World's networks (4 x 256, batch 128) on the skill's observation size, on
the CPU and, when CUDA is available, on the GPU (with the GPU/CPU ratio).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def env_steps_per_s(skill: str, workers: int, steps: int, seed: int = 0, primitive: bool = False) -> float:
    """Steps per second of random actions; with ``primitive``, primitive calls per second (policy=hierarchical's steps)."""
    from functools import partial

    from robot_cl import tasks
    from robot_cl.rl.vec import vectorise

    envs = vectorise(partial(tasks.make_env, skill), workers, workers > 1, {"max_calls": 8} if primitive else None)
    rng = np.random.default_rng(seed)
    envs.reset(seed=seed)
    for _ in range(5):  # warm up (worker start-up is not throughput)
        envs.step(rng.uniform(-1, 1, envs.action_space.shape).astype(np.float32))
    n = max(1, steps // workers)
    t0 = time.perf_counter()
    for _ in range(n):
        envs.step(rng.uniform(-1, 1, envs.action_space.shape).astype(np.float32))
    seconds = time.perf_counter() - t0
    envs.close()
    return n * workers / seconds


def sac_updates_per_s(obs_dim: int, act_dim: int, device: str, updates: int) -> float:
    import torch

    from robot_cl.rl.sac import SAC, ReplayBuffer

    torch.manual_seed(0)
    sac = SAC(obs_dim, act_dim, 10).to(device)
    sac.reset_optimizers()
    buf = ReplayBuffer(10_000, obs_dim, act_dim)
    rng = np.random.default_rng(0)
    for _ in range(2_000):
        buf.add(rng.normal(size=obs_dim), rng.uniform(-1, 1, act_dim), rng.normal(), rng.normal(size=obs_dim), False, 0)
    batches = [buf.sample(128, rng, device) for _ in range(updates + 10)]
    for b in batches[:10]:
        sac.update(b)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for b in batches[10:]:
        sac.update(b)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return updates / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    import os

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skill", default="press_button")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--primitive-calls", type=int, default=200, help="primitive calls for the primitive-space measurement (0: skip)")
    args = p.parse_args(argv)

    import torch

    import robot_cl

    env = robot_cl.make(args.skill)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    env.close()
    one = env_steps_per_s(args.skill, 1, args.steps)
    many = env_steps_per_s(args.skill, args.workers, args.steps)
    print(f"env steps/s  {args.skill}: 1 worker {one:.0f}, {args.workers} workers {many:.0f}, ratio {many / one:.2f}")
    if args.primitive_calls:
        one = env_steps_per_s(args.skill, 1, args.primitive_calls, primitive=True)
        many = env_steps_per_s(args.skill, args.workers, args.primitive_calls, primitive=True)
        print(f"primitive calls/s  {args.skill}: 1 worker {one:.1f}, {args.workers} workers {many:.1f}, ratio {many / one:.2f}")
    cpu = sac_updates_per_s(obs_dim, act_dim, "cpu", args.updates)
    print(f"SAC updates/s (4x256, batch 128) cpu {cpu:.0f} ({torch.get_num_threads()} threads)")
    if torch.cuda.is_available():
        gpu = sac_updates_per_s(obs_dim, act_dim, "cuda", args.updates * 3)
        print(f"SAC updates/s cuda {gpu:.0f}, ratio gpu/cpu {gpu / cpu:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
