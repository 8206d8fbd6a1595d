"""SAC as a robot_cl learner (``learner=sac``): the loop that trains :class:`robot_cl.rl.agent.SACPolicy`.


* ``act`` / ``forward``: the deterministic actor (tanh of the Gaussian mean), what evaluation runs;
* ``loss(batch)``: the SAC loss of actor and critics on a batch of transitions, the actor's term
  computed through detached critics so each loss trains only its own network. Regularisers
  (Fisher, path integrals), A-GEM's reference gradients and replay all use this loss, so they
  act on actor and critics together (Continual World regularises both);
* ``outputs(batch)``: the actor's mean action and both critics' Q-values (distillation, MAS).

:class:`SACLearner` runs a task cleanrl-style, top to bottom: uniform random actions for the first
``start_steps`` environment steps (Continual World explores this way at the start of each task),
then the stochastic actor (in primitive space, with probability ``primitive_switch`` per call a
random primitive runs with the actor's parameters); after ``update_after`` steps, ``update_every *
updates_per_step`` gradient updates every ``update_every`` steps. Each update calls the strategy
hooks in :class:`robot_cl.learners.BCLearner`'s order (``loss`` -> backward -> ``after_backward`` ->
clip -> step -> ``after_update``), then tunes the entropy coefficient and moves the target critics.
A strategy's ``training_data`` is asked once per task for rows to mix into the minibatches (replayed
or multitask transitions); the task's own transitions are the ``data`` of ``after_training_task``.
The replay buffer and the optimisers are reset at each task (``reset_buffer``, ``reset_optimizer``),
as Continual World does.

The learner's stage budget is ``learner.steps`` environment steps; learning curves, recovery and
the progress bar count environment steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from robot_cl.learners.base import RLTask, register_learner
from robot_cl.learners.rl import EpisodeStats, RLLearner
from robot_cl.rl.agent import GROUP, SACPolicy, empty_transitions
from robot_cl.rl.primitive_env import switch_primitives
from robot_cl.rl.sac import AGENT_KEYS, ReplayBuffer
from robot_cl.rl.vec import true_next_obs
from robot_cl.strategies import Data, Plugin
from robot_cl.strategies.base import hooked_step


@register_learner
class SACLearner(RLLearner):
    """Soft Actor-Critic with the continual-learning hooks (see the module docstring)."""

    name = "sac"
    agent = SACPolicy
    agent_keys = AGENT_KEYS

    def __init__(self, policy: SACPolicy, cfg: dict, plugins: list[Plugin], device: torch.device) -> None:
        super().__init__(policy, cfg, plugins, device)
        self.buffer: ReplayBuffer | None = None

    def named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """Actor and critics; not the target critics (Polyak copies) nor the entropy coefficients."""
        return [(n, p) for n, p in super().named_parameters() if "_target" not in n and "log_alpha" not in n]

    def reset_optimizers(self) -> None:
        self.optimizer = self.make_optimizer()
        self.alpha_opt = torch.optim.Adam([self.policy.sac.log_alpha, self.policy.sac.log_alpha_d], lr=self.lr)

    # -- one task ------------------------------------------------------------------------------------
    def train_task(
        self,
        task: int,
        data: RLTask,
        steps: int,
        seed: int,
        on_update: Callable[[int, dict[str, float]], None] | None = None,
        checkpoints: dict[int, Callable[[int], None]] | None = None,
    ) -> dict[str, Any]:
        """``steps`` environment steps of SAC on one task. ``checkpoints`` maps step counts to callbacks."""
        cfg, policy = self.cfg, self.policy
        envs = self.make_envs(data)
        n_envs, obs_dim, act_dim = envs.num_envs, policy.obs_dim, policy.act_dim
        if self.buffer is None or cfg["reset_buffer"]:
            self.buffer = ReplayBuffer(int(cfg["buffer_size"]), obs_dim, act_dim)
        self.start_task(task, empty_transitions(obs_dim, act_dim, self.device))
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        obs, _ = envs.reset(seed=int(rng.integers(2**31)))
        stats, info = EpisodeStats(n_envs), {}
        start, after, every = int(cfg["start_steps"]), int(cfg["update_after"]), max(1, int(cfg["update_every"]))
        n_updates = max(1, round(every * float(cfg["updates_per_step"])))  # the update-to-data ratio
        switch = float(cfg["primitive_switch"]) if policy.primitive_actions else 0.0
        t0 = time.perf_counter()
        policy.train()
        step = 0
        while step < steps:  # one vector step = n_envs environment steps
            if step < start:
                action = rng.uniform(-1, 1, (n_envs, act_dim)).astype(np.float32)
            else:
                action = policy.explore(obs, task)
                if switch > 0:
                    action = switch_primitives(action, switch, rng)
            nxt, reward, terminated, truncated, step_info = envs.step(action)
            final = true_next_obs(nxt, terminated, truncated, step_info)
            episode = stats.step(reward, terminated, truncated, step_info)
            for i in range(n_envs):
                # A time limit is not a terminal state: only `terminated` stops the bootstrap.
                self.buffer.add(obs[i], action[i], reward[i], final[i], terminated[i], task, episode[i])
            obs = nxt
            for _ in range(n_envs):
                step += 1
                self.env_steps += 1
                if step >= after and step % every == 0:
                    for _ in range(n_updates):
                        info = self.update(rng)
                if on_update is not None:
                    on_update(step, {**info, "loss": info.get("loss", 0.0), **stats.summary()})
                if checkpoints and step in checkpoints:
                    policy.eval()
                    checkpoints[step](step)
                    policy.train()
        envs.close()
        policy.eval()
        own = {GROUP: self.buffer.contents(self.device)}
        own[GROUP] = {k: v[own[GROUP]["task"] == task] for k, v in own[GROUP].items()}
        for p in self.plugins:
            p.after_training_task(self, task, own)
        return {"steps": step, "episodes": len(stats.returns), "seconds": time.perf_counter() - t0, **info, **stats.summary()}

    def sample(self, rng: np.random.Generator) -> Data:
        """A minibatch drawn uniformly from the task's buffer and the strategies' extra rows together."""
        mem = self.memory[GROUP]
        n_mem = len(mem["obs"])
        from_mem = rng.random(self.batch_size) < n_mem / (n_mem + self.buffer.size) if n_mem else np.zeros(self.batch_size, bool)
        own = self.buffer.sample(int((~from_mem).sum()), rng, self.device)
        if not from_mem.any():
            return {GROUP: own}
        idx = torch.as_tensor(rng.integers(0, n_mem, int(from_mem.sum())), device=self.device)
        return {GROUP: {k: torch.cat([own[k], mem[k][idx].to(own[k].dtype)]) for k in own}}

    def update(self, rng: np.random.Generator) -> dict[str, float]:
        """One update on a minibatch drawn from the buffer and the strategies' rows (:meth:`step`)."""
        return self.step(self.sample(rng))

    def step(self, batch: Data) -> dict[str, float]:
        """SAC's one update path: a gradient step of actor and critics with the strategy hooks
        (``hooked_step``), then the entropy coefficients, the target critics and ``after_update``."""
        info = hooked_step(self, batch)
        a_loss = self.policy.alpha_loss(batch)
        self.alpha_opt.zero_grad(set_to_none=True)
        a_loss.backward()
        self.alpha_opt.step()
        self.policy.sac.polyak_update()
        for p in self.plugins:
            p.after_update(self)
        self.total_updates += 1
        info["alpha"] = float(self.policy.sac.log_alpha.detach().exp().mean())
        if self.policy.sac.actor.discrete:
            info["alpha_discrete"] = float(self.policy.sac.log_alpha_d.detach().exp().mean())
        return info

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "alpha_opt": self.alpha_opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.alpha_opt.load_state_dict(state["alpha_opt"])
