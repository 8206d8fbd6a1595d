"""What a learner is: the :class:`Learner` protocol the runner and the strategies rely on, and the registry.

A learner trains a policy on one task at a time, calling its strategies' hooks
(:class:`robot_cl.strategies.Plugin`) in a fixed order around every update. Behaviour cloning
(:mod:`robot_cl.learners.bc`) and the RL learners (:mod:`robot_cl.rl`) all provide it and register
themselves with :func:`register_learner`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import torch

from robot_cl.policies import Policy
from robot_cl.registry import Registry

Data = dict[str, dict[str, torch.Tensor]]


@dataclass
class RLTask:
    """What an RL learner trains on instead of demonstrations: the task's environment (made in the learner's process)."""

    name: str
    make_env: Callable[[], Any]


class Learner(Protocol):
    """What the runner and the strategies may use of a learner."""

    name: ClassVar[str]
    needs_demos: ClassVar[bool]  # trains on demonstrations (else on an RLTask's environment)
    budget_key: ClassVar[str]  # the learner config key holding a stage's budget (what curves and recovery count)

    policy: Policy
    cfg: dict[str, Any]
    plugins: list  # the strategies (robot_cl.strategies.Plugin), in hook order
    optimizer: torch.optim.Optimizer
    batch_size: int
    device: torch.device
    total_updates: int

    @classmethod
    def policy_config(cls, policy_cfg: dict, learner_cfg: dict) -> dict:
        """The config the policy is built from (an RL learner substitutes its agent; may refuse a policy)."""

    def train_task(
        self,
        task: int,
        data: Data | RLTask,
        budget: int,
        seed: int,
        on_update: Callable[[int, dict[str, float]], None] | None = None,
        checkpoints: dict[int, Callable[[int], None]] | None = None,
    ) -> dict[str, Any]:
        """Train on one task for ``budget`` units (updates, or environment steps); ``checkpoints`` maps
        budget counts to callbacks (evaluations during the stage)."""

    def named_parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
        """The parameters strategies protect, with stable names."""

    def loss_on(self, batch: Data) -> tuple[torch.Tensor, dict[str, float]]:
        """The learner's own loss on a batch (before any strategy changes it)."""

    def outputs(self, batch: Data) -> dict[str, dict[str, torch.Tensor]]:
        """Network outputs per data group (distillation, importance estimates)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


LEARNERS: Registry = Registry("learner")
register_learner = LEARNERS.register  # class decorator: make a learner available as ``learner.name``


def make_learner(cfg: dict, policy: Policy, plugins: list, device: torch.device) -> Learner:
    return LEARNERS[cfg.get("name")](policy, cfg, plugins, device)
