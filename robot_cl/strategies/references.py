"""The two reference strategies every comparison needs: no protection, and joint training."""

from __future__ import annotations

from robot_cl.strategies.base import Data, Plugin, concat, register_strategy, to_cpu, to_device


@register_strategy
class Finetune(Plugin):
    """Lower reference: train on each skill in turn; nothing protects earlier skills."""

    name = "finetune"


@register_strategy
class Multitask(Plugin):
    """Upper reference: joint training on every skill seen so far (the i.i.d. setting).

    Stores each skill's full dataset (counted in ``memory_bytes``) and trains each stage on the
    union, breaking the "no access to earlier skills" rule on purpose.
    """

    name = "multitask"
    state_keys = ("seen",)
    needs_boundaries = True  # it trains on each task's whole dataset, which a stream never hands over

    def __init__(self, **params):
        super().__init__(**params)
        self.seen: list[Data] = []

    def training_data(self, learner, task, data):
        self.seen.append(to_cpu(data))
        return to_device(concat(self.seen), learner.device)
