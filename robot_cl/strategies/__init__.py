"""Continual-learning strategies as learner plugins (Avalanche-style).

A strategy is a :class:`Plugin` that implements only the hooks it needs (see
:mod:`robot_cl.strategies.base`); a run uses a learner plus a list of plugins, so
``strategy=[ewc,replay]`` composes two. Families (Hadsell et al. 2020):

* references: ``finetune`` (lower bound), ``multitask`` (joint training, upper bound);
* regularization: ``l2``, ``ewc``, ``online_ewc``, ``si``, ``mas``, ``lwf``;
* gradient: ``agem``;
* memory: ``replay``, ``derpp``;
* modular: ``packnet``, ``modular``, ``progress_compress``.

Each has ``configs/strategy/<name>.yaml`` with its hyper-parameters. A new strategy: subclass
:class:`Plugin`, decorate it with :func:`register_strategy` in a module listed in the run's
``imports`` (or here), and add its config file.
"""

from __future__ import annotations

from robot_cl.errors import ConfigError, choices
from robot_cl.strategies.base import Data, Plugin, concat, sample, tensor_bytes
from robot_cl.strategies.memory import AGEM, DERPP, BatchReservoir, Replay, Reservoir, agem_project
from robot_cl.strategies.modular import Modular, PackNet, ProgressCompress
from robot_cl.strategies.references import Finetune, Multitask
from robot_cl.strategies.regularization import EWC, L2, MAS, SI, LwF, OnlineEWC, fisher_diagonal, output_sensitivity

STRATEGIES: dict[str, type[Plugin]] = {
    cls.name: cls
    for cls in (Finetune, Multitask, L2, EWC, OnlineEWC, SI, MAS, LwF, AGEM, Replay, DERPP, PackNet, Modular, ProgressCompress)
}


def register_strategy(cls: type[Plugin]) -> type[Plugin]:
    """Class decorator: make a plugin available as ``strategy=<name>`` (with a ``configs/strategy/<name>.yaml``)."""
    if not cls.name:
        raise ConfigError(f"strategy class {cls.__name__} needs a `name`")
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


__all__ = [
    "AGEM",
    "DERPP",
    "EWC",
    "L2",
    "MAS",
    "SI",
    "STRATEGIES",
    "BatchReservoir",
    "Data",
    "Finetune",
    "LwF",
    "Modular",
    "Multitask",
    "OnlineEWC",
    "PackNet",
    "Plugin",
    "ProgressCompress",
    "Replay",
    "Reservoir",
    "agem_project",
    "concat",
    "fisher_diagonal",
    "make_plugins",
    "output_sensitivity",
    "register_strategy",
    "sample",
    "tensor_bytes",
]
