"""Modular strategies: give skills their own parameters.

* ``packnet`` (Mallya & Lazebnik, CVPR 2018): after training a skill on the weights nobody owns
  yet, keep its largest ``keep`` fraction (by magnitude) in every layer, release the rest (set to
  zero) and retrain the kept ones briefly; they then belong to the skill and never change again.
  ``keep: null`` (the default) scales with the curriculum: ``1.5 / tasks`` (0.25 for the six
  household skills, LIBERO's value; 0.15 for CW10), so the last skill still trains on
  ``(1 - keep)^(tasks - 1)`` of the weights, about 23 % of them for 6 to 20 tasks.
  ``retrain_updates: null`` (the default) retrains for a quarter of the updates the skill was
  trained with (500 of the household's 2000).
  Each skill is evaluated with the weights of itself and earlier skills only (the policy's task
  views), so its behaviour is exactly what it was. Biases and LayerNorm parameters of shared
  layers are trained on the first skill only. LIBERO keeps 25 % per skill; Continual World
  retrains after pruning.
* ``modular``: every skill gets its own behaviour module / head (``policy.per_task_modules``);
  modules of earlier skills are frozen; the shared trunk is ``frozen`` after the first skill,
  ``free``, or held by an ``l2`` penalty.
* ``progress_compress`` (Schwarz et al., ICML 2018): for each skill an *active column* is trained
  (progress), then distilled into the *knowledge base* -- the policy that is evaluated -- under an
  online-EWC penalty (compress). Simplification: the active column starts as a copy of the
  knowledge base (transfer through initialisation) instead of receiving lateral adapter inputs.
  With an RL learner (SAC, PPO) the learner's own environment loop is the progress phase -- it
  trains ``learner.policy``, which starts the task as the knowledge base -- and after the task the
  trained agent becomes the active column: the knowledge base is restored and distilled from it on
  the task's transitions (``compress_updates`` steps; the policy's ``outputs``: for SAC the action
  and both critics' values), as the paper's RL version does with the states the agent visited.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from robot_cl.errors import ConfigError
from robot_cl.policies import MaskedLinear
from robot_cl.strategies.base import Data, Params, Plugin, hooked_step, register_strategy, sample, snapshot, tensor_bytes, weighted_distance
from robot_cl.strategies.regularization import distillation, online_fisher


class _Freezer:
    """Keep chosen parameter entries fixed: zero their gradients and restore their values after every step."""

    def __init__(self) -> None:
        self.masks: dict[str, torch.Tensor] = {}  # name -> bool mask of frozen entries
        self.values: Params = {}

    def set(self, learner, masks: dict[str, torch.Tensor]) -> None:
        params = dict(learner.named_parameters())
        self.masks = {n: m for n, m in masks.items() if m.any()}
        self.values = {n: params[n].detach()[m].clone() for n, m in self.masks.items()}  # the frozen entries only

    def zero_grads(self, learner) -> None:
        for n, p in learner.named_parameters():
            if n in self.masks and p.grad is not None:
                p.grad[self.masks[n]] = 0.0

    def restore(self, learner) -> None:
        with torch.no_grad():
            for n, p in learner.named_parameters():
                if n in self.masks:
                    p[self.masks[n]] = self.values[n]


@register_strategy
class PackNet(Plugin):
    name = "packnet"

    def __init__(self, keep: float | None = None, retrain_updates: int | None = None, retrain_lr: float = 1e-3, seed: int = 0):
        if keep is not None and not 0.0 < keep <= 1.0:
            raise ConfigError(f"packnet keep must be in (0, 1] or null (1.5 / the number of tasks), got {keep}")
        super().__init__(keep=keep, retrain_updates=retrain_updates, retrain_lr=retrain_lr, seed=seed)
        self.layer_task: dict[str, int] = {}  # module name -> skill during which it appeared
        self.freezer = _Freezer()
        self._mask_bytes = 0
        self._updates = 0  # updates of the skill being trained (the retraining budget's base)

    def _layers(self, learner) -> dict[str, nn.Module]:
        """The masked and LayerNorm layers whose parameters the learner trains (not an RL agent's target networks)."""
        trained = {n.rpartition(".")[0] for n, _ in learner.named_parameters()}
        return {n: m for n, m in learner.policy.named_modules() if isinstance(m, (MaskedLinear, nn.LayerNorm)) and n in trained}

    def keep(self, tasks: int) -> float:
        """The fraction of a skill's weights it keeps when pruned."""
        return self.params["keep"] if self.params["keep"] is not None else min(1.0, 1.5 / tasks)

    def before_training_task(self, learner, task, data):
        self._updates = 0
        policy = self._policy = learner.policy
        policy.cfg["task_views"] = True  # travels with policy.spec(): evaluation uses each skill's weights
        for name, m in self._layers(learner).items():
            if name not in self.layer_task:
                self.layer_task[name] = task
                if isinstance(m, MaskedLinear):
                    m.owner.fill_(task)
            elif isinstance(m, MaskedLinear):
                m.owner[m.owner == MaskedLinear.FREE] = task  # released weights are this skill's to use
        self.freezer.set(learner, self._frozen(learner, task))

    def _frozen(self, learner, task) -> dict[str, torch.Tensor]:
        """Weights owned by earlier skills; biases and LayerNorm of layers that appeared earlier."""
        masks = {}
        layers = self._layers(learner)
        for pname, p in learner.named_parameters():
            mod, _, kind = pname.rpartition(".")
            if mod not in layers:
                continue
            m = layers[mod]
            if isinstance(m, MaskedLinear) and kind == "weight":
                masks[pname] = m.owner < task
            else:
                masks[pname] = torch.full_like(p, self.layer_task[mod] < task, dtype=torch.bool)
        return masks

    def after_backward(self, learner, batch):
        self.freezer.zero_grads(learner)

    def after_update(self, learner):
        self._updates += 1
        self.freezer.restore(learner)

    def after_training_task(self, learner, task, data):
        # Prune: in every layer keep the largest `keep` fraction of this skill's weights, release the rest.
        for m in self._layers(learner).values():
            if not isinstance(m, MaskedLinear):
                continue
            mine = m.owner == task
            n = int(mine.sum())
            if n == 0:
                continue
            k = max(1, math.ceil(self.keep(learner.policy.n_tasks) * n))
            candidates = mine.flatten().nonzero().squeeze(1)
            kept = candidates[torch.topk(m.weight.detach().abs().flatten()[candidates], k).indices]  # exactly k, ties included
            release = mine.clone()
            release.view(-1)[kept] = False
            with torch.no_grad():
                m.weight[release] = 0.0
            m.owner[release] = MaskedLinear.FREE
        # Retrain the kept weights (released ones stay zero, earlier skills' stay fixed).
        masks = self._frozen(learner, task)
        for name, m in self._layers(learner).items():
            if isinstance(m, MaskedLinear):
                masks[f"{name}.weight"] = masks[f"{name}.weight"] | (m.owner == MaskedLinear.FREE)
        self.freezer.set(learner, masks)
        gen = torch.Generator().manual_seed(self.params["seed"] * 1000 + task)
        opt = torch.optim.Adam(learner.policy.parameters(), lr=self.params["retrain_lr"])
        retrain = self.params["retrain_updates"]
        for _ in range(retrain if retrain is not None else self._updates // 4):
            loss, _ = learner.loss_on(sample(data, learner.batch_size, gen))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            self.freezer.zero_grads(learner)
            opt.step()
            self.freezer.restore(learner)

    def resume_task(self, learner, task, data):
        updates = self._updates  # restored: the retraining budget counts the whole task's updates
        self.before_training_task(learner, task, data)  # the freezer again (owners came back with the weights)
        self._updates = updates

    def memory_bytes(self):  # the ownership masks (int16 per weight)
        policy = getattr(self, "_policy", None)
        return self._mask_bytes if policy is None else sum(tensor_bytes(m.owner) for m in policy.masked_layers)

    def state_dict(self):
        return {"layer_task": self.layer_task, "mask_bytes": self.memory_bytes(), "updates": self._updates}

    def load_state_dict(self, state):
        self.layer_task = {k: int(v) for k, v in state["layer_task"].items()}
        self._mask_bytes = int(state.get("mask_bytes", 0))
        self._updates = int(state.get("updates", 0))


def task_modules(policy) -> nn.ModuleList:
    """The per-skill modules of a policy (behaviour modules or heads)."""
    if not policy.cfg.get("per_task_modules"):
        raise ConfigError("strategy 'modular' needs one module per skill: set policy.per_task_modules=true")
    return policy.behaviours if hasattr(policy, "behaviours") else policy.heads


@register_strategy
class Modular(Plugin):
    name = "modular"
    state_keys = ("anchor",)

    def __init__(self, shared: str = "l2", strength: float = 1.0):
        if shared not in ("frozen", "free", "l2"):
            raise ConfigError(f"modular shared={shared!r}; valid: free, frozen, l2")
        super().__init__(shared=shared, strength=strength)
        self.anchor: Params | None = None
        self.freezer = _Freezer()

    def before_training_task(self, learner, task, data):
        modules = task_modules(learner.policy)
        own = {id(p) for j, m in enumerate(modules) if j >= task for p in m.parameters()}
        old = {id(p) for j, m in enumerate(modules) if j < task for p in m.parameters()}
        masks = {}
        for n, p in learner.named_parameters():
            frozen = id(p) in old or (self.params["shared"] == "frozen" and task > 0 and id(p) not in own)
            masks[n] = torch.full_like(p, frozen, dtype=torch.bool)
        self.freezer.set(learner, masks)
        self._shared = {n for n, p in learner.named_parameters() if id(p) not in own and id(p) not in old}

    def after_backward(self, learner, batch):
        self.freezer.zero_grads(learner)

    def after_update(self, learner):
        self.freezer.restore(learner)

    def penalty(self, learner, batch):
        if self.params["shared"] != "l2" or self.anchor is None:
            return None
        return self.params["strength"] * weighted_distance(learner, self.anchor)

    def after_training_task(self, learner, task, data):
        if self.params["shared"] == "l2":
            self.anchor = {n: p for n, p in snapshot(learner).items() if n in self._shared}


@register_strategy
class ProgressCompress(Plugin):
    name = "progress_compress"
    state_keys = ("anchor", "fisher")

    def __init__(
        self,
        progress_updates: int | None = None,
        strength: float = 5e4,
        gamma: float = 0.9,
        fisher_samples: int = 256,
        temperature: float = 2.0,
        lr: float = 1e-3,
        seed: int = 0,
        compress_updates: int = 1000,
    ):
        super().__init__(
            progress_updates=progress_updates,
            strength=strength,
            gamma=gamma,
            fisher_samples=fisher_samples,
            temperature=temperature,
            lr=lr,
            seed=seed,
            compress_updates=compress_updates,
        )
        self.active: nn.Module | None = None
        self.knowledge: Params | None = None  # RL: the knowledge base's parameters while the learner trains the active column
        self.anchor: Params | None = None
        self.fisher: Params | None = None

    def before_training_task(self, learner, task, data):
        if not learner.needs_demos:  # RL: the learner's environment loop trains the active column (progress)
            self.knowledge = snapshot(learner)
            return
        # Progress: train the active column on the new skill alone.
        self.active = copy.deepcopy(learner.policy).train()
        updates = self.params["progress_updates"] or int(learner.cfg["updates"])
        gen = torch.Generator().manual_seed(self.params["seed"] * 1000 + task)
        opt = torch.optim.Adam(self.active.parameters(), lr=self.params["lr"])
        for _ in range(updates):
            loss, _ = self.active.loss(sample(data, learner.batch_size, gen))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        self.active.eval()

    def loss(self, learner, batch, loss, info):
        if self.active is None:  # RL progress phase: the agent learns the task from reward
            return loss
        # Compress: the knowledge base imitates the active column (not the labels), under online EWC.
        with torch.no_grad():
            target = self.active.outputs(batch)
        distil = distillation(learner.outputs(batch), target, self.params["temperature"]).to(learner.device)
        info["pc_distillation"] = float(distil.detach())
        if self.anchor is None:
            return distil
        return distil + 0.5 * self.params["strength"] * weighted_distance(learner, self.anchor, self.fisher)

    def after_training_task(self, learner, task, data):
        if not learner.needs_demos:
            self.compress(learner, task, data)
        self.fisher = online_fisher(learner, data, self.params["fisher_samples"], task, self.params["gamma"], self.fisher)
        self.anchor = snapshot(learner)
        self.active = self.knowledge = None

    def compress(self, learner, task: int, data: Data) -> None:
        """RL: the trained agent becomes the active column; the knowledge base's parameters are put back
        into ``learner.policy`` and distilled from it on the task's transitions under online EWC, each
        step through the strategy hooks. Parameters the distillation does not reach (PPO's exploration
        log-std, other tasks' heads) keep the agent's trained values; target networks are then
        re-synchronised with the online ones (the policy's ``sync_targets``, if it has one)."""
        self.active = copy.deepcopy(learner.policy).eval()
        trained = dict(self.active.named_parameters())
        params = dict(learner.named_parameters())
        with torch.no_grad():
            for n, v in self.knowledge.items():
                params[n].copy_(v)
        learner.reset_optimizers()
        learner.optimizer.zero_grad(set_to_none=True)  # no gradients left from the RL loop
        gen = torch.Generator().manual_seed(self.params["seed"] * 1000 + task)
        learner.policy.train()
        for _ in range(int(self.params["compress_updates"])):
            hooked_step(learner, sample(data, learner.batch_size, gen))  # the loss hook above makes it distillation
            for p in learner.plugins:
                p.after_update(learner)
        with torch.no_grad():  # the last step's gradients say what the distillation reaches
            for n, p in params.items():
                if p.grad is None:
                    p.copy_(trained[n])
        if hasattr(learner.policy, "sync_targets"):
            learner.policy.sync_targets()
        learner.policy.eval()


__all__ = ["Data", "Modular", "PackNet", "ProgressCompress"]
