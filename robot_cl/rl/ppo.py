"""PPO's objective and advantage estimate (Schulman et al., 2017; GAE: Schulman et al., 2016).

Pure functions on tensors, so each can be checked against a hand computation.
"""

from __future__ import annotations

import torch


def clipped_surrogate(logp_new: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor, clip: float = 0.2) -> torch.Tensor:
    """PPO's clipped policy loss (to minimise): ``-mean(min(r A, clip(r, 1 - eps, 1 + eps) A))``, ``r = exp(logp_new - logp_old)``."""
    ratio = (logp_new - logp_old).exp()
    return -torch.min(ratio * adv, ratio.clamp(1.0 - clip, 1.0 + clip) * adv).mean()


def gae(rewards: torch.Tensor, values: torch.Tensor, last_value: torch.Tensor, dones: torch.Tensor, gamma: float, lam: float):
    """Generalised advantage estimates and returns for a (T, N) rollout of N environments.

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
