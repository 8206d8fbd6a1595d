"""Regularization strategies: keep parameters that mattered for earlier skills near their old values,
or keep the network's old outputs.

* ``l2``: ``strength * sum (theta - theta*)^2`` around the weights after the previous skill.
* ``ewc`` (Kirkpatrick et al., PNAS 2017): ``strength/2 * sum_k sum_i F_k,i (theta_i - theta*_k,i)^2``
  with one diagonal Fisher and anchor per earlier skill. ``F`` is the empirical Fisher: the mean
  over single samples of the squared gradient of the per-sample behaviour-cloning loss (the
  negative log-likelihood of a fixed-variance Gaussian / categorical policy).
* ``online_ewc`` (Schwarz et al., ICML 2018): one running Fisher ``F <- gamma F + F_k`` and the
  latest anchor.
* ``si`` (Zenke et al., ICML 2017): per-parameter path integral ``w_i += -g_i * delta_theta_i`` over
  the updates of a skill (``g`` = the gradient the optimiser used: of the whole training loss,
  after clipping; Zenke et al. use the task loss alone), importance
  ``Omega_i += max(0, w_i / ((theta_i(end) - theta_i(start))^2 + xi))``, penalty
  ``strength * sum Omega_i (theta_i - theta*_i)^2``.
* ``mas`` (Aljundi et al., ECCV 2018): importance = mean over single samples of
  ``|d ||f(x)||^2 / d theta|`` (f = all network outputs), accumulated over skills.
* ``lwf`` (Li & Hoiem, TPAMI 2017): distil the previous model's outputs for every earlier skill on
  the current skill's inputs (temperature-scaled KL on primitive logits, squared error on
  continuous outputs).

Defaults follow Continual World (L2 1e5, EWC 1e4, MAS 1e4), LIBERO (online EWC 5e4, gamma 0.9),
Zenke et al. (SI c = 0.1, xi = 1e-3) and Li & Hoiem (LwF weight 1, temperature 2).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from robot_cl.strategies.base import Data, Params, Plugin, register_strategy, sample, snapshot, tensor_bytes, weighted_distance, with_task


def importance(learner, data: Data, samples: int, seed: int, objective, absolute: bool = False) -> Params:
    """Mean over ``samples`` single samples of the squared (or absolute) gradient of ``objective(batch)``."""
    gen = torch.Generator().manual_seed(seed)
    params = learner.named_parameters()
    out = {n: torch.zeros_like(p) for n, p in params}
    for _ in range(samples):
        batch = sample(data, 1, gen)
        learner.policy.zero_grad(set_to_none=True)
        objective(batch).backward()
        for n, p in params:
            if p.grad is not None:
                out[n] += p.grad.abs() if absolute else p.grad**2
    learner.policy.zero_grad(set_to_none=True)
    return {n: v / samples for n, v in out.items()}


def fisher_diagonal(learner, data: Data, samples: int, seed: int) -> Params:
    """Empirical diagonal Fisher of the learner's loss (see the module docstring)."""
    return importance(learner, data, samples, seed, lambda b: learner.loss_on(b)[0])


def online_fisher(learner, data: Data, samples: int, task: int, gamma: float, previous: Params | None) -> Params:
    """Online EWC's running Fisher (Schwarz et al. 2018): this skill's diagonal Fisher plus ``gamma`` times the previous one."""
    new = fisher_diagonal(learner, data, samples, seed=task)
    for n, f in (previous or {}).items():
        if n in new:
            new[n] = new[n] + gamma * f
    return new


def output_sensitivity(learner, data: Data, samples: int, seed: int) -> Params:
    """MAS importance: mean |gradient of the squared L2 norm of all outputs|."""

    def objective(batch):
        outs = learner.outputs(batch)
        return sum((v**2).sum() for group in outs.values() for v in group.values())

    return importance(learner, data, samples, seed, objective, absolute=True)


@register_strategy
class L2(Plugin):
    name = "l2"
    state_keys = ("anchor",)

    def __init__(self, strength: float = 1e5):
        super().__init__(strength=strength)
        self.anchor: Params | None = None

    def after_training_task(self, learner, task, data):
        self.anchor = snapshot(learner)

    def penalty(self, learner, batch):
        return None if self.anchor is None else self.params["strength"] * weighted_distance(learner, self.anchor)


@register_strategy
class EWC(Plugin):
    name = "ewc"
    state_keys = ("tasks",)

    def __init__(self, strength: float = 1e4, fisher_samples: int = 256):
        super().__init__(strength=strength, fisher_samples=fisher_samples)
        self.tasks: list[dict[str, Params]] = []  # one {anchor, fisher} per earlier skill

    def after_training_task(self, learner, task, data):
        fisher = fisher_diagonal(learner, data, self.params["fisher_samples"], seed=task)
        self.tasks.append({"anchor": snapshot(learner), "fisher": fisher})

    def penalty(self, learner, batch):
        if not self.tasks:
            return None
        return 0.5 * self.params["strength"] * sum(weighted_distance(learner, t["anchor"], t["fisher"]) for t in self.tasks)


@register_strategy
class OnlineEWC(Plugin):
    name = "online_ewc"
    state_keys = ("anchor", "fisher")

    def __init__(self, strength: float = 5e4, gamma: float = 0.9, fisher_samples: int = 256):
        super().__init__(strength=strength, gamma=gamma, fisher_samples=fisher_samples)
        self.anchor: Params | None = None
        self.fisher: Params | None = None

    def after_training_task(self, learner, task, data):
        self.fisher = online_fisher(learner, data, self.params["fisher_samples"], task, self.params["gamma"], self.fisher)
        self.anchor = snapshot(learner)

    def penalty(self, learner, batch):
        if self.anchor is None:
            return None
        return 0.5 * self.params["strength"] * weighted_distance(learner, self.anchor, self.fisher)


@register_strategy
class SI(Plugin):
    name = "si"
    state_keys = ("omega", "anchor")

    def __init__(self, strength: float = 0.1, xi: float = 1e-3):
        super().__init__(strength=strength, xi=xi)
        self.omega: Params = {}  # accumulated importance
        self.anchor: Params | None = None
        self._start: Params = {}
        self._path: Params = {}  # w: running path integral of the current skill
        self._before: Params = {}

    def before_training_task(self, learner, task, data):
        self._start = snapshot(learner)
        self._path = {n: torch.zeros_like(p) for n, p in self._start.items()}
        self._before = {n: torch.empty_like(p) for n, p in self._start.items()}  # reused every update

    def after_backward(self, learner, batch):
        with torch.no_grad():
            for n, p in learner.named_parameters():
                self._before[n].copy_(p)

    def after_update(self, learner):
        # p.grad is still the gradient the optimiser just used (after clipping and other plugins' edits).
        for n, p in learner.named_parameters():
            if p.grad is not None and n in self._path:
                self._path[n] -= p.grad.detach() * (p.detach() - self._before[n])

    def after_training_task(self, learner, task, data):
        for n, p in learner.named_parameters():
            if n in self._path:
                change = (p.detach() - self._start[n]) ** 2
                contribution = torch.clamp(self._path[n] / (change + self.params["xi"]), min=0.0)
                self.omega[n] = self.omega.get(n, torch.zeros_like(p)) + contribution
        self.anchor = snapshot(learner)
        self._before = {}

    def resume_task(self, learner, task, data):
        if not self._start:  # (a checkpoint from before the path was saved)
            self.before_training_task(learner, task, data)
        self._before = {n: torch.empty_like(p) for n, p in self._start.items()}

    def memory_bytes(self):  # what it keeps across skills (the path integral lives only during one)
        return tensor_bytes([self.omega, self.anchor])

    def state_dict(self):  # with the path so far: a stream's checkpoint can fall in the middle of a segment
        return {"omega": self.omega, "anchor": self.anchor, "start": self._start, "path": self._path}

    def load_state_dict(self, state):
        self.omega, self.anchor = state["omega"], state["anchor"]
        self._start, self._path = state.get("start", {}), state.get("path", {})

    def penalty(self, learner, batch):
        return None if self.anchor is None else self.params["strength"] * weighted_distance(learner, self.anchor, self.omega)


@register_strategy
class MAS(Plugin):
    name = "mas"
    state_keys = ("omega", "anchor")

    def __init__(self, strength: float = 1e4, samples: int = 256):
        super().__init__(strength=strength, samples=samples)
        self.omega: Params = {}
        self.anchor: Params | None = None

    def after_training_task(self, learner, task, data):
        for n, v in output_sensitivity(learner, data, self.params["samples"], seed=task).items():
            self.omega[n] = self.omega.get(n, torch.zeros_like(v)) + v
        self.anchor = snapshot(learner)

    def penalty(self, learner, batch):
        return None if self.anchor is None else self.params["strength"] * weighted_distance(learner, self.anchor, self.omega)


def distillation(new: dict[str, dict[str, torch.Tensor]], old: dict[str, dict[str, torch.Tensor]], temperature: float) -> torch.Tensor:
    """Match a network's outputs to a teacher's: KL on logits (temperature-scaled), squared error elsewhere."""
    total = torch.zeros(())
    for g, group in old.items():
        for k, target in group.items():
            pred = new[g][k]
            if k == "logits":
                t = temperature
                kl = nn.functional.kl_div(torch.log_softmax(pred / t, -1), torch.softmax(target / t, -1), reduction="batchmean")
                total = total + kl * t * t
            else:
                total = total + nn.functional.mse_loss(pred, target)
    return total


@register_strategy
class LwF(Plugin):
    name = "lwf"

    def __init__(self, strength: float = 1.0, temperature: float = 2.0):
        super().__init__(strength=strength, temperature=temperature)
        self.teacher: nn.Module | None = None
        self.old_tasks: list[int] = []

    def before_training_task(self, learner, task, data):
        if task > 0:
            self.teacher = copy.deepcopy(learner.policy).eval()
            for p in self.teacher.parameters():
                p.requires_grad_(False)
            self.old_tasks = list(range(task))

    def penalty(self, learner, batch):
        if self.teacher is None:
            return None
        total = torch.zeros((), device=learner.device)
        for t in self.old_tasks:  # each earlier skill's view of the current inputs
            as_old = with_task(batch, t)
            with torch.no_grad():
                target = self.teacher.outputs(as_old)
            total = total + distillation(learner.outputs(as_old), target, self.params["temperature"]).to(learner.device)
        return self.params["strength"] * total / len(self.old_tasks)

    def memory_bytes(self):  # the frozen copy of the model it distils from
        return tensor_bytes(list(self.teacher.state_dict().values())) if self.teacher is not None else 0
