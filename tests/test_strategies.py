"""Continual-learning strategies: each test checks the strategy's mechanism against a hand computation or an invariant.

Tiny hand-made models (``TinyLearner``) check the formulas exactly; small real policies trained with
:class:`BCLearner` on a few demonstrations check what the strategies promise during training.
"""

import copy
import io
import math

import numpy as np
import pytest
import torch
from policy_fixtures import BC, FLAT, HIER, make_policy
from torch import nn

from robot_cl.errors import ConfigError
from robot_cl.layout import OBS_DIM
from robot_cl.learners import BCLearner
from robot_cl.policies import MaskedLinear
from robot_cl.strategies import (
    AGEM,
    DERPP,
    EWC,
    L2,
    MAS,
    SI,
    STRATEGIES,
    BatchReservoir,
    LwF,
    Modular,
    OnlineEWC,
    PackNet,
    ProgressCompress,
    Replay,
    Reservoir,
    agem_project,
    fisher_diagonal,
    make_plugins,
    sample,
)
from robot_cl.strategies.regularization import distillation

BC = {**BC, "updates": 30}
# Weight decay moves weights whose gradients were zeroed: freezing must also restore values, not only zero gradients.
BC_WD = {**BC, "weight_decay": 0.01}
CPU = torch.device("cpu")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The networks here are tiny: a second intra-op thread only adds spin-waiting on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def params_of(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def modules_of(policy):
    return policy.behaviours if hasattr(policy, "behaviours") else policy.heads


# -- a tiny stand-in for the learner: the interface strategies use, around a hand-checkable model ---------
class TinyLearner:
    """``policy`` is a linear model; the loss is the mean squared error ``mean (f(x) - y)^2`` of its first output."""

    def __init__(self, in_dim=2, out_dim=1, bias=True, batch_size=4, seed=0):
        torch.manual_seed(seed)
        self.policy = nn.Linear(in_dim, out_dim, bias=bias).double()
        self.device = CPU
        self.batch_size = batch_size

    def named_parameters(self):
        return list(self.policy.named_parameters())

    def loss_on(self, batch):
        b = batch["steps"]
        loss = ((self.policy(b["x"])[:, 0] - b["y"]) ** 2).mean()
        return loss, {"mse": float(loss.detach())}

    def outputs(self, batch):
        f = self.policy(batch["steps"]["x"])
        return {"steps": {"first": f[:, :1], "rest": f[:, 1:]}}  # two output tensors: MAS must use all of them

    def set(self, **values):
        with torch.no_grad():
            for n, v in values.items():
                getattr(self.policy, n).copy_(torch.as_tensor(v, dtype=torch.float64).view_as(getattr(self.policy, n)))


def value(t):
    return float(t.detach())


def tiny_data(x, y):
    return {"steps": {"x": torch.tensor(x, dtype=torch.float64), "y": torch.tensor(y, dtype=torch.float64)}}


def drawn_rows(n, samples, seed):
    """The rows ``importance`` visits: one ``torch.randint`` draw per single-sample batch from a generator seeded with ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    return [int(torch.randint(n, (1,), generator=gen)) for _ in range(samples)]


def hand_fisher(w, b, data, samples, seed):
    """Mean over the drawn samples of the squared gradient of (w.x + b - y)^2: grad_w = 2 r x, grad_b = 2 r."""
    x, y = data["steps"]["x"], data["steps"]["y"]
    fw, fb = torch.zeros_like(w), torch.zeros(1, dtype=torch.float64)
    for i in drawn_rows(len(y), samples, seed):
        r = float(w @ x[i] + b - y[i])
        fw += (2 * r * x[i]) ** 2
        fb += (2 * r) ** 2
    return {"weight": fw[None] / samples, "bias": fb / samples}


X3 = [[1.0, 2.0], [-0.5, 0.3], [2.0, -1.0]]
Y3 = [0.5, -1.0, 2.0]


# -- EWC ------------------------------------------------------------------------------------------------
def test_fisher_diagonal_is_the_mean_squared_per_sample_gradient():
    learner = TinyLearner()
    learner.set(weight=[0.4, -0.7], bias=[0.1])
    data = tiny_data(X3, Y3)
    rows = drawn_rows(3, 16, seed=5)
    assert set(rows) == {0, 1, 2} and len(set(np.bincount(rows))) > 1  # unequal counts: the draws matter
    got = fisher_diagonal(learner, data, samples=16, seed=5)
    expected = hand_fisher(torch.tensor([0.4, -0.7], dtype=torch.float64), 0.1, data, 16, seed=5)
    assert set(got) == {"weight", "bias"}
    for n in expected:
        torch.testing.assert_close(got[n], expected[n], rtol=1e-12, atol=0)
    assert all(p.grad is None for p in learner.policy.parameters())  # leaves no gradients behind


def test_ewc_penalty_is_half_strength_times_fisher_weighted_distance_per_task():
    learner = TinyLearner()
    w0, b0 = torch.tensor([0.4, -0.7], dtype=torch.float64), 0.1
    learner.set(weight=w0, bias=[b0])
    d0, d1 = tiny_data(X3, Y3), tiny_data([[0.2, -1.5], [1.0, 1.0], [0.0, 0.7]], [1.0, 0.0, -0.3])
    ewc = EWC(strength=3.0, fisher_samples=10)
    assert ewc.penalty(learner, d0) is None
    ewc.after_training_task(learner, 0, d0)  # Fisher drawn with seed = task
    f0 = hand_fisher(w0, b0, d0, 10, seed=0)

    w1, b1 = w0 + torch.tensor([0.3, -0.2], dtype=torch.float64), b0 - 0.1
    learner.set(weight=w1, bias=[b1])
    expected = 0.5 * 3.0 * float((f0["weight"][0] * (w1 - w0) ** 2).sum() + f0["bias"][0] * (b1 - b0) ** 2)
    assert value(ewc.penalty(learner, d0)) == pytest.approx(expected, rel=1e-12)
    assert expected > 0

    ewc.after_training_task(learner, 1, d1)  # a second anchor and Fisher, at the new weights
    f1 = hand_fisher(w1, b1, d1, 10, seed=1)
    w2, b2 = w1 + torch.tensor([-0.5, 0.25], dtype=torch.float64), b1 + 0.2
    learner.set(weight=w2, bias=[b2])
    expected = (
        0.5
        * 3.0
        * sum(float((f["weight"][0] * (w2 - w) ** 2).sum() + f["bias"][0] * (b2 - b) ** 2) for f, w, b in ((f0, w0, b0), (f1, w1, b1)))
    )
    assert value(ewc.penalty(learner, d0)) == pytest.approx(expected, rel=1e-12)
    assert len(ewc.tasks) == 2 and ewc.memory_bytes() == 2 * 2 * 3 * 8


def test_online_ewc_keeps_one_decayed_running_fisher_and_the_latest_anchor():
    learner = TinyLearner()
    w0, b0 = torch.tensor([0.4, -0.7], dtype=torch.float64), 0.1
    learner.set(weight=w0, bias=[b0])
    d0, d1 = tiny_data(X3, Y3), tiny_data([[0.2, -1.5], [1.0, 1.0], [0.0, 0.7]], [1.0, 0.0, -0.3])
    plugin = OnlineEWC(strength=2.0, gamma=0.7, fisher_samples=12)
    plugin.after_training_task(learner, 0, d0)
    w1, b1 = torch.tensor([-0.2, 0.5], dtype=torch.float64), 0.6
    learner.set(weight=w1, bias=[b1])
    plugin.after_training_task(learner, 1, d1)

    f0, f1 = hand_fisher(w0, b0, d0, 12, seed=0), hand_fisher(w1, b1, d1, 12, seed=1)
    for n in ("weight", "bias"):
        torch.testing.assert_close(plugin.fisher[n], f1[n] + 0.7 * f0[n], rtol=1e-12, atol=0)
    assert torch.equal(plugin.anchor["weight"][0], w1) and float(plugin.anchor["bias"]) == b1
    assert value(plugin.penalty(learner, d1)) == 0.0  # at the latest anchor (far from the first one): no pull

    w2, b2 = w1 + torch.tensor([0.1, -0.3], dtype=torch.float64), b1 + 0.05
    learner.set(weight=w2, bias=[b2])
    assert torch.equal(plugin.anchor["weight"][0], w1)  # the anchor is a copy, not a view of the weights
    fw, fb = f1["weight"][0] + 0.7 * f0["weight"][0], f1["bias"][0] + 0.7 * f0["bias"][0]
    expected = 0.5 * 2.0 * float((fw * (w2 - w1) ** 2).sum() + fb * (b2 - b1) ** 2)
    assert value(plugin.penalty(learner, d1)) == pytest.approx(expected, rel=1e-12)


# -- SI -------------------------------------------------------------------------------------------------
def run_hooks(plugin, learner, task, data, batches, lr, maximize=False):
    """Drive the plugin's hooks in the order BCLearner calls them, with plain SGD."""
    opt = torch.optim.SGD(learner.policy.parameters(), lr=lr, maximize=maximize)
    plugin.before_training_task(learner, task, data)
    for batch in batches:
        loss, _ = learner.loss_on(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        plugin.after_backward(learner, batch)
        opt.step()
        plugin.after_update(learner)
    plugin.after_training_task(learner, task, data)


def mse_grad(w, b, batch):
    """Gradient of mean (w.x + b - y)^2: (2/n sum r x, 2/n sum r)."""
    x, y = batch["steps"]["x"], batch["steps"]["y"]
    r = x @ w + b - y
    return 2 * (r[:, None] * x).mean(0), 2 * r.mean()


def test_si_path_integral_and_importance_match_two_sgd_steps_by_hand():
    learner = TinyLearner()
    w0, b0 = torch.tensor([0.4, -0.7], dtype=torch.float64), torch.tensor(0.1, dtype=torch.float64)
    learner.set(weight=w0, bias=[b0])
    data = tiny_data(X3, Y3)
    batches = [tiny_data(X3[:2], Y3[:2]), tiny_data(X3[1:], Y3[1:])]
    lr, xi, c = 0.1, 1e-3, 0.5
    si = SI(strength=c, xi=xi)
    assert si.penalty(learner, data) is None
    run_hooks(si, learner, 0, data, batches, lr)

    # by hand: theta_{k+1} = theta_k - lr g_k, so w = -(g1 d1 + g2 d2) with d_k = -lr g_k
    gw1, gb1 = mse_grad(w0, b0, batches[0])
    w1, b1 = w0 - lr * gw1, b0 - lr * gb1
    gw2, gb2 = mse_grad(w1, b1, batches[1])
    w2, b2 = w1 - lr * gw2, b1 - lr * gb2
    path_w = -(gw1 * (w1 - w0) + gw2 * (w2 - w1))
    path_b = -(gb1 * (b1 - b0) + gb2 * (b2 - b1))
    omega_w = torch.clamp(path_w / ((w2 - w0) ** 2 + xi), min=0)
    omega_b = torch.clamp(path_b / ((b2 - b0) ** 2 + xi), min=0)
    torch.testing.assert_close(learner.policy.weight.detach()[0], w2, rtol=1e-12, atol=0)
    torch.testing.assert_close(si.omega["weight"][0], omega_w, rtol=1e-10, atol=0)
    torch.testing.assert_close(si.omega["bias"][0], omega_b, rtol=1e-10, atol=0)
    assert (omega_w > 0).all() and omega_b > 0

    # penalty: c * sum Omega (theta - theta_end)^2
    learner.set(weight=w2 + torch.tensor([0.2, -0.1], dtype=torch.float64), bias=[b2 + 0.3])
    expected = c * float((omega_w * torch.tensor([0.2, -0.1], dtype=torch.float64) ** 2).sum() + omega_b * 0.3**2)
    assert value(si.penalty(learner, data)) == pytest.approx(expected, rel=1e-10)

    # A skill whose updates climbed the loss has a negative path integral: it adds nothing (the max(0, .)),
    # and the importance of earlier skills is kept (accumulated).
    run_hooks(si, learner, 1, data, batches, lr, maximize=True)
    torch.testing.assert_close(si.omega["weight"][0], omega_w, rtol=1e-10, atol=0)
    torch.testing.assert_close(si.omega["bias"][0], omega_b, rtol=1e-10, atol=0)
    assert torch.equal(si.anchor["weight"], learner.policy.weight.detach())  # anchored at the latest weights


# -- MAS ------------------------------------------------------------------------------------------------
def hand_mas(W, b, data, samples, seed):
    """Mean |grad of ||W x + b||^2|: dW_jk = 2 f_j x_k, db_j = 2 f_j."""
    x = data["steps"]["x"]
    ow, ob = torch.zeros_like(W), torch.zeros_like(b)
    for i in drawn_rows(len(x), samples, seed):
        f = W @ x[i] + b
        ow += (2 * f[:, None] * x[i][None]).abs()
        ob += (2 * f).abs()
    return ow / samples, ob / samples


def test_mas_importance_is_the_mean_absolute_gradient_of_the_squared_output_norm():
    learner = TinyLearner(in_dim=3, out_dim=2)
    W0 = torch.tensor([[0.5, -1.0, 0.2], [0.3, 0.8, -0.6]], dtype=torch.float64)
    b0 = torch.tensor([0.1, -0.4], dtype=torch.float64)
    learner.set(weight=W0, bias=b0)
    x = [[1.0, 2.0, -1.0], [-0.5, 0.3, 0.9], [2.0, -1.0, 0.0], [0.1, 0.1, 0.1]]
    d0 = tiny_data(x, [0.0, 1.0, 2.0, 3.0])
    mas = MAS(strength=4.0, samples=9)
    mas.after_training_task(learner, 0, d0)
    ow0, ob0 = hand_mas(W0, b0, d0, 9, seed=0)
    torch.testing.assert_close(mas.omega["weight"], ow0, rtol=1e-12, atol=0)
    torch.testing.assert_close(mas.omega["bias"], ob0, rtol=1e-12, atol=0)

    # label-free: other targets, same importance
    relabelled = MAS(strength=4.0, samples=9)
    relabelled.after_training_task(learner, 0, tiny_data(x, [9.0, -9.0, 5.0, 0.0]))
    assert torch.equal(relabelled.omega["weight"], mas.omega["weight"])

    # accumulated over skills, anchored at the latest weights
    W1, b1 = W0 * 0.5 + 0.1, b0 + 0.2
    learner.set(weight=W1, bias=b1)
    d1 = tiny_data([[0.0, 1.0, 1.0], [1.0, 0.0, -2.0], [0.5, 0.5, 0.5]], [0.0, 0.0, 0.0])
    mas.after_training_task(learner, 1, d1)
    ow1, ob1 = hand_mas(W1, b1, d1, 9, seed=1)
    torch.testing.assert_close(mas.omega["weight"], ow0 + ow1, rtol=1e-12, atol=0)
    torch.testing.assert_close(mas.omega["bias"], ob0 + ob1, rtol=1e-12, atol=0)
    delta = torch.zeros_like(W1)
    delta[1, 2] = 0.3
    learner.set(weight=W1 + delta, bias=b1)
    expected = 4.0 * float((ow0 + ow1)[1, 2] * 0.3**2)
    assert value(mas.penalty(learner, d1)) == pytest.approx(expected, rel=1e-10)


# -- LwF ------------------------------------------------------------------------------------------------
def perturb(module, scale=0.05, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))


def test_lwf_distils_every_earlier_skill_module_and_ignores_the_current_one(demo_sets):
    p = make_policy(FLAT, n_tasks=3)
    for t in range(3):
        p.add_task(t)
    lwf = LwF(strength=2.0, temperature=2.0)
    learner = BCLearner(p, BC, [lwf], CPU)
    data = p.dataset(demo_sets["open_drawer"], 2)
    batch = sample(data, 32, torch.Generator().manual_seed(0))
    lwf.before_training_task(learner, 0, data)
    assert lwf.penalty(learner, batch) is None  # nothing to remember during the first skill
    lwf.before_training_task(learner, 2, data)
    assert lwf.old_tasks == [0, 1]
    assert value(lwf.penalty(learner, batch)) == 0.0  # the model is its own teacher
    teacher = copy.deepcopy(p)

    perturb(p.heads[2])  # the current skill's head is free
    assert value(lwf.penalty(learner, batch)) == 0.0
    for old in (0, 1):  # each earlier head is queried
        before = {k: v.clone() for k, v in p.heads[old].state_dict().items()}
        perturb(p.heads[old], seed=10 + old)
        assert value(lwf.penalty(learner, batch)) > 1e-6
        p.heads[old].load_state_dict(before)
        assert value(lwf.penalty(learner, batch)) == 0.0

    perturb(p.trunk)
    obs = batch["steps"]["obs"]
    with torch.no_grad():
        mse = [nn.functional.mse_loss(p(obs, torch.full((32,), t)), teacher(obs, torch.full((32,), t))) for t in (0, 1)]
    expected = 2.0 * float(sum(mse)) / 2
    assert expected > 0 and value(lwf.penalty(learner, batch)) == pytest.approx(expected, rel=1e-5)


def test_lwf_on_primitive_logits_is_a_temperature_scaled_kl(demo_sets):
    p = make_policy(HIER)
    p.add_task(0)
    p.add_task(1)
    lwf = LwF(strength=1.5, temperature=3.0)
    learner = BCLearner(p, BC, [lwf], CPU)
    data = p.dataset(demo_sets["open_drawer"], 1)
    batch = sample(data, 24, torch.Generator().manual_seed(0))
    lwf.before_training_task(learner, 1, data)
    assert value(lwf.penalty(learner, batch)) < 1e-6  # KL of identical distributions (computed from log(softmax))
    teacher = copy.deepcopy(p)
    perturb(p.behaviours[0], scale=0.2)
    obs, t0 = batch["calls"]["obs"], torch.zeros(24, dtype=torch.long)
    with torch.no_grad():
        (s_logits, s_params), (t_logits, t_params) = p(obs, t0), teacher(obs, t0)
    T = 3.0
    q = torch.softmax(t_logits / T, -1)
    kl = (q * (torch.log(q) - torch.log_softmax(s_logits / T, -1))).sum(-1).mean() * T * T
    expected = 1.5 * float(kl + ((s_params - t_params) ** 2).mean())
    assert float(kl) > 0 and value(lwf.penalty(learner, batch)) == pytest.approx(expected, rel=1e-4)


# -- L2 -------------------------------------------------------------------------------------------------
def test_l2_penalises_squared_distance_to_the_anchor_but_not_new_modules():
    p = make_policy(FLAT)
    p.add_task(0)
    l2 = L2(strength=7.0)
    learner = BCLearner(p, BC, [l2], CPU)
    assert l2.penalty(learner, {}) is None
    l2.after_training_task(learner, 0, {})
    p.add_task(1)  # a new head appears after the anchor
    perturb(p.heads[1], scale=1.0)
    assert value(l2.penalty(learner, {})) == 0.0
    with torch.no_grad():
        p.trunk[0].weight[3, 5] += 0.5
        p.heads[0].bias[1] -= 0.25
    assert value(l2.penalty(learner, {})) == pytest.approx(7.0 * (0.5**2 + 0.25**2), rel=1e-5)
    assert l2.memory_bytes() == 4 * sum(v.numel() for n, v in p.named_parameters() if not n.startswith("heads.1"))


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


# -- PackNet --------------------------------------------------------------------------------------------
def train_packnet(cfg, demo_sets, keep=0.25):
    p = make_policy(cfg)
    packnet = PackNet(keep=keep, retrain_updates=10, seed=0)
    learner = BCLearner(p, BC_WD, [packnet], CPU)
    p.add_task(0)
    d0 = p.dataset(demo_sets["press_button"], 0)
    learner.train_task(0, d0, 30, seed=0)
    after0 = {
        "params": params_of(p),
        "owner": {n: m.owner.clone() for n, m in p.named_modules() if isinstance(m, MaskedLinear)},
        "out": {k: v.detach().clone() for k, v in p.outputs(d0)[next(iter(d0))].items()},
    }
    p.add_task(1)
    learner.train_task(1, p.dataset(demo_sets["open_drawer"], 1), 30, seed=1)
    return p, d0, after0


def kept_fraction(owned, available, keep):
    """The largest ceil(keep * available) weights are kept (a few more only when magnitudes tie at the threshold)."""
    k = math.ceil(keep * available)
    return k <= int(owned.sum()) <= k + max(2, available // 100)


@pytest.mark.parametrize("cfg", [FLAT, HIER], ids=["flat", "hierarchical"])
def test_packnet_freezes_earlier_skills_weights_and_behaviour_exactly(cfg, demo_sets):
    keep, FREE = 0.25, MaskedLinear.FREE
    p, d0, after0 = train_packnet(cfg, demo_sets, keep)
    assert p.cfg["task_views"] and p.spec()["cfg"]["task_views"]
    layers = {n: m for n, m in p.named_modules() if isinstance(m, MaskedLinear)}
    own_module = "heads.1" if cfg is FLAT else "behaviours.1"
    other_module = "heads.0" if cfg is FLAT else "behaviours.0"
    for name, m in layers.items():
        if name.startswith(own_module):  # appeared with skill 1: it keeps `keep` of its weights
            assert set(m.owner.unique().tolist()) == {1, FREE}
            assert kept_fraction(m.owner == 1, m.owner.numel(), keep)
            continue
        owner0 = after0["owner"][name]
        # after skill 0: `keep` of the layer, the rest released and zeroed
        assert set(owner0.unique().tolist()) == {0, FREE}
        assert kept_fraction(owner0 == 0, owner0.numel(), keep)
        assert (after0["params"][f"{name}.weight"][owner0 == FREE] == 0).all()
        # skill 0's weights are bit-identical and still its own; skill 1 only took released ones
        mine0 = owner0 == 0
        assert torch.equal(m.weight.detach()[mine0], after0["params"][f"{name}.weight"][mine0])
        assert (m.owner[mine0] == 0).all() and set(m.owner.unique().tolist()) <= {0, 1, FREE}
        assert torch.equal(m.bias.detach(), after0["params"][f"{name}.bias"])  # biases: trained with the first skill only
        if not name.startswith(other_module):  # shared layers: skill 1 keeps `keep` of what was free to it
            assert kept_fraction(m.owner == 1, int((owner0 == FREE).sum()), keep)
            assert (m.weight.detach()[m.owner == FREE] == 0).all()
    for name, v in after0["params"].items():  # LayerNorm of the shared trunk: frozen too
        if ".weight" not in name or "trunk.1" in name:
            assert torch.equal(dict(p.named_parameters())[name].detach(), v), name
    with torch.no_grad():
        now = p.outputs(d0)[next(iter(d0))]
    for k, v in after0["out"].items():  # skill 0 seen through its task view: exactly as after its training
        assert torch.equal(now[k], v)


def test_packnet_keeps_the_keep_fraction_in_every_layer(demo_sets):
    keep = 0.25
    p, _, after0 = train_packnet(FLAT, demo_sets, keep)
    m, owner0 = p.heads[0], after0["owner"]["heads.0"]
    assert kept_fraction(m.owner == 1, int((owner0 == MaskedLinear.FREE).sum()), keep)


# -- modular --------------------------------------------------------------------------------------------
def train_two_skills(cfg, plugins, demo_sets, updates=30):
    """Skill 0, then skill 1; snapshots of both modules and the trunk taken just before skill 1."""
    p = make_policy(cfg)
    learner = BCLearner(p, BC_WD, plugins, CPU)
    p.add_task(0)
    learner.train_task(0, p.dataset(demo_sets["press_button"], 0), updates, seed=0)
    p.add_task(1)
    before = {"module0": params_of(modules_of(p)[0]), "module1": params_of(modules_of(p)[1]), "trunk": params_of(p.trunk)}
    infos = []
    learner.train_task(1, p.dataset(demo_sets["open_drawer"], 1), updates, seed=1, on_update=lambda u, info: infos.append(dict(info)))
    return p, learner, before, infos


def unchanged(before, module):
    now = params_of(module)
    return all(torch.equal(v, now[k]) for k, v in before.items())


@pytest.mark.parametrize("cfg", [FLAT, HIER], ids=["flat", "hierarchical"])
@pytest.mark.parametrize("shared", ["frozen", "l2", "free"])
def test_modular_never_changes_a_frozen_module(cfg, shared, demo_sets):
    # Replay of skill 0 sends gradients into skill 0's module during skill 1: only the freezing keeps it fixed.
    modular = Modular(shared=shared, strength=0.5)
    p, learner, before, infos = train_two_skills(cfg, [modular, Replay(capacity=4)], demo_sets)
    assert unchanged(before["module0"], modules_of(p)[0])
    assert not unchanged(before["module1"], modules_of(p)[1])  # the new module learns
    assert unchanged(before["trunk"], p.trunk) == (shared == "frozen")
    if shared == "l2":
        assert set(modular.anchor) == {f"trunk.{k}" for k in before["trunk"]}  # only the shared parameters are held
        assert all("modular_penalty" in info for info in infos) and infos[-1]["modular_penalty"] > 0
        assert infos[0]["modular_penalty"] == 0.0  # the first update starts at the anchor (the trunk after skill 0)
        assert all(torch.equal(modular.anchor[f"trunk.{k}"], v) for k, v in params_of(p.trunk).items())  # re-anchored after skill 1
        with torch.no_grad():
            p.trunk[0].weight[2, 4] += 0.4
            perturb(modules_of(p)[1], scale=1.0)  # per-skill modules are not held
        assert value(modular.penalty(learner, {})) == pytest.approx(0.5 * 0.4**2, rel=1e-5)
    else:
        assert modular.penalty(learner, {}) is None and not any("modular_penalty" in info for info in infos)


def test_without_modular_replay_does_change_the_old_module(demo_sets):
    """The control for the test above: its setup does push skill 0's module."""
    p, _, before, _ = train_two_skills(FLAT, [Replay(capacity=4)], demo_sets)
    assert not unchanged(before["module0"], modules_of(p)[0])


@pytest.mark.parametrize("cfg", [FLAT, HIER], ids=["flat", "hierarchical"])
def test_modular_needs_per_task_modules(cfg, demo_sets):
    p = make_policy({**cfg, "per_task_modules": False})
    p.add_task(0)
    learner = BCLearner(p, BC, [Modular()], CPU)
    with pytest.raises(ConfigError, match="per_task_modules"):
        learner.train_task(0, p.dataset(demo_sets["press_button"], 0), 1, seed=0)


# -- progress & compress --------------------------------------------------------------------------------
class RecordingPC(ProgressCompress):
    """Keeps the active column it trained; with ``teacher``, the knowledge base is distilled from that network instead."""

    def __init__(self, teacher=None, **params):
        super().__init__(**params)
        self.teacher = teacher

    def before_training_task(self, learner, task, data):
        super().before_training_task(learner, task, data)
        self.trained = self.active
        if self.teacher is not None:
            self.active = self.teacher


def distance(a, b, data):
    with torch.no_grad():
        return float(distillation(a.outputs(data), b.outputs(data), 2.0))


def test_progress_and_compress_trains_an_active_column_and_distils_it(demo_sets):
    p = make_policy(FLAT)
    p.add_task(0)
    pc = RecordingPC(progress_updates=60, strength=10.0, fisher_samples=8, lr=3e-3)
    learner = BCLearner(p, {**BC, "lr": 3e-3}, [pc], CPU)
    d0 = p.dataset(demo_sets["press_button"], 0)
    init = copy.deepcopy(p)
    infos = []
    learner.train_task(0, d0, 30, seed=0, on_update=lambda u, info: infos.append(dict(info)))

    active = pc.trained
    assert pc.active is None and active is not p
    with torch.no_grad():  # progress: the column learned the skill from the labels
        assert float(active.loss(d0)[0]) < 0.5 * float(init.loss(d0)[0])
    assert distance(p, active, d0) < 0.5 * distance(init, active, d0)  # compress: the knowledge base moved towards it
    assert all(info["loss"] == pytest.approx(info["pc_distillation"], rel=1e-6) for info in infos)  # no EWC term yet

    # online EWC state after the first skill: the anchor is the knowledge base, the Fisher its label loss's
    assert set(pc.anchor) == set(params_of(p)) and all(torch.equal(pc.anchor[k], v) for k, v in params_of(p).items())
    f0 = {k: v.clone() for k, v in pc.fisher.items()}
    assert all((v >= 0).all() for v in f0.values()) and sum(float(v.sum()) for v in f0.values()) > 0
    recomputed = fisher_diagonal(learner, d0, 8, seed=0)
    assert all(torch.allclose(recomputed[k], v) for k, v in f0.items())

    p.add_task(1)
    d1 = p.dataset(demo_sets["open_drawer"], 1)
    infos.clear()
    learner.train_task(1, d1, 10, seed=1, on_update=lambda u, info: infos.append(dict(info)))
    assert infos[0]["loss"] == pytest.approx(infos[0]["pc_distillation"], rel=1e-6)  # at the anchor
    assert infos[-1]["loss"] > infos[-1]["pc_distillation"]  # then the online-EWC term pulls back towards it
    f1 = fisher_diagonal(learner, d1, 8, seed=1)
    for k, v in f0.items():
        torch.testing.assert_close(pc.fisher[k], f1[k] + 0.9 * v)


def test_progress_and_compress_learns_from_the_column_not_the_labels(demo_sets):
    p = make_policy(FLAT)
    p.add_task(0)
    teacher = make_policy(FLAT, seed=7)  # a network that knows nothing about the demonstrations
    teacher.add_task(0)
    teacher.eval()
    pc = RecordingPC(teacher=teacher, progress_updates=1, fisher_samples=4)
    learner = BCLearner(p, {**BC, "lr": 3e-3}, [pc], CPU)
    d0 = p.dataset(demo_sets["press_button"], 0)
    init = copy.deepcopy(p)
    learner.train_task(0, d0, 30, seed=0)
    assert distance(p, teacher, d0) < 0.3 * distance(init, teacher, d0)
    with torch.no_grad():
        assert float(p.loss(d0)[0]) > 0.5 * float(init.loss(d0)[0])  # it did not learn the labels instead


# -- composition and checkpoints ------------------------------------------------------------------------
def test_plugins_compose_and_both_contribute(demo_sets):
    plugins = make_plugins({"ewc": {"strength": 10.0, "fisher_samples": 8}, "replay": {"capacity": 4, "weight": 1.0}})
    assert [type(x) for x in plugins] == [EWC, Replay] and plugins[0].params["strength"] == 10.0
    assert [type(x) for x in make_plugins({"replay": {}, "ewc": {}})] == [Replay, EWC]

    p = make_policy(FLAT)
    learner = BCLearner(p, BC, plugins, CPU)
    infos = {0: [], 1: []}
    for task, skill in enumerate(["press_button", "open_drawer"]):
        p.add_task(task)
        learner.train_task(task, p.dataset(demo_sets[skill], task), 15, seed=task, on_update=lambda u, i, t=task: infos[t].append(dict(i)))
    assert not any("ewc_penalty" in i or "replay_penalty" in i for i in infos[0])
    for i in infos[1]:
        assert i["ewc_penalty"] >= 0 and i["replay_penalty"] > 0
        assert i["loss"] == pytest.approx(i["action_mse"] + i["ewc_penalty"] + i["replay_penalty"], rel=1e-5)
    assert infos[1][-1]["ewc_penalty"] > 0


SMALL = {
    "finetune": {},
    "multitask": {},
    "l2": {"strength": 1.0},
    "ewc": {"strength": 1.0, "fisher_samples": 8},
    "online_ewc": {"strength": 1.0, "fisher_samples": 8},
    "si": {},
    "mas": {"strength": 1.0, "samples": 8},
    "lwf": {},
    "agem": {"samples_per_task": 50, "batch_size": 16},
    "replay": {"capacity": 4},
    "derpp": {"capacity": 50},
    "packnet": {"retrain_updates": 5},
    "modular": {},
    "progress_compress": {"progress_updates": 5, "fisher_samples": 8},
}


def test_every_builtin_strategy_is_covered():
    assert {n for n, cls in STRATEGIES.items() if cls.__module__.startswith("robot_cl.strategies")} == set(SMALL)


def same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("name", sorted(SMALL))
def test_plugin_state_round_trips_through_a_weights_only_checkpoint(name, demo_sets):
    p = make_policy(FLAT)
    p.add_task(0)
    plugin = STRATEGIES[name](**SMALL[name])
    learner = BCLearner(p, {**BC, "batch_size": 16}, [plugin], CPU)
    learner.train_task(0, p.dataset(demo_sets["press_button"], 0), 5, seed=0)
    state = plugin.state_dict()
    if name not in ("finetune", "lwf"):
        assert state and all(v is not None for v in state.values())
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    fresh = STRATEGIES[name](**SMALL[name])
    fresh.load_state_dict(loaded)
    assert same(fresh.state_dict(), state)
    assert fresh.memory_bytes() == plugin.memory_bytes()

    # the reloaded plugin acts like the original at the start of the next skill
    p.add_task(1)
    d1 = p.dataset(demo_sets["open_drawer"], 1)
    batch = sample(d1, 16, torch.Generator().manual_seed(0))
    base = learner.loss_on(batch)[0]
    losses = []
    for x in (plugin, fresh):
        x.before_training_task(learner, 1, d1)
        losses.append(value(x.loss(learner, batch, base, {})))
    assert losses[0] == losses[1]
