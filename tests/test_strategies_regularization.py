"""Regularisation strategies (EWC, online EWC, SI, MAS, LwF, L2): each penalty and importance against a
hand computation on :class:`TinyLearner`, or against what it promises on a small policy trained by BC.
"""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from robot_cl.learners import BCLearner
from robot_cl.strategies import (
    EWC,
    L2,
    MAS,
    SI,
    LwF,
    OnlineEWC,
    fisher_diagonal,
    sample,
)
from robot_cl.testing import BC as BC_DEFAULTS
from robot_cl.testing import CPU, FLAT, HIER, TinyLearner, make_policy, perturb, tiny_data, value

BC = {**BC_DEFAULTS, "updates": 30}
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: a second thread only spin-waits


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
