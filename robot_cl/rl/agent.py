"""SAC as a robot_cl learner (``learner=sac``): the agent as a policy, and the learner that runs it.

:class:`SACPolicy` (policy name ``sac_flat``) is the whole agent -- actor, twin critics, their
target copies and the per-task entropy coefficients -- as a :class:`robot_cl.policies.Policy`, so
checkpoints, evaluation workers and strategies treat it like the behaviour-cloning policies:

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
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from robot_cl.errors import ConfigError
from robot_cl.learners.base import RLTask, register_learner
from robot_cl.policies import MaskedLinear, Policy, register_policy
from robot_cl.rl.primitive_env import primitive_action_dim, primitive_choices, switch_primitives
from robot_cl.rl.sac import AGENT_KEYS, DISCRETE_GRADIENTS, SAC, ReplayBuffer, SACConfig
from robot_cl.rl.vec import step_success, true_next_obs, vectorise
from robot_cl.strategies import Data, Plugin
from robot_cl.strategies.base import hooked_step, to_device

GROUP = "transitions"  # the data group strategies see: obs, act, rew, next_obs, done, task, episode


class SACPolicy(Policy):
    """The SAC agent as a policy (see the module docstring)."""

    kind = "sac"

    def __init__(self, cfg, obs_dim, act_dim, n_tasks, obs_center=None, obs_scale=None):
        # Primitive space (policy=hierarchical): one action is a primitive call (robot_cl.rl.primitive_env).
        self.primitive_actions = bool(cfg["primitive_actions"])
        s = cfg["sac"]
        discrete: tuple[int, ...] = ()
        if self.primitive_actions:
            act_dim = primitive_action_dim(cfg["primitive_env"])
            if s["categorical"]:  # the primitive (and anchor) choice from categorical heads (MAPLE)
                discrete = primitive_choices(cfg["primitive_env"])
        if s["discrete_gradient"] not in DISCRETE_GRADIENTS:
            raise ConfigError(f"unknown learner.discrete_gradient {s['discrete_gradient']!r}; valid: {', '.join(DISCRETE_GRADIENTS)}")
        super().__init__(cfg, obs_dim, act_dim, n_tasks, obs_center, obs_scale)
        self.sac = SAC(obs_dim, act_dim, n_tasks, SACConfig.from_agent(s, bool(cfg["per_task_modules"]), discrete))

    @property
    def heads(self) -> list[nn.ModuleList]:
        """Per task: its actor head and its two critic heads (``policy.per_task_modules``; used by ``modular``)."""
        nets = (self.sac.actor.net, self.sac.q1.net, self.sac.q2.net)
        return [nn.ModuleList(net.heads[t] for net in nets) for t in range(len(self.sac.actor.net.heads))]

    @property
    def masked_layers(self) -> list[MaskedLinear]:
        # The target critics follow the online ones by Polyak averaging; strategies leave them alone.
        return [m for n, m in self.named_modules() if isinstance(m, MaskedLinear) and "_target" not in n]

    def norm(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs - self.obs_center) / self.obs_scale

    def _forward(self, obs: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        action, _ = self.sac.actor(self.sac.inputs(self.norm(obs), task), task, deterministic=True)
        return action

    @torch.no_grad()
    def act(self, obs: np.ndarray, task: int) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None]
        return self.forward(o, torch.tensor([task], device=self.device))[0].cpu().numpy()

    @torch.no_grad()
    def explore(self, obs: np.ndarray, task: int) -> np.ndarray:
        """Stochastic actions (training-time behaviour) for a batch of observations (B, obs_dim)."""
        o = self.norm(torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device))
        t = torch.full((len(o),), task, dtype=torch.long, device=self.device)
        return self.sac.actor(self.sac.inputs(o, t), t)[0].cpu().numpy()

    def _normalised(self, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {**b, "obs": self.norm(b["obs"]), "next_obs": self.norm(b["next_obs"])}

    def loss(self, batch: Data) -> tuple[torch.Tensor, dict[str, float]]:
        b = self._normalised(batch[GROUP])
        sac = self.sac
        q_loss = sac.critic_loss(b)
        x = sac.inputs(b["obs"], b["task"])
        fixed = [{n: p.detach() for n, p in net.named_parameters()} for net in (sac.q1, sac.q2)]

        def q(x: torch.Tensor, a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # the critics as constants
            return torch.min(*(torch.func.functional_call(net, w, (x, a, t)) for net, w in zip((sac.q1, sac.q2), fixed)))

        pi_loss, logp, logp_d = sac.policy_loss(x, b["task"], q)
        info = {"q_loss": float(q_loss.detach()), "pi_loss": float(pi_loss.detach()), "entropy": float(-(logp + logp_d).detach().mean())}
        return q_loss + pi_loss, info

    def alpha_loss(self, batch: Data) -> torch.Tensor:
        b = self._normalised(batch[GROUP])
        with torch.no_grad():
            _, logp, logp_d = self.sac.actor(self.sac.inputs(b["obs"], b["task"]), b["task"], split=True)
        return self.sac.alpha_loss(b, (logp, logp_d))

    def outputs(self, batch: Data) -> dict[str, dict[str, torch.Tensor]]:
        b = self._normalised(batch[GROUP])
        x = self.sac.inputs(b["obs"], b["task"])
        action, _ = self.sac.actor(x, b["task"], deterministic=True)
        return {GROUP: {"action": action, "q1": self.sac.q1(x, b["act"], b["task"]), "q2": self.sac.q2(x, b["act"], b["task"])}}

    @torch.no_grad()
    def sync_targets(self) -> None:
        """Target critics := online critics (after the online ones were replaced: Progress & Compress)."""
        self.sac.q1_target.load_state_dict(self.sac.q1.state_dict())
        self.sac.q2_target.load_state_dict(self.sac.q2.state_dict())


register_policy(SACPolicy, name="sac_flat")
register_policy(SACPolicy, name="sac_hierarchical")


def empty_transitions(obs_dim: int, act_dim: int, device) -> Data:
    z = lambda *shape, dtype=torch.float32: torch.zeros(shape, dtype=dtype, device=device)  # noqa: E731
    return {
        GROUP: {
            "obs": z(0, obs_dim),
            "act": z(0, act_dim),
            "rew": z(0),
            "next_obs": z(0, obs_dim),
            "done": z(0),
            "task": z(0, dtype=torch.long),
            "episode": z(0, dtype=torch.long),
        }
    }


class RLLearner:
    """What the RL learners (SAC, PPO) share: the strategy interface of :class:`robot_cl.learners.BCLearner`
    (``named_parameters``, ``loss_on``, ``outputs``, ``optimizer``), the agent's config, the vector
    env a task is collected from, the per-task strategy set-up, and checkpoint state.

    A subclass names its agent policy class (``agent``) and the learner config keys the agent is
    built from (``agent_keys``), and writes ``train_task``.
    """

    name: ClassVar[str] = ""
    needs_demos = False  # collects its own data from the task's environment
    budget_key = "steps"  # environment steps per stage (curves, recovery and the progress bar count them)
    agent: ClassVar[type[Policy]]
    agent_keys: ClassVar[tuple[str, ...]]

    def __init__(self, policy: Policy, cfg: dict, plugins: list[Plugin], device: torch.device) -> None:
        if not isinstance(policy, self.agent):
            raise ConfigError(f"learner={self.name} trains the {self.name.upper()} agent policy, got {type(policy).__name__}")
        self.policy, self.cfg, self.plugins, self.device = policy, cfg, plugins, device
        self.batch_size = int(cfg["batch_size"])
        self.lr = float(cfg["lr"])
        self.grad_clip = float(cfg["grad_clip"])
        self.reset_optimizers()
        self.total_updates = 0
        self.env_steps = 0
        self.memory: Data = {}

    @classmethod
    def policy_config(cls, policy_cfg: dict, learner_cfg: dict) -> dict:
        """The agent's config: the policy group's task settings plus the learner's network settings."""
        name = policy_cfg.get("name")
        if name not in ("flat", "hierarchical"):
            raise ConfigError(f"learner={cls.name} trains policy=flat or policy=hierarchical; got policy={name}; valid: flat, hierarchical")
        missing = [k for k in cls.agent_keys if k not in learner_cfg]
        if missing:
            raise ConfigError(f"learner={cls.name} config lacks {', '.join(missing)} (configs/learner/{cls.name}.yaml has them)")
        agent = {k: learner_cfg[k] for k in cls.agent_keys}
        # policy=hierarchical acts in primitive space: one action is a primitive call (robot_cl.rl.primitive_env).
        out = {**policy_cfg, "name": f"{cls.name}_{name}", cls.name: agent, "primitive_actions": name == "hierarchical"}
        if name == "hierarchical":
            out["primitive_env"] = dict(learner_cfg["primitive_env"])
        return out

    # -- what strategies use (the same as BCLearner) -------------------------------------------------
    def named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.policy.named_parameters() if p.requires_grad]

    def loss_on(self, batch: Data) -> tuple[torch.Tensor, dict[str, float]]:
        return self.policy.loss(batch)

    def outputs(self, batch: Data) -> dict[str, dict[str, torch.Tensor]]:
        return self.policy.outputs(batch)

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam([p for _, p in self.named_parameters()], lr=self.lr)

    def reset_optimizers(self) -> None:
        self.optimizer = self.make_optimizer()

    # -- per task --------------------------------------------------------------------------------------
    def make_envs(self, data: RLTask) -> gym.vector.VectorEnv:
        """``learner.n_envs`` copies of the task (in primitive space for a hierarchical agent)."""
        primitive_env = self.policy.cfg["primitive_env"] if self.policy.primitive_actions else None
        n_envs, asynchronous = max(1, int(self.cfg["n_envs"])), bool(self.cfg["asynchronous"])
        return vectorise(data.make_env, n_envs, asynchronous, primitive_env, self.cfg["workers"])

    def start_task(self, task: int, empty: Data) -> None:
        """Fresh optimiser states (``reset_optimizer``), the strategies' extra rows, ``before_training_task``."""
        if self.cfg["reset_optimizer"]:
            self.reset_optimizers()
        memory = empty
        for p in self.plugins:  # rows a strategy wants trained on besides the task's own (replay, multitask)
            memory = p.training_data(self, task, memory)
        self.memory = to_device(memory, self.device)
        for p in self.plugins:
            p.before_training_task(self, task, self.memory)

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "total_updates": self.total_updates, "env_steps": self.env_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.reset_optimizers()
        self.optimizer.load_state_dict(state["optimizer"])
        self.total_updates, self.env_steps = int(state["total_updates"]), int(state["env_steps"])


class EpisodeStats:
    """Episode ids, returns and successes of the training episodes of a vector env's sub-envs."""

    def __init__(self, n_envs: int) -> None:
        self.ids = np.arange(n_envs)  # each env's current episode (ids are unique within the task)
        self.next_id = n_envs
        self.ret, self.success = np.zeros(n_envs), np.zeros(n_envs, bool)
        self.returns: list[float] = []
        self.successes: list[float] = []
        self.last: dict[str, float] = {}  # the summary, recomputed when an episode ends (not at every step)

    def step(self, reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, info: dict) -> np.ndarray:
        """Account one vector step; returns the episode id of each env's transition."""
        ids, ended = self.ids.copy(), np.logical_or(terminated, truncated)
        self.ret += reward
        self.success |= step_success(info, ended)
        for i in np.flatnonzero(ended):
            self.returns.append(float(self.ret[i]))
            self.successes.append(float(self.success[i]))
            self.ids[i], self.next_id, self.ret[i], self.success[i] = self.next_id, self.next_id + 1, 0.0, False
        if ended.any():
            self.last = {"episode_return": float(np.mean(self.returns[-20:])), "episode_success": float(np.mean(self.successes[-20:]))}
        return ids

    def summary(self) -> dict[str, float]:
        """Mean return and success of the last 20 finished episodes (empty before the first)."""
        return self.last


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
        loss, info = hooked_step(self, batch)
        a_loss = self.policy.alpha_loss(batch)
        self.alpha_opt.zero_grad(set_to_none=True)
        a_loss.backward()
        self.alpha_opt.step()
        self.policy.sac.polyak_update()
        for p in self.plugins:
            p.after_update(self)
        self.total_updates += 1
        info["loss"] = float(loss.detach())
        info["alpha"] = float(self.policy.sac.log_alpha.detach().exp().mean())
        if self.policy.sac.actor.discrete:
            info["alpha_discrete"] = float(self.policy.sac.log_alpha_d.detach().exp().mean())
        return info

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "alpha_opt": self.alpha_opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.alpha_opt.load_state_dict(state["alpha_opt"])
