"""La-MAML (meta-learning family): learned learning rates, a look-ahead that leaves the weights alone,
an outer update made with the learned rates, its memory, composition and resume, at tiny budgets."""

import io

import pytest
import torch

from robot_cl.errors import ConfigError
from robot_cl.learners import BCLearner
from robot_cl.policies import MaskedLinear
from robot_cl.strategies import LaMAML, PackNet, sample
from robot_cl.strategies.base import hooked_step
from robot_cl.strategies.meta import chunks
from robot_cl.testing import BC, CPU, FLAT, HIER, make_policy

SMALL = {"capacity": 64, "memory_batch": 8, "inner_steps": 2}


def setup(cfg, plugins, task=0):
    p = make_policy(cfg)
    learner = BCLearner(p, {**BC, "batch_size": 16}, plugins, CPU)
    p.add_task(task)
    return p, learner


def weights(policy):
    return {n: t.detach().clone() for n, t in policy.named_parameters()}


@pytest.mark.parametrize("cfg", [FLAT, HIER], ids=["flat", "hierarchical"])
def test_the_look_ahead_leaves_the_weights_and_the_outer_step_uses_the_learned_rates(cfg, demo_sets):
    lamaml = LaMAML(**SMALL)
    p, learner = setup(cfg, [lamaml])
    data = p.dataset(demo_sets["press_button"], 0)
    lamaml.before_training_task(learner, 0, data)
    batch = sample(data, 16, torch.Generator().manual_seed(0))
    before = weights(p)
    loss, info = learner.loss_on(batch)
    meta = lamaml.loss(learner, batch, loss, info)
    assert all(torch.equal(t, before[n]) for n, t in p.named_parameters())  # inner loop: fast copies only
    assert info["lamaml_meta_loss"] == pytest.approx(float(meta.detach())) and "lamaml_inner_loss" in info
    alpha0 = {n: a.detach().clone() for n, a in lamaml.alpha.items()}

    learner.optimizer.zero_grad(set_to_none=True)
    meta.backward()
    grads = {n: t.grad.clone() for n, t in p.named_parameters() if t.grad is not None}
    alpha_grads = {n: a.grad.clone() for n, a in lamaml.alpha.items() if a.grad is not None}
    assert alpha_grads and any(g.abs().sum() > 0 for g in alpha_grads.values())  # the rates get a meta-gradient
    lamaml.after_backward(learner, batch)
    clip = min(1.0, BC["grad_clip"] / float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads.values()]))))
    for n, t in p.named_parameters():
        new_alpha = (alpha0[n] - lamaml.params["alpha_lr"] * alpha_grads.get(n, torch.zeros_like(alpha0[n]))).clamp(
            max=lamaml.params["alpha_max"]
        )
        assert torch.allclose(lamaml.alpha[n], new_alpha)  # rates first ...
        expected = before[n] - torch.relu(new_alpha) * clip * grads.get(n, torch.zeros_like(t))
        assert torch.allclose(t.detach(), expected, atol=1e-6), n  # ... then the weights, with the new rates
        assert t.grad is None  # nothing left for the learner's optimiser


def test_the_learned_rates_stay_under_their_ceiling(demo_sets):
    lamaml = LaMAML(**SMALL, alpha_lr=100.0)  # rates pushed hard: only the cap holds them
    p, learner = setup(HIER, [lamaml])
    learner.train_task(0, p.dataset(demo_sets["press_button"], 0), 6, seed=0)
    top = max(float(a.max()) for a in lamaml.alpha.values())
    assert top == pytest.approx(lamaml.params["alpha_max"])


def test_learned_rates_change_and_the_optimiser_never_steps(demo_sets):
    lamaml = LaMAML(**SMALL)
    p, learner = setup(HIER, [lamaml])
    learner.train_task(0, p.dataset(demo_sets["press_button"], 0), 12, seed=0)
    changed = [n for n, a in lamaml.alpha.items() if not torch.equal(a, torch.full_like(a, lamaml.params["alpha_init"]))]
    assert changed  # the per-parameter learning rates are learned
    assert learner.optimizer.state_dict()["state"] == {}  # Adam never took a step: La-MAML made every update
    assert len(lamaml.buffers["calls"]) == min(12 * 16, SMALL["capacity"])  # the stream went into the reservoir


def test_the_memory_of_an_earlier_skill_enters_the_meta_batch(demo_sets, monkeypatch):
    lamaml = LaMAML(**SMALL)
    p, learner = setup(HIER, [lamaml])
    learner.train_task(0, p.dataset(demo_sets["press_button"], 0), 6, seed=0)
    p.add_task(1)
    seen = []
    real = learner.loss_on
    monkeypatch.setattr(learner, "loss_on", lambda b: (seen.append(b["calls"]["task"].clone()), real(b))[1])
    learner.train_task(1, p.dataset(demo_sets["open_drawer"], 1), 2, seed=1)
    meta_batches = [t for t in seen if len(t) == 16 + SMALL["memory_batch"]]
    assert meta_batches and all((t[:16] == 1).all() for t in meta_batches)  # the current batch, then the memory
    assert (meta_batches[0][16:] == 0).all()  # the first memory batch of the new skill: the earlier skill's samples


def test_composes_after_packnet_whose_frozen_weights_stay_bit_identical(demo_sets):
    packnet, lamaml = PackNet(retrain_updates=3, seed=0), LaMAML(**SMALL)
    p, learner = setup(HIER, [packnet, lamaml])
    learner.train_task(0, p.dataset(demo_sets["press_button"], 0), 6, seed=0)
    frozen = {n: (m.weight.detach().clone(), m.owner == 0) for n, m in p.named_modules() if isinstance(m, MaskedLinear)}
    p.add_task(1)
    learner.train_task(1, p.dataset(demo_sets["open_drawer"], 1), 6, seed=1)
    for n, m in p.named_modules():
        if n in frozen:
            w, mine = frozen[n]
            assert torch.equal(m.weight.detach()[mine], w[mine]), n


def test_resume_restores_the_rates_and_the_memory_and_continues_identically(demo_sets):
    runs = []
    for resumed in (False, True):
        lamaml = LaMAML(**SMALL)
        p, learner = setup(FLAT, [lamaml])
        learner.train_task(0, p.dataset(demo_sets["press_button"], 0), 5, seed=0)
        if resumed:  # through a weights-only checkpoint, into a fresh policy, learner and plugin
            buf = io.BytesIO()
            torch.save({"policy": p.state_dict(), "plugin": lamaml.state_dict(), "learner": learner.state_dict()}, buf)
            buf.seek(0)
            state = torch.load(buf, weights_only=True)
            lamaml = LaMAML(**SMALL)
            p, learner = setup(FLAT, [lamaml])
            p.load_state_dict(state["policy"])
            lamaml.load_state_dict(state["plugin"])
            learner.load_state_dict(state["learner"])
        p.add_task(1)
        learner.train_task(1, p.dataset(demo_sets["open_drawer"], 1), 5, seed=1)
        runs.append((weights(p), {n: a.detach().clone() for n, a in lamaml.alpha.items()}))
    (w0, a0), (w1, a1) = runs
    assert all(torch.equal(w0[n], w1[n]) for n in w0) and all(torch.equal(a0[n], a1[n]) for n in a0)


def test_bad_settings_and_an_rl_learner_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="lamaml needs"):
        LaMAML(inner_steps=0)

    class RL:
        needs_demos = False

    with pytest.raises(ConfigError, match="learner=bc"):
        LaMAML().before_training_task(RL(), 0, {})


def test_a_batch_is_cut_into_consecutive_chunks():
    batch = {"calls": {"obs": torch.arange(10)[:, None], "task": torch.zeros(10, dtype=torch.long)}}
    parts = chunks(batch, 3)
    assert [len(c["calls"]["obs"]) for c in parts] == [3, 3, 4]
    assert torch.equal(torch.cat([c["calls"]["obs"] for c in parts]), batch["calls"]["obs"])
    assert len(chunks(batch, 50)) == 10


def test_a_hooked_step_with_lamaml_reports_a_finite_loss(demo_sets):
    lamaml = LaMAML(**SMALL)
    p, learner = setup(FLAT, [lamaml])
    data = p.dataset(demo_sets["press_button"], 0)
    lamaml.before_training_task(learner, 0, data)
    info = hooked_step(learner, sample(data, 16, torch.Generator().manual_seed(0)))
    assert info["loss"] == pytest.approx(info["lamaml_meta_loss"])
