"""Continual-learning strategies as learner plugins (Avalanche-style).

A strategy is a :class:`Plugin` that implements only the hooks it needs; a run uses a learner plus
a list of plugins (``strategy=[ewc,replay]`` composes several). The hooks, in the order a learner
calls them for each task:

* ``training_data(learner, task, data) -> data``: replace or extend what the task trains on;
* ``before_training_task(learner, task, data)``;
* ``penalty(learner, batch) -> tensor``: added to the loss of every update;
* ``after_backward(learner, batch)``: may edit gradients before the optimiser step;
* ``after_update(learner)``;
* ``after_training_task(learner, task, data)``.

Plugins keep their own state in ``state_dict()`` / ``load_state_dict()`` (tensors and plain
Python values only, so checkpoints load with ``torch.load(weights_only=True)``), and report the
bytes they store (``memory_bytes``) for the model-growth and memory metrics.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from robot_cl.errors import ConfigError, choices

Data = dict[str, dict[str, torch.Tensor]]


class Plugin:
    """Base class: every hook is a no-op."""

    name: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        self.params = params

    def training_data(self, learner, task: int, data: Data) -> Data:
        return data

    def before_training_task(self, learner, task: int, data: Data) -> None:
        pass

    def penalty(self, learner, batch: Data) -> torch.Tensor | None:
        return None

    def after_backward(self, learner, batch: Data) -> None:
        pass

    def after_update(self, learner) -> None:
        pass

    def after_training_task(self, learner, task: int, data: Data) -> None:
        pass

    def memory_bytes(self) -> int:
        return 0

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def data_bytes(data: Data) -> int:
    return sum(t.numel() * t.element_size() for group in data.values() for t in group.values())


def concat(parts: list[Data]) -> Data:
    """Concatenate datasets group by group."""
    groups = {g for p in parts for g in p}
    return {g: {k: torch.cat([p[g][k] for p in parts if g in p]) for k in next(p[g] for p in parts if g in p)} for g in groups}


class Finetune(Plugin):
    """Lower reference: train on each task in turn, nothing protects earlier tasks."""

    name = "finetune"


class Multitask(Plugin):
    """Upper reference: joint training on every task seen so far (the i.i.d. setting).

    Stores each task's full dataset (counted in ``memory_bytes``) and trains each stage on the
    union, which breaks the "no access to previous tasks" rule on purpose.
    """

    name = "multitask"

    def __init__(self, **params):
        super().__init__(**params)
        self.seen: list[Data] = []

    def training_data(self, learner, task, data):
        self.seen.append({g: {k: v.detach().cpu() for k, v in group.items()} for g, group in data.items()})
        return {g: {k: v.to(learner.device) for k, v in group.items()} for g, group in concat(self.seen).items()}

    def memory_bytes(self) -> int:
        return sum(data_bytes(d) for d in self.seen)

    def state_dict(self):
        return {"seen": self.seen}

    def load_state_dict(self, state):
        self.seen = state["seen"]


STRATEGIES: dict[str, type[Plugin]] = {"finetune": Finetune, "multitask": Multitask}


def register_strategy(cls: type[Plugin]) -> type[Plugin]:
    """Class decorator: make a plugin available as ``strategy=<name>``."""
    STRATEGIES[cls.name] = cls
    return cls


def make_plugins(plugin_cfg: dict[str, dict] | None) -> list[Plugin]:
    """Plugins from the ``strategy.plugins`` config: ``{name: {hyper-parameters}}``."""
    plugins = []
    for name, params in (plugin_cfg or {}).items():
        if name not in STRATEGIES:
            raise ConfigError(f"unknown strategy {name!r}; valid: {choices(STRATEGIES)}")
        try:
            plugins.append(STRATEGIES[name](**(params or {})))
        except TypeError as e:
            raise ConfigError(f"strategy {name!r}: {e}") from None
    return plugins
