"""PPO (Schulman et al., 2017): the objective and the agent; the learner is :mod:`robot_cl.learners.ppo`.

Read top to bottom: the two pure functions checked against hand computations (:func:`clipped_surrogate`,
:func:`gae`) and the agent as a policy (:class:`PPOPolicy`, names ``ppo_flat`` / ``ppo_hierarchical``).
:class:`robot_cl.learners.ppo.PPOLearner`'s loop follows cleanrl's ``ppo_continuous_action``: collect ``rollout``
steps from each of ``n_envs`` environments (``gymnasium.vector``, async workers), estimate advantages
with GAE, then ``epochs`` passes of minibatch updates of the clipped objective, value loss and
entropy bonus. ``policy=hierarchical`` acts in motion-primitive space exactly as with SAC
(:mod:`robot_cl.rl.primitive_env`).

Strategies plug in as with the other learners: every minibatch step goes through
:func:`robot_cl.strategies.base.hooked_step`, so penalties, gradient projections and PackNet's
masks act on the PPO loss of actor and critic together; a strategy's ``training_data`` rows
(replayed or multitask transitions, with the log-probabilities and advantages they were collected
with) are mixed into the minibatches; the task's last ``keep_rows`` transitions are the ``data`` of
``after_training_task``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from robot_cl.policies import Policy, register_policy
from robot_cl.rl.primitive_env import primitive_action_dim
from robot_cl.rl.sac import CWMLP
from robot_cl.strategies import Data

GROUP = "transitions"  # obs, act, logp, adv, ret, task, episode
FIELDS = ("obs", "act", "logp", "adv", "ret", "task", "episode")


# -- the objective ---------------------------------------------------------------------------------
def clipped_surrogate(logp_new: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor, clip: float = 0.2) -> torch.Tensor:
    """PPO's clipped policy loss (to minimise): ``-mean(min(r A, clip(r, 1 - eps, 1 + eps) A))``, ``r = exp(logp_new - logp_old)``."""
    ratio = (logp_new - logp_old).exp()
    return -torch.min(ratio * adv, ratio.clamp(1.0 - clip, 1.0 + clip) * adv).mean()


def gae(rewards: torch.Tensor, values: torch.Tensor, last_value: torch.Tensor, dones: torch.Tensor, gamma: float, lam: float):
    """Generalised advantage estimates (Schulman et al., 2016) and returns for a (T, N) rollout of N environments.

    ``dones[t]`` is 1 where the episode ended at step ``t`` (so step ``t + 1`` starts a new one);
    ``last_value`` (N,) bootstraps the step after the rollout.
    """
    T = len(rewards)
    adv = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    for t in reversed(range(T)):
        next_value = last_value if t == T - 1 else values[t + 1]
        keep = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * keep - values[t]
        running = delta + gamma * lam * keep * running
        adv[t] = running
    return adv, adv + values


# -- the agent ---------------------------------------------------------------------------------------
class PPOPolicy(Policy):
    """Gaussian actor (mean network, one learned log-std vector per task) and a state-value critic.

    Both networks are Continual World's MLP layout (:class:`robot_cl.rl.sac.CWMLP`) of ``ppo.hidden``
    units, on the normalised observation plus the task one-hot, with one output head per task when
    ``policy.per_task_modules`` is on. Actions are unsquashed Gaussian samples; the environment sees
    them clipped to [-1, 1] (as cleanrl does), evaluation uses the clipped mean.
    """

    kind = "ppo"

    def __init__(self, cfg, obs_dim, act_dim, n_tasks, obs_center=None, obs_scale=None):
        self.primitive_actions = bool(cfg["primitive_actions"])  # policy=hierarchical: primitive calls
        if self.primitive_actions:
            act_dim = primitive_action_dim(cfg["primitive_env"])
        cfg = {**cfg, "task_onehot": True}
        super().__init__(cfg, obs_dim, act_dim, n_tasks, obs_center, obs_scale)
        hidden = tuple(cfg["ppo"]["hidden"])
        heads = n_tasks if cfg["per_task_modules"] else 1
        self.actor = CWMLP(self.in_dim, act_dim, hidden, heads)
        self.critic = CWMLP(self.in_dim, 1, hidden, heads)
        with torch.no_grad():  # small initial means: exploration starts from the log-std, not the init
            for head in self.actor.heads:
                head.weight.mul_(0.01)
                head.bias.zero_()
        self.log_std = nn.Parameter(torch.full((n_tasks, act_dim), float(cfg["ppo"]["init_log_std"])))

    @property
    def heads(self) -> list[nn.ModuleList]:
        """Per task: its actor and critic heads (``policy.per_task_modules``; used by ``modular``)."""
        return [nn.ModuleList([self.actor.heads[t], self.critic.heads[t]]) for t in range(len(self.actor.heads))]

    def _forward(self, obs: torch.Tensor, task: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.inputs(obs, task)
        return self.actor(x, task), self.critic(x, task).squeeze(-1)

    def dist(self, obs: torch.Tensor, task: torch.Tensor) -> tuple[torch.distributions.Normal, torch.Tensor]:
        """The action distribution and the state value for a batch."""
        mean, value = self.forward(obs, task)
        return torch.distributions.Normal(mean, self.log_std[task].exp()), value

    @torch.no_grad()
    def act(self, obs: np.ndarray, task: int) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None]
        mean, _ = self.forward(o, torch.tensor([task], device=self.device))
        return mean[0].clamp(-1.0, 1.0).cpu().numpy()

    @torch.no_grad()
    def sample(self, obs: np.ndarray, task: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Actions (unclipped), their log-probabilities and the state values for a batch (B, obs_dim)."""
        o = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        dist, value = self.dist(o, torch.full((len(o),), task, dtype=torch.long, device=self.device))
        a = dist.sample()
        return a.cpu().numpy(), dist.log_prob(a).sum(-1).cpu().numpy(), value.cpu().numpy()

    @torch.no_grad()
    def value(self, obs: np.ndarray, task: int) -> np.ndarray:
        o = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        return self.forward(o, torch.full((len(o),), task, dtype=torch.long, device=self.device))[1].cpu().numpy()

    def loss(self, batch: Data) -> tuple[torch.Tensor, dict[str, float]]:
        b, p = batch[GROUP], self.cfg["ppo"]
        dist, value = self.dist(b["obs"], b["task"])
        logp = dist.log_prob(b["act"]).sum(-1)
        adv = b["adv"]
        if p["norm_adv"] and len(adv) > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        pg = clipped_surrogate(logp, b["logp"], adv, float(p["clip"]))
        v_loss = 0.5 * ((value - b["ret"]) ** 2).mean()
        entropy = dist.entropy().sum(-1).mean()
        loss = pg + float(p["vf_coef"]) * v_loss - float(p["ent_coef"]) * entropy
        with torch.no_grad():
            clipfrac = ((logp - b["logp"]).exp().sub(1.0).abs() > float(p["clip"])).float().mean()
        info = {"pg_loss": pg, "v_loss": v_loss, "entropy": entropy, "clipfrac": clipfrac}
        return loss, {k: float(v.detach()) for k, v in info.items()}

    def outputs(self, batch: Data) -> dict[str, dict[str, torch.Tensor]]:
        b = batch[GROUP]
        mean, value = self.forward(b["obs"], b["task"])
        return {GROUP: {"action": mean, "value": value}}


register_policy(PPOPolicy, name="ppo_flat")
register_policy(PPOPolicy, name="ppo_hierarchical")


def empty_rollouts(obs_dim: int, act_dim: int, device) -> Data:
    f = lambda *shape: torch.zeros(shape, device=device)  # noqa: E731
    i = lambda: torch.zeros(0, dtype=torch.long, device=device)  # noqa: E731
    return {GROUP: {"obs": f(0, obs_dim), "act": f(0, act_dim), "logp": f(0), "adv": f(0), "ret": f(0), "task": i(), "episode": i()}}
