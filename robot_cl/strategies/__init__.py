"""Continual-learning strategies as learner plugins (Avalanche-style).

A strategy is a :class:`Plugin` that implements only the hooks it needs (see
:mod:`robot_cl.strategies.base`); a run uses a learner plus a list of plugins, so
``strategy=[ewc,replay]`` composes two. Families (Hadsell et al. 2020):

* references: ``finetune`` (lower bound), ``multitask`` (joint training, upper bound);
* regularization: ``l2``, ``ewc``, ``online_ewc``, ``si``, ``mas``, ``lwf``;
* gradient: ``agem``;
* memory: ``replay``, ``derpp``;
* modular: ``packnet``, ``modular``, ``progress_compress``;
* meta-learning: ``lamaml``.

A strategy's hyper-parameters are its constructor's arguments, their defaults its defaults (with
their sources in each class's docstring). A new strategy: subclass :class:`Plugin`, decorate it with
:func:`register_strategy` in a module listed in the run's ``imports``, and run ``strategy=<name>``.
"""

from __future__ import annotations

from robot_cl.strategies.base import STRATEGIES, Data, Plugin, concat, make_plugins, register_strategy, sample, tensor_bytes
from robot_cl.strategies.memory import AGEM, DERPP, BatchReservoir, Replay, Reservoir, agem_project
from robot_cl.strategies.meta import LaMAML
from robot_cl.strategies.modular import Modular, PackNet, ProgressCompress
from robot_cl.strategies.references import Finetune, Multitask
from robot_cl.strategies.regularization import EWC, L2, MAS, SI, LwF, OnlineEWC, fisher_diagonal, output_sensitivity

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
    "LaMAML",
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
