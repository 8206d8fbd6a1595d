"""The SAC agent as a robot_cl policy (policy names ``sac_flat`` and ``sac_hierarchical``).

:class:`SACPolicy` is the whole agent -- actor, twin critics, their target copies and the per-task
entropy coefficients -- as a :class:`robot_cl.policies.Policy`, so checkpoints, evaluation workers and
strategies treat it like the behaviour-cloning policies:

* ``act`` / ``forward``: the deterministic actor (tanh of the Gaussian mean), what evaluation runs;
* ``loss(batch)``: the SAC loss of actor and critics on a batch of transitions, the actor's term
  computed through detached critics so each loss trains only its own network. Regularisers
  (Fisher, path integrals), A-GEM's reference gradients and replay all use this loss, so they
  act on actor and critics together (Continual World regularises both);
* ``outputs(batch)``: the actor's mean action and both critics' Q-values (distillation, MAS).

The learner that trains it is :class:`robot_cl.learners.sac.SACLearner`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from robot_cl.errors import ConfigError
from robot_cl.policies import MaskedLinear, Policy, register_policy
from robot_cl.rl.primitive_env import primitive_action_dim, primitive_choices
from robot_cl.rl.sac import DISCRETE_GRADIENTS, SAC, SACConfig
from robot_cl.strategies import Data

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
