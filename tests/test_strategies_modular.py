"""Modular strategies (PackNet, modular, progress & compress), composition of plugins, and every
strategy's state through a weights-only checkpoint.
"""

import copy
import io
import math

import pytest
import torch

from robot_cl.errors import ConfigError
from robot_cl.learners import BCLearner
from robot_cl.policies import MaskedLinear
from robot_cl.strategies import (
    EWC,
    STRATEGIES,
    Modular,
    PackNet,
    ProgressCompress,
    Replay,
    fisher_diagonal,
    make_plugins,
    sample,
)
from robot_cl.strategies.regularization import distillation
from robot_cl.testing import BC as BC_DEFAULTS
from robot_cl.testing import CPU, FLAT, HIER, make_policy, perturb, value

BC = {**BC_DEFAULTS, "updates": 30}
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: a second thread only spin-waits


# Weight decay moves weights whose gradients were zeroed: freezing must also restore values, not only zero gradients.
BC_WD = {**BC, "weight_decay": 0.01}


def params_of(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def modules_of(policy):
    return policy.behaviours if hasattr(policy, "behaviours") else policy.heads


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


def test_packnet_keeps_an_earlier_skills_learned_low_level_commands(demo_sets):
    """With learned primitives the low-level network is task-masked too: skill 0's commands stay exactly its own."""
    p = make_policy({**HIER, "learned_primitives": True, "low_level_hidden": [32, 32]})
    learner = BCLearner(p, BC_WD, [PackNet(retrain_updates=5, seed=0)], CPU)
    p.add_task(0)
    d0 = p.dataset(demo_sets["press_button"], 0)
    learner.train_task(0, d0, 20, seed=0)
    before = learner.outputs(d0)["steps"]["low_level"].detach().clone()
    p.add_task(1)
    learner.train_task(1, p.dataset(demo_sets["open_drawer"], 1), 20, seed=1)
    assert torch.equal(learner.outputs(d0)["steps"]["low_level"], before)
    owners = [m.owner for m in p.low_level.modules() if isinstance(m, MaskedLinear)]
    assert owners and all(set(o.unique().tolist()) >= {0, 1} for o in owners)  # both skills own low-level weights


def test_packnet_keep_by_default_scales_with_the_number_of_tasks(demo_sets):
    auto = PackNet()
    assert [auto.keep(n) for n in (2, 6, 10)] == [0.75, 0.25, 0.15]  # 1.5 / tasks: 0.25 for the household six
    assert PackNet(keep=0.4).keep(10) == 0.4
    _, _, after0 = train_packnet(HIER, demo_sets, keep=None)  # two tasks: each keeps 75 % of what it trained
    owner0 = after0["owner"]["trunk.0"]
    assert kept_fraction(owner0 == 0, owner0.numel(), 0.75)
    with pytest.raises(ConfigError, match="packnet keep"):
        PackNet(keep=1.5)


def test_packnet_retrains_for_a_quarter_of_the_skills_updates_by_default(demo_sets, monkeypatch):
    p = make_policy(HIER)
    learner = BCLearner(p, BC_WD, [PackNet(seed=0)], CPU)
    calls = []
    real = learner.loss_on
    monkeypatch.setattr(learner, "loss_on", lambda batch: (calls.append(1), real(batch))[1])
    p.add_task(0)
    learner.train_task(0, p.dataset(demo_sets["press_button"], 0), 40, seed=0)
    assert len(calls) == 40 + 10  # 40 training updates, then 40 // 4 retraining updates after pruning


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
    "lamaml": {"capacity": 50, "memory_batch": 8, "inner_steps": 2},
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
