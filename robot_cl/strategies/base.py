"""The plugin interface every continual-learning strategy implements, and shared helpers."""

from __future__ import annotations

import dataclasses
import inspect
import math
import typing
from typing import Any, ClassVar

import torch
from hydra.core.config_store import ConfigStore

from robot_cl.errors import ConfigError, DivergedError
from robot_cl.registry import Registry

Data = dict[str, dict[str, torch.Tensor]]
Params = dict[str, torch.Tensor]


class Plugin:
    """Base class of strategies: every hook is a no-op; implement only the ones you need.

    The learner calls, for each task: ``training_data`` -> ``before_training_task`` -> for every
    update ``loss`` (default: adds ``penalty``), backward, ``after_backward``, optimiser step,
    ``after_update`` -> ``after_training_task``. ``learner`` offers ``named_parameters()``,
    ``loss_on(batch)``, ``outputs(batch)``, ``policy``, ``optimizer``, ``batch_size`` and
    ``device``; ``data`` and ``batch`` map group names (``steps``, ``calls``) to tensors.
    """

    name: ClassVar[str] = ""
    # Attributes that make up the plugin's state: saved in checkpoints and counted as its memory.
    state_keys: ClassVar[tuple[str, ...]] = ()
    # True: works only with a learner that trains on demonstrations (validation refuses an RL learner).
    needs_demos: ClassVar[bool] = False
    # True: needs each task's whole dataset at announced boundaries (validation refuses ``stream.enabled``).
    needs_boundaries: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = params

    def training_data(self, learner, task: int, data: Data) -> Data:
        """Replace or extend what the task trains on."""
        return data

    def before_training_task(self, learner, task: int, data: Data) -> None:
        pass

    def resume_task(self, learner, task: int, data: Data) -> None:
        """A run resumes *inside* a task (a stream's checkpoint can fall mid-segment): set up again what
        :meth:`before_training_task` set up, keeping what the checkpoint restored. Default: rerun it."""
        self.before_training_task(learner, task, data)

    def loss(self, learner, batch: Data, loss: torch.Tensor, info: dict[str, float]) -> torch.Tensor:
        """The loss of one update (default: the learner's loss plus :meth:`penalty`)."""
        extra = self.penalty(learner, batch)
        if extra is None:
            return loss
        info[f"{self.name}_penalty"] = float(extra.detach())
        return loss + extra

    def penalty(self, learner, batch: Data) -> torch.Tensor | None:
        return None

    def after_backward(self, learner, batch: Data) -> None:
        """May edit gradients before the optimiser step."""

    def after_update(self, learner) -> None:
        pass

    def after_training_task(self, learner, task: int, data: Data) -> None:
        pass

    def memory_bytes(self) -> int:
        """Bytes this strategy stores (samples, snapshots, importance estimates)."""
        return tensor_bytes([getattr(self, k) for k in self.state_keys])

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain Python values only (checkpoints load with ``weights_only=True``)."""
        return {k: getattr(self, k) for k in self.state_keys}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in self.state_keys:
            setattr(self, k, state[k])


STRATEGIES: Registry = Registry("strategy")


def hyper_parameters(cls: type[Plugin]) -> type:
    """A dataclass of the plugin's hyper-parameters: its constructor's arguments, their annotations
    and defaults (the one place they are stated). Hydra composes it, so a value of the wrong type
    (``strategy.plugins.si.strength=abc``) or an unknown key is refused before any work."""
    hints = typing.get_type_hints(cls.__init__)
    fields = []
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name == "self" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        if p.default is inspect.Parameter.empty:
            raise ConfigError(f"strategy {cls.name!r}: hyper-parameter {p.name!r} needs a default (its value when not configured)")
        fields.append((p.name, hints.get(p.name, typing.Any), dataclasses.field(default=p.default)))
    return dataclasses.make_dataclass(f"{cls.__name__}HyperParameters", fields)


def register_strategy(cls: type[Plugin]) -> type[Plugin]:
    """Class decorator: make a plugin available as ``strategy=<name>``, with its constructor's
    arguments (and their defaults) as the strategy's hyper-parameters ``strategy.plugins.<name>.*``."""
    STRATEGIES.register(cls)
    ConfigStore.instance().store(group="strategy", name=cls.name, node={"plugins": {cls.name: hyper_parameters(cls)}})
    return cls


def make_plugins(plugin_cfg: dict[str, dict] | None) -> list[Plugin]:
    """Plugins from the ``strategy.plugins`` config: ``{name: {hyper-parameters}}``."""
    plugins = []
    for name, params in (plugin_cfg or {}).items():
        cls = STRATEGIES[name]  # an unknown name: one-line ConfigError listing the valid ones
        try:
            plugins.append(cls(**(params or {})))
        except TypeError as e:
            raise ConfigError(f"strategy {name!r}: {e}") from None
    return plugins


def hooked_step(learner, batch: Data) -> dict[str, float]:
    """One optimiser step on ``batch`` with the plugins' hooks in their order: the learner's loss, each
    plugin's ``loss``, backward, each ``after_backward``, gradient clipping of the optimiser's
    parameters, the step. The learner runs ``after_update`` itself, once its own extras (an RL target
    update, ...) are done. ``info["loss"]`` is the loss's value; a non-finite one raises
    :class:`DivergedError` before it reaches the weights."""
    loss, info = learner.loss_on(batch)
    for p in learner.plugins:
        loss = p.loss(learner, batch, loss, info)
    info["loss"] = float(loss.detach())
    if not math.isfinite(info["loss"]):
        raise DivergedError(f"the loss is {info['loss']}")
    learner.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for p in learner.plugins:
        p.after_backward(learner, batch)
    if learner.grad_clip > 0:
        params = [p for group in learner.optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, learner.grad_clip)
    learner.optimizer.step()
    return info


# -- helpers -------------------------------------------------------------------------------------------
def tensor_bytes(obj) -> int:
    """Bytes of every tensor inside nested dicts and lists."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    return 0


def snapshot(learner) -> Params:
    """A detached copy of the learner's parameters."""
    return {n: p.detach().clone() for n, p in learner.named_parameters()}


def weighted_distance(learner, anchor: Params, weight: Params | None = None) -> torch.Tensor:
    """sum_i w_i (theta_i - anchor_i)^2 over the parameters present in ``anchor`` (modules added later are free)."""
    total = torch.zeros((), device=learner.device)
    for n, p in learner.named_parameters():
        if n in anchor:
            d = (p - anchor[n]) ** 2
            total = total + (d * weight[n]).sum() if weight is not None else total + d.sum()
    return total


def to_cpu(data: Data) -> Data:
    return {g: {k: v.detach().cpu() for k, v in group.items()} for g, group in data.items()}


def to_device(data: Data, device) -> Data:
    return {g: {k: v.to(device) for k, v in group.items()} for g, group in data.items()}


def concat(parts: list[Data]) -> Data:
    """Concatenate datasets group by group."""
    groups: list[str] = []
    for p in parts:
        groups.extend(g for g in p if g not in groups)
    out = {}
    for g in groups:
        present = [p[g] for p in parts if g in p]
        out[g] = {k: torch.cat([q[k] for q in present]) for k in present[0]}
    return out


def rows(data: Data, keep: dict[str, torch.Tensor]) -> Data:
    """Select rows of each group (``keep[group]`` is an index or boolean tensor)."""
    return {g: {k: v[keep[g]] for k, v in group.items()} for g, group in data.items() if g in keep}


def sample(data: Data, batch_size: int, gen: torch.Generator) -> Data:
    """A random minibatch from every group of the dataset (with replacement)."""
    out = {}
    for g, group in data.items():
        first = next(iter(group.values()))
        idx = torch.randint(len(first), (batch_size,), generator=gen).to(first.device)
        out[g] = {k: v[idx] for k, v in group.items()}
    return out


def with_task(batch: Data, task: int) -> Data:
    """The same samples, presented as belonging to ``task`` (to query another task's module)."""
    return {g: {k: (torch.full_like(v, task) if k == "task" else v) for k, v in group.items()} for g, group in batch.items()}


def flat_grad(params: list[torch.nn.Parameter]) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])


def set_flat_grad(params: list[torch.nn.Parameter], flat: torch.Tensor) -> None:
    i = 0
    for p in params:
        n = p.numel()
        p.grad = flat[i : i + n].view_as(p).clone()
        i += n
