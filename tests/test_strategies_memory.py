"""Memory strategies (A-GEM, reservoirs, replay, DER++): projections, sampling and what is stored, checked
against hand computations and statistical invariants.
"""

import math

import numpy as np
import pytest
import torch
from torch import nn

from robot_cl.layout import OBS_DIM
from robot_cl.learners import BCLearner
from robot_cl.strategies import (
    AGEM,
    DERPP,
    BatchReservoir,
    Replay,
    Reservoir,
    agem_project,
    sample,
)
from robot_cl.testing import BC as BC_DEFAULTS
from robot_cl.testing import CPU, FLAT, TinyLearner, make_policy, perturb, tiny_data, value

BC = {**BC_DEFAULTS, "updates": 30}
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: a second thread only spin-waits


# -- A-GEM ----------------------------------------------------------------------------------------------
def test_agem_projection():
    g_ref = torch.tensor([1.0, 2.0, -1.0])
    agreeing = torch.tensor([0.5, 0.1, 0.3])  # dot 0.4
    assert agem_project(agreeing, g_ref) is agreeing
    orthogonal = torch.tensor([2.0, -1.0, 0.0])
    assert torch.equal(agem_project(orthogonal, g_ref), orthogonal)
    g = torch.tensor([1.0, -2.0, 0.5])  # dot -3.5
    out = agem_project(g, g_ref)
    torch.testing.assert_close(out, g + 3.5 / 6.0 * g_ref)
    assert abs(float(out @ g_ref)) < 1e-6
    assert not torch.equal(out, g)


def test_agem_projects_the_learners_gradient_when_it_conflicts_with_memory():
    learner = TinyLearner(bias=False)
    learner.set(weight=[0.0, 0.0])
    agem = AGEM(samples_per_task=10, batch_size=4)
    memory = tiny_data([[1.0, 0.0]] * 6, [1.0] * 6)  # every memory sample: grad of (w.x - 1)^2 at w = 0 is (-2, 0)
    agem.after_backward(learner, memory)  # no memory yet: nothing happens
    agem.after_training_task(learner, 0, memory)
    assert len(agem.store[0]["steps"]["x"]) == 6
    agem.before_training_task(learner, 1, memory)

    learner.policy.weight.grad = torch.tensor([[1.0, 0.5]], dtype=torch.float64)  # conflicts: dot = -2
    agem.after_backward(learner, memory)
    # g - (g.g_ref / |g_ref|^2) g_ref = (1, 0.5) - (-2 / 4) (-2, 0) = (0, 0.5)
    torch.testing.assert_close(learner.policy.weight.grad, torch.tensor([[0.0, 0.5]], dtype=torch.float64))
    assert agem.projections == 1

    learner.policy.weight.grad = torch.tensor([[-1.0, 0.5]], dtype=torch.float64)  # agrees: dot = 2
    agem.after_backward(learner, memory)
    assert torch.equal(learner.policy.weight.grad, torch.tensor([[-1.0, 0.5]], dtype=torch.float64))
    assert agem.projections == 1


# -- reservoirs -----------------------------------------------------------------------------------------
N_ITEMS, CAP, TRIALS = 20, 5, 4000


def inclusion_counts(make_reservoir):
    counts = np.zeros(N_ITEMS)
    for seed in range(TRIALS):
        r = make_reservoir(seed)
        for item in range(N_ITEMS):
            r.add(item)
        assert len(r.items) == CAP and len(set(r.items)) == CAP
        counts[r.items] += 1
    return counts


def looks_uniform(counts):
    """Every item kept with probability C/N: each count within 4 binomial sigmas, and a chi-square check."""
    p = CAP / N_ITEMS
    z = (counts - TRIALS * p) / math.sqrt(TRIALS * p * (1 - p))
    return bool(np.abs(z).max() < 4.0 and (z**2).sum() < 43.8)  # chi-square, 19 d.o.f., p = 0.001


class FirstC(Reservoir):
    def add(self, item):
        self.seen += 1
        if len(self.items) < self.capacity:
            self.items.append(item)


class OffByOne(Reservoir):
    def add(self, item):  # the classic slip: draws j from [0, seen - 1) instead of [0, seen)
        if len(self.items) < self.capacity:
            self.seen += 1
            self.items.append(item)
            return
        j = int(self.rng.integers(self.seen))
        self.seen += 1
        if j < self.capacity:
            self.items[j] = item


def test_reservoir_keeps_every_item_with_equal_probability():
    assert looks_uniform(inclusion_counts(lambda s: Reservoir(CAP, seed=s)))
    assert not looks_uniform(inclusion_counts(lambda s: FirstC(CAP, seed=s)))  # the check has teeth
    assert not looks_uniform(inclusion_counts(lambda s: OffByOne(CAP, seed=s)))


def test_batch_reservoir_matches_one_at_a_time_and_is_uniform():
    rows = torch.arange(100, dtype=torch.float32)[:, None] * torch.ones(1, 3)
    for seed in range(30):
        whole = BatchReservoir(10, seed=seed)
        whole.add({"x": rows, "i": torch.arange(100)})
        for chunk in (1, 7):
            parts = BatchReservoir(10, seed=seed)
            for i in range(0, 100, chunk):
                parts.add({"x": rows[i : i + chunk], "i": torch.arange(i, min(i + chunk, 100))})
            assert torch.equal(parts.data["x"], whole.data["x"]) and torch.equal(parts.data["i"], whole.data["i"])
        assert len(whole) == 10 and whole.data["x"].shape == (10, 3) and len(set(whole.data["i"].tolist())) == 10
        assert torch.equal(whole.data["x"][:, 0], whole.data["i"].float())  # rows stay whole

    counts = np.zeros(N_ITEMS)
    items = torch.arange(N_ITEMS)
    for seed in range(TRIALS):
        r = BatchReservoir(CAP, seed=seed)
        r.add({"i": items[:8]})
        r.add({"i": items[8:]})
        counts[r.data["i"].numpy()] += 1
    assert looks_uniform(counts)


def test_batch_reservoir_large_batches_keep_the_last_row_per_slot():
    """Rows of one big batch that draw the same slot: the later row wins, even with parallel CPU writes."""
    n, width = 20_000, 29
    rows = torch.arange(n, dtype=torch.float32)[:, None].expand(n, width).contiguous()
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        whole = BatchReservoir(50, seed=3)
        whole.add({"x": rows})
    finally:
        torch.set_num_threads(threads)
    one_by_one = BatchReservoir(50, seed=3)
    for i in range(n):
        one_by_one.add({"x": rows[i : i + 1]})
    assert torch.equal(whole.data["x"], one_by_one.data["x"])
    assert torch.all(whole.data["x"] == whole.data["x"][:, :1])  # no slot mixes two rows


# -- replay ---------------------------------------------------------------------------------------------
def episodes_rows(data, eps):
    keep = torch.isin(data["steps"]["episode"], torch.tensor(eps))
    return {k: v[keep] for k, v in data["steps"].items()}


def test_replay_keeps_equal_per_skill_quotas_of_whole_episodes(demo_sets):
    p = make_policy(FLAT)
    p.add_task(0)
    p.add_task(1)
    d0, d1 = p.dataset(demo_sets["press_button"], 0), p.dataset(demo_sets["open_drawer"], 1)
    replay = Replay(capacity=4, weight=0.5, seed=3)
    learner = BCLearner(p, {**BC, "batch_size": 16}, [replay], CPU)
    assert replay.penalty(learner, d0) is None and replay.memory_bytes() == 0

    replay.after_training_task(learner, 0, d0)
    first = replay.kept[0]
    assert len(first) == 4 and set(first) <= set(range(5))
    stored = replay.store[0]["steps"]
    for k, v in episodes_rows(d0, first).items():
        assert torch.equal(stored[k], v)
    assert replay.memory_bytes() == sum(v.numel() * v.element_size() for v in stored.values()) > 0

    # the penalty is weight * the learner's loss on a minibatch drawn from the memory
    replay.before_training_task(learner, 1, d1)
    batch = sample(replay.store[0], 16, torch.Generator().manual_seed(3 * 1000 + 1))
    expected = 0.5 * value(learner.loss_on(batch)[0])
    assert value(replay.penalty(learner, d1)) == pytest.approx(expected, rel=1e-6)

    replay.after_training_task(learner, 1, d1)
    assert len(replay.kept[0]) == 2 and set(replay.kept[0]) <= set(first)  # the older skill gave up room
    assert len(replay.kept[1]) == 2 and set(replay.kept[1]) <= set(range(5))
    for task, d in ((0, d0), (1, d1)):
        for k, v in episodes_rows(d, replay.kept[task]).items():
            assert torch.equal(replay.store[task]["steps"][k], v)
        assert set(replay.store[task]["steps"]["task"].tolist()) == {task}
    memory = replay.memory(CPU)["steps"]
    assert len(memory["obs"]) == sum(len(replay.store[t]["steps"]["obs"]) for t in (0, 1))


def test_replay_episode_choice_is_uniform(demo_sets):
    p = make_policy(FLAT)
    d0, d1 = p.dataset(demo_sets["press_button"], 0), p.dataset(demo_sets["open_drawer"], 1)
    trials, counts = 400, np.zeros(5)
    for seed in range(trials):
        replay = Replay(capacity=2, seed=seed)
        replay.after_training_task(None, 0, d0)
        replay.after_training_task(None, 1, d1)
        assert len(replay.kept[0]) == 1 and len(replay.kept[1]) == 1
        counts[replay.kept[0]] += 1
    z = (counts - trials * 0.2) / math.sqrt(trials * 0.2 * 0.8)  # kept 2 of 5, then 1 of those 2: 1/5 each
    assert np.abs(z).max() < 4.0


# -- DER++ ----------------------------------------------------------------------------------------------
def memory_before(der):
    """The memory's rows and the DER++ generator, as they are before a ``penalty`` call."""
    buf = der.buffers["steps"]
    return {k: v[: len(buf)].clone() for k, v in buf.data.items()}, der._gen.get_state()


def derpp_expected(der, learner, before):
    """(dark-knowledge term, alpha * dark + beta * loss), drawing the two memory minibatches exactly as DER++ does."""
    rows, state = before
    gen = torch.Generator()
    gen.set_state(state)
    n, size = learner.batch_size, len(rows["obs"])
    i1 = torch.randint(size, (n,), generator=gen)
    i2 = torch.randint(size, (n,), generator=gen)
    first = {k: v[i1] for k, v in rows.items()}
    second = {k: v[i2] for k, v in rows.items() if not k.startswith("out/")}
    with torch.no_grad():
        dark = nn.functional.mse_loss(learner.outputs({"steps": first})["steps"]["action"], first["out/action"])
        loss = learner.loss_on({"steps": second})[0]
    return float(dark), der.params["alpha"] * float(dark) + der.params["beta"] * float(loss)


def test_derpp_stores_outputs_at_insertion_and_replays_them(demo_sets):
    p = make_policy(FLAT, n_tasks=1)
    p.add_task(0)
    data = p.dataset(demo_sets["press_button"], 0)
    der = DERPP(capacity=48, alpha=0.7, beta=0.4, seed=2)
    learner = BCLearner(p, {**BC, "batch_size": 16}, [der], CPU)
    der.before_training_task(learner, 0, data)
    gen = torch.Generator().manual_seed(0)

    a = sample(data, 16, gen)
    assert der.penalty(learner, a) is None  # empty memory: no term, but the batch is stored
    with torch.no_grad():
        out_a = p.outputs(a)["steps"]["action"]
    buf = der.buffers["steps"]
    assert len(buf) == 16
    for k, v in a["steps"].items():
        assert torch.equal(buf.data[k][:16], v)
    assert torch.equal(buf.data["out/action"][:16], out_a)

    before = memory_before(der)
    extra = der.penalty(learner, sample(data, 16, gen))  # unchanged network: the stored outputs are its outputs
    dark, expected = derpp_expected(der, learner, before)
    assert dark < 1e-12 and value(extra) == pytest.approx(expected, rel=1e-5)

    perturb(p, scale=0.05)
    before = memory_before(der)
    extra = der.penalty(learner, sample(data, 16, gen))
    dark, expected = derpp_expected(der, learner, before)
    assert dark > 1e-5 and value(extra) == pytest.approx(expected, rel=1e-5)
    assert torch.equal(buf.data["out/action"][:16], out_a)  # kept as they were when stored, not recomputed

    for _ in range(5):
        der.penalty(learner, sample(data, 16, gen))
    assert buf.seen == 16 * 8 and len(buf) == 48 and buf.data["obs"].shape == (48, OBS_DIM)
    assert der.memory_bytes() == 48 * sum(v[0].numel() * v.element_size() for v in buf.data.values())
