"""Memory strategies: keep some of the past and train on it again.

* ``replay`` (experience replay, as LIBERO's ER): a fixed budget of whole demonstration episodes,
  split evenly over the skills seen so far (per-skill quotas). Each skill's episodes are chosen by
  reservoir sampling over that skill's episode stream, so every episode is kept with the same
  probability; when a new skill arrives the older skills' shares shrink to the new quota by
  uniform subsampling. Every update adds ``weight * loss`` on a minibatch drawn from the memory.
* ``derpp`` (Dark Experience Replay++, Buzzega et al., NeurIPS 2020): a reservoir of single
  training samples *with the network's outputs when they were stored*; every update adds
  ``alpha * ||f(x_m) - stored outputs||^2 + beta * loss(x_m', y_m')`` on two memory minibatches.
* ``agem`` (Chaudhry et al., ICLR 2019): an episodic memory of samples per earlier skill; after
  backward, if the update's gradient g conflicts with the gradient g_ref of the loss on a memory
  minibatch (g . g_ref < 0), it is projected: ``g <- g - (g . g_ref / g_ref . g_ref) g_ref``.

Defaults: replay 1000 episodes (LIBERO's ER); A-GEM 10,000 samples per skill and an episodic
batch of 128 (Continual World); DER++ 2,000 samples, alpha 0.3, beta 0.5 (mid-range of
Buzzega et al.'s grids).
"""

from __future__ import annotations

import numpy as np
import torch

from robot_cl.strategies.base import (
    Data,
    Plugin,
    concat,
    flat_grad,
    register_strategy,
    rows,
    sample,
    set_flat_grad,
    tensor_bytes,
    to_cpu,
    to_device,
)


class Reservoir:
    """Algorithm R: a uniform random sample of fixed size from a stream of items."""

    def __init__(self, capacity: int, seed: int = 0) -> None:
        self.capacity = int(capacity)
        self.items: list = []
        self.seen = 0
        self.rng = np.random.default_rng(seed)

    def add(self, item) -> int | None:
        """Offer one item; returns the slot it took (None if it was not kept)."""
        self.seen += 1
        if len(self.items) < self.capacity:
            self.items.append(item)
            return len(self.items) - 1
        j = int(self.rng.integers(self.seen))
        if j < self.capacity:
            self.items[j] = item
            return j
        return None


def episode_ids(data: Data) -> torch.Tensor:
    return torch.unique(torch.cat([group["episode"] for group in data.values()]))


@register_strategy
class Replay(Plugin):
    name = "replay"

    def __init__(self, capacity: int = 1000, weight: float = 1.0, seed: int = 0):
        super().__init__(capacity=capacity, weight=weight, seed=seed)
        self.kept: dict[int, list[int]] = {}  # skill -> kept episode ids
        self.store: dict[int, Data] = {}  # skill -> rows of the kept episodes (CPU)
        self._memory: Data | None = None
        self._gen = torch.Generator().manual_seed(seed)

    def after_training_task(self, learner, task, data):
        quota = self.params["capacity"] // (len(self.store) + 1)
        rng = np.random.default_rng([self.params["seed"], task])
        reservoir = Reservoir(quota, seed=int(rng.integers(2**31)))
        for ep in episode_ids(data).tolist():  # the skill's episodes, in the order they were recorded
            reservoir.add(ep)
        self.kept[task] = sorted(reservoir.items)
        for t, eps in self.kept.items():  # older skills give up room: a uniform subset stays uniform
            if len(eps) > quota:
                self.kept[t] = sorted(rng.choice(eps, size=quota, replace=False).tolist())
        cpu = to_cpu(data)
        self.store[task] = rows(cpu, {g: torch.isin(group["episode"], torch.tensor(self.kept[task])) for g, group in cpu.items()})
        for t in list(self.store):
            keep = torch.tensor(self.kept[t])
            self.store[t] = rows(self.store[t], {g: torch.isin(group["episode"], keep) for g, group in self.store[t].items()})
        self._memory = None

    def before_training_task(self, learner, task, data):
        self._gen.manual_seed(self.params["seed"] * 1000 + task)  # resumed runs draw the same minibatches

    def memory(self, device) -> Data | None:
        if self._memory is None and self.store:
            self._memory = to_device(concat(list(self.store.values())), device)
        return self._memory

    def penalty(self, learner, batch):
        memory = self.memory(learner.device)
        if memory is None:
            return None
        loss, _ = learner.loss_on(sample(memory, learner.batch_size, self._gen))
        return self.params["weight"] * loss

    def memory_bytes(self):
        return tensor_bytes(self.store)

    def state_dict(self):
        return {"kept": {str(t): e for t, e in self.kept.items()}, "store": {str(t): d for t, d in self.store.items()}}

    def load_state_dict(self, state):
        self.kept = {int(t): e for t, e in state["kept"].items()}
        self.store = {int(t): d for t, d in state["store"].items()}
        self._memory = None


class BatchReservoir:
    """Algorithm R over a stream of sample rows, stored as tensors (capacity x ...)."""

    def __init__(self, capacity: int, seed: int = 0) -> None:
        self.capacity, self.seen = int(capacity), 0
        self.data: dict[str, torch.Tensor] = {}
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return min(self.seen, self.capacity)

    def add(self, rows: dict[str, torch.Tensor]) -> None:
        """Offer a batch of rows, in order (the same outcome as offering them one by one)."""
        n = len(next(iter(rows.values())))
        positions = np.arange(self.seen, self.seen + n)  # 0-based index of each row in the stream
        slots = np.where(positions < self.capacity, positions, self.rng.integers(0, positions + 1))
        kept_rows = np.flatnonzero(slots < self.capacity)
        kept_slots = slots[kept_rows]
        # When rows of one batch draw the same slot the later one wins, as in the sequential algorithm;
        # keep only that row per slot (an indexed write with duplicate indices has no defined winner).
        _, last = np.unique(kept_slots[::-1], return_index=True)
        pick = len(kept_slots) - 1 - last
        if not self.data:
            self.data = {k: torch.zeros((self.capacity, *v.shape[1:]), dtype=v.dtype) for k, v in rows.items()}
        for k, v in rows.items():
            self.data[k][torch.as_tensor(kept_slots[pick])] = v[torch.as_tensor(kept_rows[pick])].detach().cpu()
        self.seen += n

    def sample(self, n: int, gen: torch.Generator, device) -> dict[str, torch.Tensor]:
        idx = torch.randint(len(self), (n,), generator=gen)
        return {k: v[idx].to(device) for k, v in self.data.items()}


@register_strategy
class DERPP(Plugin):
    name = "derpp"

    def __init__(self, capacity: int = 2000, alpha: float = 0.3, beta: float = 0.5, seed: int = 0):
        super().__init__(capacity=capacity, alpha=alpha, beta=beta, seed=seed)
        self.buffers: dict[str, BatchReservoir] = {}  # per data group: sample rows plus "out/<name>" outputs
        self._gen = torch.Generator().manual_seed(seed)

    def before_training_task(self, learner, task, data):
        # Random streams restart from (seed, skill): a resumed run draws exactly what an uninterrupted one would.
        self._task = task
        self._gen.manual_seed(self.params["seed"] * 1000 + task)
        for i, b in enumerate(self.buffers.values()):
            b.rng = np.random.default_rng([self.params["seed"], task, i])

    def penalty(self, learner, batch):
        extra = None
        if self.buffers:
            n, dev = learner.batch_size, learner.device
            first = {g: b.sample(n, self._gen, dev) for g, b in self.buffers.items()}
            inputs = {g: {k: v for k, v in m.items() if not k.startswith("out/")} for g, m in first.items()}
            outs = learner.outputs(inputs)
            dark = sum(
                torch.nn.functional.mse_loss(outs[g][k[4:]], v) for g, m in first.items() for k, v in m.items() if k.startswith("out/")
            )
            second = {
                g: {k: v for k, v in b.sample(n, self._gen, dev).items() if not k.startswith("out/")} for g, b in self.buffers.items()
            }
            extra = self.params["alpha"] * dark + self.params["beta"] * learner.loss_on(second)[0]
        with torch.no_grad():  # store this batch's samples with the outputs the network gives them now
            outs = learner.outputs(batch)
        for g, group in batch.items():
            if g in outs:
                if g not in self.buffers:
                    self.buffers[g] = BatchReservoir(self.params["capacity"])
                    self.buffers[g].rng = np.random.default_rng([self.params["seed"], getattr(self, "_task", 0), len(self.buffers) - 1])
                buf = self.buffers[g]
                buf.add({**group, **{f"out/{k}": v for k, v in outs[g].items()}})
        return extra

    def memory_bytes(self):
        return sum(tensor_bytes({k: v[: len(b)] for k, v in b.data.items()}) for b in self.buffers.values())

    def state_dict(self):
        return {g: {"data": b.data, "seen": b.seen} for g, b in self.buffers.items()}

    def load_state_dict(self, state):
        self.buffers = {}
        for g, s in state.items():
            b = BatchReservoir(self.params["capacity"])
            b.data, b.seen = s["data"], int(s["seen"])
            self.buffers[g] = b


def agem_project(g: torch.Tensor, g_ref: torch.Tensor) -> torch.Tensor:
    """A-GEM: remove from g its component against g_ref when they conflict."""
    dot = torch.dot(g, g_ref)
    if dot >= 0:
        return g
    return g - dot / torch.dot(g_ref, g_ref).clamp_min(1e-12) * g_ref


@register_strategy
class AGEM(Plugin):
    name = "agem"

    def __init__(self, samples_per_task: int = 10000, batch_size: int = 128, seed: int = 0):
        super().__init__(samples_per_task=samples_per_task, batch_size=batch_size, seed=seed)
        self.store: dict[int, Data] = {}
        self._memory: Data | None = None
        self._gen = torch.Generator().manual_seed(seed)
        self.projections = 0  # how many updates were projected (diagnostics)

    def after_training_task(self, learner, task, data):
        gen = torch.Generator().manual_seed(self.params["seed"] * 1000 + task)
        keep = {}
        for g, group in data.items():
            n = len(next(iter(group.values())))
            keep[g] = torch.randperm(n, generator=gen)[: self.params["samples_per_task"]]
        self.store[task] = rows(to_cpu(data), keep)
        self._memory = None

    def before_training_task(self, learner, task, data):
        self._gen.manual_seed(self.params["seed"] * 1000 + task)  # resumed runs draw the same minibatches

    def after_backward(self, learner, batch):
        if not self.store:
            return
        if self._memory is None:
            self._memory = to_device(concat(list(self.store.values())), learner.device)
        params = [p for _, p in learner.named_parameters()]
        g = flat_grad(params)
        learner.policy.zero_grad(set_to_none=True)
        learner.loss_on(sample(self._memory, self.params["batch_size"], self._gen))[0].backward()
        g_ref = flat_grad(params)
        projected = agem_project(g, g_ref)
        self.projections += int(not torch.equal(projected, g))
        set_flat_grad(params, projected)

    def memory_bytes(self):
        return tensor_bytes(self.store)

    def state_dict(self):
        return {"store": {str(t): d for t, d in self.store.items()}}

    def load_state_dict(self, state):
        self.store = {int(t): d for t, d in state["store"].items()}
        self._memory = None
