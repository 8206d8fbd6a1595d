"""PPO as a robot_cl learner (``learner=ppo``): cleanrl's ``ppo_continuous_action`` loop, read top to bottom,
training :class:`robot_cl.rl.ppo.PPOPolicy` with the strategies' hooks (see :mod:`robot_cl.rl.ppo`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from robot_cl.learners.base import RLTask, register_learner
from robot_cl.learners.rl import EpisodeStats, RLLearner
from robot_cl.rl.ppo import FIELDS, GROUP, PPOPolicy, empty_rollouts, gae
from robot_cl.strategies.base import hooked_step


@register_learner
class PPOLearner(RLLearner):
    """PPO with the continual-learning hooks (see the module docstring)."""

    name = "ppo"
    agent = PPOPolicy
    agent_keys = ("hidden", "init_log_std", "clip", "vf_coef", "ent_coef", "norm_adv")

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam([p for _, p in self.named_parameters()], lr=self.lr, eps=1e-5)  # cleanrl's eps

    def train_task(
        self,
        task: int,
        data: RLTask,
        steps: int,
        seed: int,
        on_update: Callable[[int, dict[str, float]], None] | None = None,
        checkpoints: dict[int, Callable[[int], None]] | None = None,
    ) -> dict[str, Any]:
        """About ``steps`` environment steps of PPO on one task (whole rollouts; the last may be cut short)."""
        cfg, policy = self.cfg, self.policy
        horizon, gamma, lam = int(cfg["rollout"]), float(cfg["gamma"]), float(cfg["gae_lambda"])
        envs = self.make_envs(data)
        n_envs = envs.num_envs
        self.start_task(task, empty_rollouts(policy.obs_dim, policy.act_dim, self.device))
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        obs, _ = envs.reset(seed=int(rng.integers(2**31)))
        stats, kept, info = EpisodeStats(n_envs), [], {}
        keep = int(cfg["keep_rows"])
        t0, step, pending = time.perf_counter(), 0, sorted(checkpoints or {})
        while step < steps:
            T = min(horizon, math.ceil((steps - step) / n_envs))
            buf = {k: [] for k in ("obs", "act", "logp", "val", "rew", "done", "episode")}
            for _ in range(T):
                action, logp, value = policy.sample(obs, task)
                nxt, reward, terminated, truncated, step_info = envs.step(np.clip(action, -1.0, 1.0))
                episode = stats.step(reward, terminated, truncated, step_info)
                reward = np.asarray(reward, dtype=np.float64)
                for i in np.flatnonzero(truncated & ~terminated):  # a time limit: bootstrap from the final state
                    reward[i] += gamma * float(policy.value(step_info["final_obs"][i][None], task)[0])
                ended = np.logical_or(terminated, truncated)
                for k, v in zip(buf, (obs, action, logp, value, reward, ended, episode)):
                    buf[k].append(np.asarray(v))
                obs = nxt
                step += n_envs
                self.env_steps += n_envs
            t = {k: torch.as_tensor(np.stack(v), dtype=torch.float32) for k, v in buf.items() if k != "episode"}
            adv, ret = gae(t["rew"], t["val"], torch.as_tensor(policy.value(obs, task), dtype=torch.float32), t["done"], gamma, lam)
            rows = {
                "obs": t["obs"].flatten(0, 1),
                "act": t["act"].flatten(0, 1),
                "logp": t["logp"].flatten(0, 1),
                "adv": adv.flatten(),
                "ret": ret.flatten(),
                "task": torch.full((T * n_envs,), task, dtype=torch.long),
                "episode": torch.as_tensor(np.stack(buf["episode"]).reshape(-1), dtype=torch.long),
            }
            rows = {k: v.to(self.device) for k, v in rows.items()}
            info = self.update_epochs(rows, rng)
            kept.append(rows)
            while len(kept) > 1 and sum(len(r["obs"]) for r in kept[1:]) >= keep:  # only the last keep_rows are handed over
                kept.pop(0)
            if on_update is not None:
                on_update(step, {**info, **stats.summary()})
            while pending and step >= pending[0]:  # evaluations scheduled at or before this step
                policy.eval()
                checkpoints[pending.pop(0)](step)
        envs.close()
        policy.eval()
        own = {GROUP: {k: torch.cat([r[k] for r in kept])[-keep:] for k in FIELDS}}
        for p in self.plugins:
            p.after_training_task(self, task, own)
        return {"steps": step, "episodes": len(stats.returns), "seconds": time.perf_counter() - t0, **info, **stats.summary()}

    def update_epochs(self, rows: dict[str, torch.Tensor], rng: np.random.Generator) -> dict[str, float]:
        """``epochs`` passes over one rollout in shuffled minibatches (plus strategy rows), each a hooked step."""
        n, mem = len(rows["obs"]), self.memory[GROUP]
        n_mem = len(mem["obs"])
        info: dict[str, float] = {}
        self.policy.train()
        for _ in range(int(self.cfg["epochs"])):
            perm = torch.as_tensor(rng.permutation(n), device=self.device)
            for s in range(0, n, self.batch_size):
                idx = perm[s : s + self.batch_size]
                batch = {k: v[idx] for k, v in rows.items()}
                if n_mem:  # strategy rows in proportion to their share of all rows
                    k = int(rng.binomial(len(idx), n_mem / (n_mem + n)))
                    if k:
                        j = torch.as_tensor(rng.integers(0, n_mem, k), device=self.device)
                        batch = {f: torch.cat([batch[f], mem[f][j].to(batch[f].dtype)]) for f in FIELDS}
                info = hooked_step(self, {GROUP: batch})
                for p in self.plugins:
                    p.after_update(self)
                self.total_updates += 1
        self.policy.eval()
        return info
