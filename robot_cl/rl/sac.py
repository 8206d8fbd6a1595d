"""Soft Actor-Critic with Continual World's architecture (Haarnoja et al., 2018; Wołczyk et al., 2021).

Read top to bottom: the network (:class:`CWMLP`), the squashed-Gaussian actor, the twin critics,
a replay buffer, and :class:`SAC`, which holds the networks and the three losses (critics, actor,
entropy coefficients) and the Polyak update of the target critics. The one update path that uses
them, with the strategies' hooks, is :meth:`robot_cl.rl.agent.SACLearner.step`.

Continual World's settings (``configs/learner/sac.yaml``): 4 x 256 hidden units, LayerNorm followed by
tanh after the first layer and leaky ReLU after the others, Adam with learning rate 1e-3, batch 128,
discount 0.99, Polyak 0.995, an entropy coefficient tuned per task towards a target entropy of
``-act_dim``, and optionally one output head per task (multi-head).
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from robot_cl.policies import MaskedLinear

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
DISCRETE_GRADIENTS = ("straight_through", "expectation")  # how categorical choices learn (SAC.policy_loss)


class CWMLP(nn.Module):
    """Continual World's MLP: Linear -> LayerNorm -> tanh, then (Linear -> leaky ReLU) layers, then
    ``n_heads`` linear output heads; sample ``i`` is read from head ``task[i]`` (head 0 if single-head)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: tuple[int, ...] = (256, 256, 256, 256), n_heads: int = 1) -> None:
        super().__init__()
        # MaskedLinear is nn.Linear with a per-weight task owner, so PackNet can share these networks.
        layers: list[nn.Module] = [MaskedLinear(in_dim, hidden[0]), nn.LayerNorm(hidden[0]), nn.Tanh()]
        for a, b in itertools.pairwise(hidden):
            layers += [MaskedLinear(a, b), nn.LeakyReLU()]
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleList(MaskedLinear(hidden[-1], out_dim) for _ in range(n_heads))
        self.out_dim, self.n_heads = out_dim, n_heads

    def forward(self, x: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        if self.n_heads == 1:
            return self.heads[0](h)
        out = torch.stack([head(h) for head in self.heads], dim=1)  # (B, heads, out)
        return out[torch.arange(len(x), device=x.device), task]


def expected_log_prob(log_ps: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """Sum over categorical groups of each choice's expected log-probability ``sum_k p_k log p_k``
    (minus its exact entropy); zeros shaped like ``like`` without groups."""
    out = torch.zeros_like(like)
    for lp in log_ps:
        out = out + (lp.exp() * lp).sum(-1)
    return out


class Actor(nn.Module):
    """Squashed Gaussian policy: ``a = tanh(u)``, ``u ~ N(mean(x), std(x))``.

    With ``discrete`` group sizes (a hybrid action, as MAPLE's, Nasiriany et al. 2022), the first
    ``sum(discrete)`` action values are instead one categorical choice per group, written as scores
    (+1 for the chosen entry, -1 for the others: what :class:`robot_cl.rl.primitive_env.PrimitiveActionEnv`
    reads by argmax); the rest stay Gaussian. :meth:`SAC.policy_loss` trains the choices' logits
    straight through the sampled one-hot scores, or with the exact expectation over each group's
    entries (as discrete SAC does, Christodoulou 2019): ``SACConfig.discrete_gradient``.
    """

    def __init__(self, in_dim: int, act_dim: int, hidden: tuple[int, ...], n_heads: int = 1, discrete: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.discrete = tuple(int(k) for k in discrete)
        self.n_disc = sum(self.discrete)
        self.n_cont = act_dim - self.n_disc
        self.net = CWMLP(in_dim, self.n_disc + 2 * self.n_cont, hidden, n_heads)
        self.act_dim = act_dim

    def sample(
        self, x: torch.Tensor, task: torch.Tensor, deterministic: bool = False, straight_through: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, list]:
        """An action in [-1, 1], the Gaussian part's log-probability (change of variables through
        tanh) and, per categorical group, its log-probabilities (B, k). With ``straight_through`` the
        choices' scores carry the softmax's gradient (one-hot forward, probabilities backward)."""
        logits, mean, log_std = self.net(x, task).split([self.n_disc, self.n_cont, self.n_cont], dim=-1)
        log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        u = mean if deterministic else mean + log_std.exp() * torch.randn_like(mean)
        logp = (-0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log(1 - tanh(u)^2) written stably: 2 * (log 2 - u - softplus(-2u))
        logp = logp - (2 * (math.log(2) - u - nn.functional.softplus(-2 * u))).sum(-1)
        parts, log_ps = [], []
        for group in logits.split(self.discrete, dim=-1) if self.discrete else ():
            log_p = torch.log_softmax(group, dim=-1)
            k = group.argmax(-1) if deterministic else torch.multinomial(log_p.detach().exp(), 1).squeeze(-1)
            hard = nn.functional.one_hot(k, group.shape[-1]).to(u.dtype)
            if straight_through:
                p = log_p.exp()
                hard = hard + (p - p.detach())  # exactly the one-hot forward
            parts.append(2.0 * hard - 1.0)
            log_ps.append(log_p)
        return torch.cat([*parts, torch.tanh(u)], dim=-1), logp, log_ps

    def forward(self, x: torch.Tensor, task: torch.Tensor, deterministic: bool = False, split: bool = False):
        """An action and its log-probability; with ``split`` the Gaussian and the categorical terms
        apart (the categorical term is each choice's *expected* log-probability, minus its exact
        entropy: no sampling noise in the entropy)."""
        action, logp, log_ps = self.sample(x, task, deterministic)
        if not split:
            return action, (logp + expected_log_prob(log_ps, logp)) if log_ps else logp
        return action, logp, expected_log_prob(log_ps, logp)


class Critic(nn.Module):
    """Q(x, a)."""

    def __init__(self, in_dim: int, act_dim: int, hidden: tuple[int, ...], n_heads: int = 1) -> None:
        super().__init__()
        self.net = CWMLP(in_dim + act_dim, 1, hidden, n_heads)

    def forward(self, x: torch.Tensor, a: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, a], dim=-1), task).squeeze(-1)


class ReplayBuffer:
    """A ring buffer of transitions (numpy, so environment workers can fill it without torch)."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int) -> None:
        self.capacity = int(capacity)
        self.obs = np.zeros((self.capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((self.capacity, obs_dim), np.float32)
        self.act = np.zeros((self.capacity, act_dim), np.float32)
        self.rew = np.zeros(self.capacity, np.float32)
        self.done = np.zeros(self.capacity, np.float32)  # 1 only at a true termination, not at a time limit
        self.task = np.zeros(self.capacity, np.int64)
        self.episode = np.zeros(self.capacity, np.int64)  # lets memories keep whole episodes
        self.size = self.ptr = 0

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "obs": self.obs,
            "act": self.act,
            "rew": self.rew,
            "next_obs": self.next_obs,
            "done": self.done,
            "task": self.task,
            "episode": self.episode,
        }

    def add(self, obs, act, rew: float, next_obs, done: bool, task: int, episode: int = 0) -> None:
        i = self.ptr
        self.obs[i], self.act[i], self.rew[i], self.next_obs[i] = obs, act, rew, next_obs
        self.done[i], self.task[i], self.episode[i] = done, task, episode
        self.ptr = (self.ptr + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, n: int, rng: np.random.Generator, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        return self.rows(rng.integers(0, self.size, n), device)

    def rows(self, idx: np.ndarray, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        return {k: torch.as_tensor(v[idx], device=device) for k, v in self.arrays().items()}

    def contents(self, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """Every stored transition, oldest first."""
        order = np.arange(self.size) if self.size < self.capacity else np.roll(np.arange(self.capacity), -self.ptr)
        return self.rows(order, device)

    def clear(self) -> None:
        self.size = self.ptr = 0

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays().values())


@dataclass
class SACConfig:
    """The SAC agent's settings: ``configs/learner/sac.yaml`` holds their values (Continual World's);
    ``multi_head`` and ``discrete`` follow from the policy group (per-task heads, primitive-space choices)."""

    hidden: tuple[int, ...]
    gamma: float
    polyak: float
    init_alpha: float
    target_entropy: float | None  # None: -act_dim (of the Gaussian part, with ``discrete``)
    discrete_target_entropy: float | None  # None: half of the groups' maximum, 0.5 * sum(log k)
    discrete_gradient: str  # "straight_through" or "expectation" (DISCRETE_GRADIENTS)
    multi_head: bool = False
    discrete: tuple[int, ...] = ()  # categorical groups leading the action (hybrid actor); () = all Gaussian

    @classmethod
    def from_agent(cls, agent: dict, multi_head: bool = False, discrete: tuple[int, ...] = ()) -> SACConfig:
        """From the agent's part of a policy config (the learner config's keys of :data:`AGENT_KEYS`)."""
        return cls(
            hidden=tuple(agent["hidden"]),
            gamma=float(agent["gamma"]),
            polyak=float(agent["polyak"]),
            init_alpha=float(agent["init_alpha"]),
            target_entropy=agent["target_entropy"],
            discrete_target_entropy=agent["discrete_target_entropy"],
            discrete_gradient=agent["discrete_gradient"],
            multi_head=multi_head,
            discrete=discrete,
        )


AGENT_KEYS = ("hidden", "gamma", "polyak", "init_alpha", "target_entropy", "categorical", "discrete_target_entropy", "discrete_gradient")


class SAC(nn.Module):
    """Actor, twin critics with target copies, and one entropy coefficient per task."""

    def __init__(self, obs_dim: int, act_dim: int, n_tasks: int, cfg: SACConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.obs_dim, self.act_dim, self.n_tasks = obs_dim, act_dim, n_tasks
        heads = n_tasks if cfg.multi_head else 1
        in_dim = obs_dim + n_tasks  # the task one-hot is part of the input (Continual World)
        self.actor = Actor(in_dim, act_dim, tuple(cfg.hidden), heads, cfg.discrete)
        self.q1 = Critic(in_dim, act_dim, tuple(cfg.hidden), heads)
        self.q2 = Critic(in_dim, act_dim, tuple(cfg.hidden), heads)
        self.q1_target, self.q2_target = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        for p in [*self.q1_target.parameters(), *self.q2_target.parameters()]:
            p.requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.full((n_tasks,), math.log(cfg.init_alpha)))
        n_cont = self.actor.n_cont
        self.target_entropy = -float(n_cont) if cfg.target_entropy is None else float(cfg.target_entropy)
        # The categorical choices' own coefficient and target (MAPLE tunes the two parts apart): a
        # Gaussian's entropy has no floor, a categorical's is in [0, log k], so one target cannot serve both.
        self.log_alpha_d = nn.Parameter(torch.full((n_tasks,), math.log(cfg.init_alpha)))
        max_d = sum(math.log(k) for k in cfg.discrete)
        self.target_entropy_d = 0.5 * max_d if cfg.discrete_target_entropy is None else float(cfg.discrete_target_entropy)

    def inputs(self, obs: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        return torch.cat([obs, nn.functional.one_hot(task, self.n_tasks).to(obs.dtype)], dim=-1)

    # -- the three losses --------------------------------------------------------------------------
    def entropy_cost(self, task: torch.Tensor, logp: torch.Tensor, logp_d: torch.Tensor) -> torch.Tensor:
        """alpha * log pi of an action, the categorical part (if any) weighed by its own coefficient
        (the coefficients are constants here: only :meth:`alpha_loss` trains them)."""
        cost = self.log_alpha.detach().exp()[task] * logp
        if not self.actor.discrete:  # logp_d is zero: keep the all-Gaussian update as lean as before
            return cost
        return cost + self.log_alpha_d.detach().exp()[task] * logp_d

    def critic_loss(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        x, x2 = self.inputs(b["obs"], b["task"]), self.inputs(b["next_obs"], b["task"])
        with torch.no_grad():
            a2, logp2, logp2_d = self.actor(x2, b["task"], split=True)
            q_next = torch.min(self.q1_target(x2, a2, b["task"]), self.q2_target(x2, a2, b["task"]))
            q_next = q_next - self.entropy_cost(b["task"], logp2, logp2_d)
            target = b["rew"] + self.cfg.gamma * (1.0 - b["done"]) * q_next
        return ((self.q1(x, b["act"], b["task"]) - target) ** 2).mean() + ((self.q2(x, b["act"], b["task"]) - target) ** 2).mean()

    def policy_loss(self, x: torch.Tensor, task: torch.Tensor, q: Callable) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The actor's loss on inputs ``x`` against ``q(x, a, task)`` (critics the caller holds fixed),
        with the Gaussian and categorical log-probabilities. The Gaussian part is reparameterised
        through the sampled action. Categorical groups (``discrete_gradient``): ``straight_through``
        lets Q's gradient reach the logits through the sampled one-hot scores; ``expectation`` gives
        each group's logits the exact ``sum_k p_k (alpha_d log p_k - Q(s, a with entry k))``, the other
        parts as sampled (one critic pass per entry of every group)."""
        exact = self.cfg.discrete_gradient == "expectation"
        a, logp, log_ps = self.actor.sample(x, task, straight_through=not exact)
        logp_d = expected_log_prob(log_ps, logp)
        if not (log_ps and exact):
            return (self.entropy_cost(task, logp, logp_d) - q(x, a, task)).mean(), logp, logp_d
        loss = self.entropy_cost(task, logp, torch.zeros_like(logp)) - q(x, a, task)
        n, start, variants = len(x), 0, []
        for lp in log_ps:  # every entry of every group, the rest of the action as sampled
            k = lp.shape[-1]
            v = a.detach().repeat(k, 1)  # entry-major: rows j*n .. (j+1)*n - 1 choose entry j
            v[:, start : start + k] = -1.0
            v[torch.arange(k * n), start + torch.arange(k).repeat_interleave(n)] = 1.0
            variants.append(v)
            start += k
        with torch.no_grad():
            qs = q(x.repeat(start, 1), torch.cat(variants), task.repeat(start)).view(start, n).T  # (n, entries)
        alpha_d = self.log_alpha_d.detach().exp()[task]
        for lp, q_k in zip(log_ps, qs.split([lp.shape[-1] for lp in log_ps], dim=-1)):
            loss = loss + (lp.exp() * (alpha_d[:, None] * lp - q_k)).sum(-1)
        return loss.mean(), logp, logp_d

    def alpha_loss(self, b: dict[str, torch.Tensor], logp: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Raises a task's alpha while its policy's entropy (-logp) is under the target, lowers it above;
        the categorical part's coefficient likewise towards its own target."""
        logp_c, logp_d = logp
        loss = -(self.log_alpha[b["task"]] * (logp_c.detach() + self.target_entropy)).mean()
        if self.actor.discrete:
            loss = loss - (self.log_alpha_d[b["task"]] * (logp_d.detach() + self.target_entropy_d)).mean()
        return loss

    @torch.no_grad()
    def polyak_update(self) -> None:
        """target <- polyak * target + (1 - polyak) * online."""
        rho = self.cfg.polyak
        online = [*self.q1.parameters(), *self.q2.parameters()]
        target = [*self.q1_target.parameters(), *self.q2_target.parameters()]
        # One fused kernel per operation instead of two per tensor (on a GPU, launches dominate at this size).
        torch._foreach_mul_(target, rho)
        torch._foreach_add_(target, online, alpha=1.0 - rho)
