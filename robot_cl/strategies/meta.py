"""Meta-learning strategies: learn how to learn continually.

* ``lamaml`` (La-MAML: Gupta, Yadav & Paull, "Look-ahead Meta Learning for Continual Learning",
  NeurIPS 2020): online meta-learning with a small episodic memory and a learned learning rate for
  every parameter. Each update of the learner becomes

  1. *inner loop* (look-ahead): the current batch is split into ``inner_steps`` chunks; fast weights
     start at the weights ``theta`` and take one SGD step per chunk,
     ``theta' <- theta' - max(0, alpha) * grad l_chunk(theta')``;
  2. *meta-loss*: the learner's loss at the fast weights on the current batch together with a
     minibatch from the episodic memory (a reservoir of earlier training samples), so a step that
     would hurt earlier skills is penalised *before* it is taken;
  3. *outer update*: ``alpha <- alpha - alpha_lr * d meta / d alpha``, then
     ``theta <- theta - max(0, alpha) * d meta / d theta`` (clipped like every update), with the
     updated rates. The inner loop works on copies: ``theta`` changes only in step 3.

  As in the paper, the meta-gradient is first-order by default (``second_order: false``: the
  inner-loop gradients are treated as constants, which still gives ``alpha`` its gradient through
  ``theta'``); ``second_order: true`` differentiates through them. La-MAML makes the update
  itself (its learned rates replace the learner's optimiser for the weights), so gradient-editing
  plugins (``agem``, ``packnet``'s masks) go *before* it in ``strategy=[...]``; penalties of any
  other plugin are kept in the loss. The memory holds ``capacity`` samples per data group
  (reservoir sampling over the whole stream; the paper's memories are 200 to 1000 samples).
  The rates start at ``alpha_init = 0.003`` (SGD steps three times Adam's default learning rate):
  with 0.03 the household's behaviour-cloning loss diverged within 300 updates (seed 0), and with
  0.01 the weights ``theta`` stopped fitting at all — the inner steps did the fitting, so acting
  with ``theta`` failed every episode (docs/results.md, "Meta-learning").
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from robot_cl.errors import ConfigError
from robot_cl.strategies.base import Data, Params, Plugin, concat, register_strategy, tensor_bytes
from robot_cl.strategies.memory import BatchReservoir


class _LossAt(nn.Module):
    """The learner's loss as a module call, so ``functional_call`` can evaluate it at other weights."""

    def __init__(self, learner) -> None:
        super().__init__()
        self.policy = learner.policy  # a submodule: its parameters are the ones swapped
        self._learner = learner

    def forward(self, batch: Data) -> torch.Tensor:
        return self._learner.loss_on(batch)[0]


def chunks(batch: Data, n: int) -> list[Data]:
    """``batch`` cut into ``n`` consecutive parts of every data group (fewer when a group is smaller)."""
    sizes = {g: len(next(iter(group.values()))) for g, group in batch.items()}
    n = max(1, min(n, *sizes.values()))
    bounds = {g: np.linspace(0, s, n + 1).astype(int) for g, s in sizes.items()}
    return [{g: {k: v[bounds[g][i] : bounds[g][i + 1]] for k, v in group.items()} for g, group in batch.items()} for i in range(n)]


@register_strategy
class LaMAML(Plugin):
    name = "lamaml"
    needs_demos = True  # its inner loop splits a batch of demonstrations; an RL learner's loss is not one function

    def __init__(
        self,
        inner_steps: int = 4,
        alpha_init: float = 0.003,
        alpha_lr: float = 0.0003,
        alpha_max: float = 0.006,
        capacity: int = 1000,
        memory_batch: int = 64,
        second_order: bool = False,
        seed: int = 0,
    ):
        if inner_steps < 1 or capacity < 1 or memory_batch < 1 or alpha_init <= 0 or alpha_lr < 0 or alpha_max < alpha_init:
            raise ConfigError(
                "lamaml needs inner_steps, capacity and memory_batch >= 1, alpha_init > 0, alpha_lr >= 0 and alpha_max >= alpha_init; "
                f"got {inner_steps}, {capacity}, {memory_batch}, {alpha_init}, {alpha_lr}, {alpha_max}"
            )
        super().__init__(
            inner_steps=inner_steps,
            alpha_init=alpha_init,
            alpha_lr=alpha_lr,
            alpha_max=alpha_max,
            capacity=capacity,
            memory_batch=memory_batch,
            second_order=second_order,
            seed=seed,
        )
        self.alpha: Params = {}  # parameter name -> learned per-parameter learning rates
        self.buffers: dict[str, BatchReservoir] = {}  # per data group: a reservoir of training samples
        self._gen = torch.Generator().manual_seed(seed)

    # -- hooks -------------------------------------------------------------------------------------------
    def before_training_task(self, learner, task, data):
        if not getattr(learner, "needs_demos", True):  # (validation refuses this before a run starts)
            raise ConfigError("strategy 'lamaml' trains on demonstrations: use learner=bc")
        self._task = task
        self._gen.manual_seed(self.params["seed"] * 1000 + task)  # resumed runs draw the same memory batches
        for i, b in enumerate(self.buffers.values()):
            b.rng = np.random.default_rng([self.params["seed"], task, i])
        for n, p in learner.named_parameters():  # rates for parameters added with this skill's module
            if n not in self.alpha:
                self.alpha[n] = torch.full_like(p.detach(), self.params["alpha_init"])
            self.alpha[n] = self.alpha[n].to(p.device).requires_grad_(True)

    def loss(self, learner, batch, loss, info):
        loss_at = _LossAt(learner)
        fast = dict(learner.named_parameters())  # starts as the weights themselves: the graph leads back to them
        inner = []
        for part in chunks(batch, self.params["inner_steps"]):
            l_inner = functional_call(loss_at, {f"policy.{n}": w for n, w in fast.items()}, (part,), strict=False)
            grads = torch.autograd.grad(l_inner, list(fast.values()), create_graph=self.params["second_order"], allow_unused=True)
            fast = {
                n: w if g is None else w - torch.relu(self.alpha[n]) * (g if self.params["second_order"] else g.detach())
                for (n, w), g in zip(fast.items(), grads)
            }
            inner.append(float(l_inner.detach()))
        meta_batch = concat([batch, self._memory(learner.device)]) if self.buffers else batch
        meta = functional_call(loss_at, {f"policy.{n}": w for n, w in fast.items()}, (meta_batch,), strict=False)
        self._store(batch)
        info.update(lamaml_inner_loss=float(np.mean(inner)), lamaml_meta_loss=float(meta.detach()))
        if self not in learner.plugins[:1] and self in learner.plugins:
            # Penalties of the plugins before this one (evaluated at theta, already in ``loss``) stay in the loss.
            return meta + (loss - learner.loss_on(batch)[0])
        return meta

    def after_backward(self, learner, batch):
        """The outer update: first the rates, then the weights with the new rates (and no optimiser step)."""
        params = [p for _, p in learner.named_parameters()]
        if learner.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, learner.grad_clip)
        with torch.no_grad():
            for a in self.alpha.values():
                if a.grad is not None:
                    a -= self.params["alpha_lr"] * a.grad
                    a.clamp_(max=self.params["alpha_max"])  # see the module docstring: unbounded rates unfit theta
                    a.grad = None
            for n, p in learner.named_parameters():
                if p.grad is not None:
                    p -= torch.relu(self.alpha[n]) * p.grad
                    p.grad = None  # taken: the learner's optimiser step leaves this parameter alone

    # -- the episodic memory ------------------------------------------------------------------------------
    def _store(self, batch: Data) -> None:
        for g, group in batch.items():
            if g not in self.buffers:
                self.buffers[g] = BatchReservoir(self.params["capacity"])
                self.buffers[g].rng = np.random.default_rng([self.params["seed"], getattr(self, "_task", 0), len(self.buffers) - 1])
            self.buffers[g].add(group)

    def _memory(self, device) -> Data:
        return {g: b.sample(self.params["memory_batch"], self._gen, device) for g, b in self.buffers.items()}

    def memory_bytes(self):
        stored = sum(tensor_bytes({k: v[: len(b)] for k, v in b.data.items()}) for b in self.buffers.values())
        return stored + tensor_bytes(self.alpha)

    def state_dict(self):
        return {
            "alpha": {n: a.detach().cpu() for n, a in self.alpha.items()},
            "buffers": {g: {"data": b.data, "seen": b.seen} for g, b in self.buffers.items()},
        }

    def load_state_dict(self, state):
        self.alpha = {n: a.clone() for n, a in state["alpha"].items()}
        self.buffers = {}
        for g, s in state["buffers"].items():
            b = BatchReservoir(self.params["capacity"])
            b.data, b.seen = s["data"], int(s["seen"])
            self.buffers[g] = b
