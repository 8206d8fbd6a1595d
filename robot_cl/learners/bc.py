"""Behaviour cloning from demonstrations (``learner=bc``), with the strategies' hooks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from robot_cl.learners.base import register_learner
from robot_cl.policies import Policy
from robot_cl.strategies import Data, Plugin, sample
from robot_cl.strategies.base import hooked_step, to_device


@register_learner
class BCLearner:
    """Behaviour cloning with continual-learning hooks (see :mod:`robot_cl.strategies`).

    Each task: the plugins may change the training data, then ``updates`` Adam steps on random
    minibatches of the policy's loss plus the plugins' penalties, with the plugins allowed to edit
    gradients after backward and to act after each update and after the task.
    """

    name = "bc"
    needs_demos = True  # trains on the experts' demonstrations (an RL learner collects its own data)
    budget_key = "updates"  # the learner config key holding a stage's budget (what curves and recovery count)

    def __init__(self, policy: Policy, cfg: dict, plugins: list[Plugin], device: torch.device) -> None:
        self.policy, self.cfg, self.plugins, self.device = policy, cfg, plugins, device
        self.batch_size = int(cfg["batch_size"])
        self.lr = float(cfg["lr"])
        self.grad_clip = float(cfg["grad_clip"])
        self.optimizer = self.make_optimizer()
        self.total_updates = 0

    @staticmethod
    def policy_config(policy_cfg: dict, learner_cfg: dict) -> dict:
        """The config the policy is built from (an RL learner substitutes its agent)."""
        return policy_cfg

    # -- what strategies use (an RL learner provides the same) ------------------------------------
    def named_parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
        """The parameters strategies protect, with stable names."""
        return list(self.policy.named_parameters())

    def loss_on(self, batch: Data) -> tuple[torch.Tensor, dict[str, float]]:
        """The learner's own training loss on a batch (before any strategy changes it)."""
        return self.policy.loss(batch)

    def outputs(self, batch: Data) -> dict[str, dict[str, torch.Tensor]]:
        """Network outputs per data group (for distillation and importance estimates)."""
        return self.policy.outputs(batch)

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.policy.parameters(), lr=self.lr, weight_decay=float(self.cfg["weight_decay"]))

    def train_task(
        self,
        task: int,
        data: Data,
        updates: int,
        seed: int,
        on_update: Callable[[int, dict[str, float]], None] | None = None,
        checkpoints: dict[int, Callable[[int], None]] | None = None,
    ) -> dict[str, Any]:
        """Train on one task. ``checkpoints`` maps update counts to callbacks (e.g. evaluation)."""
        data = to_device(data, self.device)
        for p in self.plugins:
            data = p.training_data(self, task, data)
        if self.cfg["reset_optimizer"]:  # also picks up modules added for this task
            self.optimizer = self.make_optimizer()
        for p in self.plugins:
            p.before_training_task(self, task, data)
        gen = torch.Generator().manual_seed(seed)
        self.policy.train()
        t0, info = time.perf_counter(), {}
        for u in range(1, updates + 1):
            info = self.update(sample(data, self.batch_size, gen))
            if on_update is not None:
                on_update(u, info)
            if checkpoints and u in checkpoints:
                self.policy.eval()
                checkpoints[u](u)
                self.policy.train()
        self.policy.eval()
        for p in self.plugins:
            p.after_training_task(self, task, data)
        return {"updates": updates, "seconds": time.perf_counter() - t0, **info}

    def update(self, batch: Data) -> dict[str, float]:
        """One update on ``batch`` with every plugin hook (:func:`hooked_step`, then ``after_update``)."""
        info = hooked_step(self, batch)
        for p in self.plugins:
            p.after_update(self)
        self.total_updates += 1
        return info

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "total_updates": self.total_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer = self.make_optimizer()
        self.optimizer.load_state_dict(state["optimizer"])
        self.total_updates = int(state["total_updates"])
