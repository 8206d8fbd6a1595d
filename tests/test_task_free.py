"""Task-agnostic acting (``policy.task_id=false``) and boundary-free stream training (``stream.enabled``):
the router, the evaluation that never hands over the task id, the mixture schedule, the boundary
detector on a synthetic stream with known boundaries, and stream runs end to end (with resume)."""

import json

import numpy as np
import pytest
import torch

from robot_cl import report
from robot_cl.cli import check_overrides
from robot_cl.evaluation import Evaluator
from robot_cl.layout import OBS_DIM
from robot_cl.report.summary import markdown
from robot_cl.routing import TaskRouter
from robot_cl.run import train
from robot_cl.stream import BoundaryDetector, Mixture
from robot_cl.testing import HIER, make_policy


def blobs(n: int, centers: list[float], seed: int = 0, dim: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples of Gaussians centred at ``c * ones``, and their labels."""
    g = torch.Generator().manual_seed(seed)
    xs = [c + 0.1 * torch.randn(n, dim, generator=g) for c in centers]
    return torch.cat(xs), torch.arange(len(centers)).repeat_interleave(n)


# -- the router ----------------------------------------------------------------------------------------------
def test_the_router_routes_to_the_task_whose_statistics_fit():
    router = TaskRouter(4, 3)
    x, y = blobs(200, [0.0, 1.0, -1.0])
    for t in range(3):
        router.update(t, x[y == t])
    test_x, test_y = blobs(50, [0.0, 1.0, -1.0], seed=1)
    assert torch.equal(router.route(test_x), test_y)
    assert router.distance(test_x[:50], 0).mean() < router.distance(test_x[:50], 1).mean()


def test_router_statistics_are_additive_and_other_tasks_untouched():
    a, b = TaskRouter(4, 2), TaskRouter(4, 2)
    x, _ = blobs(100, [0.5])
    a.update(0, x[:40])
    a.update(0, x[40:])
    b.update(0, x)
    assert torch.allclose(a.count, b.count) and torch.allclose(a.total, b.total) and torch.allclose(a.outer, b.outer)
    before = a.outer[0].clone()
    a.update(1, x + 3)  # learning a later task never moves an earlier one's Gaussian: nothing to forget
    assert torch.equal(a.outer[0], before) and a.fitted == [0, 1]


def test_a_constant_dimension_does_not_make_the_router_singular():
    router = TaskRouter(4, 2)
    x, _ = blobs(100, [0.0])
    x[:, 3] = 0.0  # e.g. the second entity slot of a one-object skill
    router.update(0, x)
    assert torch.isfinite(router.distance(x, 0)).all()


# -- acting without the task id -----------------------------------------------------------------------------------
def aware_policy():
    policy = make_policy(HIER, n_tasks=2)
    policy.add_task(1)
    return policy


def fitted_agnostic_policy():
    """A task-agnostic two-task policy whose router tells press_button's scene from a shifted copy."""
    policy = make_policy({**HIER, "task_id": False}, n_tasks=2)
    policy.add_task(1)
    g = torch.Generator().manual_seed(0)
    obs = torch.as_tensor(policy.obs_center).repeat(300, 1) + 0.01 * torch.randn(300, OBS_DIM, generator=g)
    policy.router.update(0, policy.normalise(obs))
    policy.router.update(1, policy.normalise(obs + 0.5))
    return policy


def test_a_task_agnostic_policy_refuses_a_task_id_and_a_task_aware_one_needs_it():
    policy = fitted_agnostic_policy()
    obs = policy.obs_center.numpy()
    with pytest.raises(ValueError, match="must not be handed the task id"):
        policy.decide(obs, 0)
    policy.decide(obs, None)
    assert policy.last_route == 0
    policy.decide(obs + 0.5, None)
    assert policy.last_route == 1
    with pytest.raises(ValueError, match="given none"):
        aware_policy().decide(obs, None)


def test_evaluation_never_hands_the_task_id_to_a_task_agnostic_policy(demo_sets):
    """Evaluating the same skill under a different task index changes only the routing score: the
    episodes are identical, so acting never read the id (a leak would also raise in ``decide``)."""
    policy = fitted_agnostic_policy()
    with Evaluator(1) as ev:
        as0 = ev.episodes(policy, "press_button", 0, [1000, 1001])
        as1 = ev.episodes(policy, "press_button", 1, [1000, 1001])
        success, routing = ev.rates(policy, ["press_button", "press_button"], [0, 1], [1000])
    strip = [{k: v for k, v in e.items() if k != "routed"} for e in as0]
    assert strip == [{k: v for k, v in e.items() if k != "routed"} for e in as1]
    assert [e["routed"] for e in as0] == [e["decisions"] for e in as0]  # every decision went to press_button's task
    assert all(e["routed"] == 0 for e in as1)
    assert success[0] == success[1] and routing == [1.0, 0.0]
    with Evaluator(1) as ev:
        assert ev.rates(aware_policy(), ["press_button"], [0], [1000])[1] is None  # told the task: no routing score


# -- the stream's schedule and the boundary detector ------------------------------------------------------------
def test_the_mixture_fades_linearly_and_is_half_and_half_at_each_true_boundary():
    m = Mixture(3, 100, blend=0.2)
    assert m.boundaries == [100, 200]
    assert np.allclose([m.shares(u).sum() for u in range(300)], 1.0)
    assert m.shares(50).tolist() == [1.0, 0.0, 0.0] and m.shares(150).tolist() == [0.0, 1.0, 0.0]
    assert np.allclose(m.shares(99), [0.525, 0.475, 0.0]) and np.allclose(m.shares(100), [0.475, 0.525, 0.0])
    assert m.shares(89)[1] == 0.0 < m.shares(90)[1] and m.shares(110)[0] == 0.0  # the fade spans blend x a stage
    abrupt = Mixture(2, 100, blend=0.0)
    assert abrupt.shares(99).tolist() == [1.0, 0.0] and abrupt.shares(100).tolist() == [0.0, 1.0]


def synthetic_stream(detector: BoundaryDetector, mixture: Mixture, centers: list[float], batch: int = 64, seed: int = 0):
    """Feed the detector the mixture's batches of Gaussian blobs; return the updates where it fired."""
    g = torch.Generator().manual_seed(seed)
    fired = []
    for u in range(mixture.T * mixture.U):
        skills = torch.multinomial(torch.as_tensor(mixture.shares(u)), batch, replacement=True, generator=g)
        x = torch.as_tensor(centers)[skills][:, None] + 0.1 * torch.randn(batch, 4, generator=g)
        if detector.observe(x)[1]:
            fired.append(u)
    return fired


@pytest.mark.parametrize("blend", [0.0, 0.2])
def test_the_detector_finds_known_boundaries_of_a_synthetic_stream(blend):
    mixture = Mixture(4, 400, blend)
    router = TaskRouter(4, 4)
    det = BoundaryDetector(router, warmup=30, smoothing=10, threshold=0.5, quantile=0.99, margin=2.0)
    fired = synthetic_stream(det, mixture, [0.0, 1.0, 2.0, 3.0])
    assert len(fired) == 3  # no false alarm, no miss
    assert all(abs(f - b) <= 0.1 * mixture.U for f, b in zip(fired, mixture.boundaries)), fired
    assert det.segment == 3 and router.fitted == [0, 1, 2, 3]
    # each segment's statistics describe its own skill: routing a sample of skill k gives segment k
    x, y = blobs(20, [0.0, 1.0, 2.0, 3.0], seed=5)
    assert torch.equal(router.route(x), y)


def test_the_detector_raises_no_alarm_on_a_stationary_stream():
    det = BoundaryDetector(TaskRouter(4, 2), warmup=30, smoothing=10, threshold=0.5, quantile=0.99, margin=2.0)
    assert synthetic_stream(det, Mixture(1, 2000, 0.2), [0.0]) == []


# -- whole runs ----------------------------------------------------------------------------------------------------
def tiny(cache, *extra):
    return [
        "curriculum=mini",
        "curriculum.demos=6",
        "eval=quick",
        "eval.recovery.enabled=false",
        "learner.updates=150",
        "learner.batch_size=64",
        f"cache_dir={cache}",
        "progress=false",
        "workers=1",
        *extra,
    ]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("policy", ["hierarchical", "flat"])
def test_a_task_agnostic_run_reports_routing_and_trains_like_the_task_aware_one(cache, tmp_path, policy):
    aware = train(check_overrides(tiny(cache, f"policy={policy}")), tmp_path / "aware", say=lambda *_: None)
    agnostic = train(
        check_overrides(tiny(cache, f"policy={policy}", "+experiment=task_agnostic")), tmp_path / "agnostic", say=lambda *_: None
    )
    assert "routing_accuracy" not in aware
    assert agnostic["routing_accuracy"] == [1.0, 1.0]  # two distinct scenes: every decision routed right
    assert agnostic["success_matrix"] == aware["success_matrix"]  # the router only replaces the id the policy was told
    assert agnostic["memory_bytes"][-1] > aware["memory_bytes"][-1]  # its statistics are counted


def test_a_stream_run_detects_the_boundary_and_resumes_exactly(cache, tmp_path):
    overrides = tiny(cache, "+experiment=task_free")
    m = train(check_overrides(overrides), tmp_path / "run", say=lambda *_: None)
    b = m["boundaries"]
    assert b["true"] == [150] and b["missed"] == 0 and b["false_alarms"] == 0 and abs(b["delays"][0]) <= 15
    assert m["routing_accuracy"] == [1.0, 1.0]
    # resuming from the first stage's checkpoint (detector, window and segment restored) gives the same run
    again = train(check_overrides([*overrides, "resume_from=0"]), tmp_path / "run", say=lambda *_: None)
    keep = ("success_matrix", "boundaries", "routing_matrix", "learning_curves")
    assert {k: again[k] for k in keep} == {k: m[k] for k in keep}
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["boundaries"] == b
    table = markdown(report.aggregate([tmp_path / "run"]))  # the report's table gains the task-free columns
    assert "routing accuracy (no task id)" in table and "boundaries found" in table and "1.00 (1 seed)" in table
