"""Continual-learning metrics against hand computations (Continual World, GEM, LIBERO definitions)."""

import numpy as np
import pytest

from robot_cl import metrics

# R[i, j]: success on task j after training stage i.
R = np.array([[0.8, 0.1, 0.0],
              [0.4, 0.9, 0.2],
              [0.2, 0.5, 1.0]])  # fmt: skip
INIT = [0.0, 0.05, 0.1]
# Curves during each task's own stage: first point = success before the stage, last = R[k, k].
CURVES = [[0.0, 0.6, 0.8], [0.1, 0.9, 0.9], [0.2, 0.7, 1.0]]
REFERENCES = [[0.0, 0.4, 0.8], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]


def test_average_success_is_the_final_row_mean():
    assert metrics.average_success(R) == pytest.approx((0.2 + 0.5 + 1.0) / 3)


def test_continual_world_forgetting():
    # F_i = R[i, i] - R[T-1, i]: 0.8-0.2, 0.9-0.5, 1.0-1.0; averaged over all tasks.
    assert metrics.forgetting_per_task(R) == pytest.approx([0.6, 0.4, 0.0])
    assert metrics.forgetting(R) == pytest.approx(1.0 / 3)


def test_gem_backward_and_forward_transfer():
    assert metrics.backward_transfer(R) == pytest.approx(((0.2 - 0.8) + (0.5 - 0.9)) / 2)
    assert metrics.forward_transfer(R, INIT) == pytest.approx(((0.1 - 0.05) + (0.2 - 0.1)) / 2)


def test_curve_auc_is_the_normalised_trapezoid():
    assert metrics.curve_auc([0.0, 0.6, 0.8]) == pytest.approx((0.0 / 2 + 0.6 + 0.8 / 2) / 2)
    assert metrics.curve_auc([1.0, 1.0]) == 1.0
    assert metrics.curve_auc([0.3]) == 0.3


def test_continual_world_forward_transfer_against_references():
    # AUC(c0) = 0.5, AUC(r0) = 0.4 -> (0.5 - 0.4) / 0.6; AUC(c1) = 0.7, AUC(r1) = 0.75 -> -0.05 / 0.25;
    # the third reference is perfect (AUC 1), which Continual World's formula leaves undefined: 0.
    per_task = metrics.cw_forward_transfer_per_task(CURVES, REFERENCES)
    assert per_task == pytest.approx([0.1 / 0.6, -0.2, 0.0])
    assert metrics.cw_forward_transfer(CURVES, REFERENCES) == pytest.approx((0.1 / 0.6 - 0.2) / 3)


def test_libero_fwt_nbt_auc():
    out = metrics.libero_metrics(R, CURVES)
    # c_kk (best during the stage) = 0.8, 0.9, 1.0.
    fwt = (np.mean([0.0, 0.6, 0.8]) + np.mean([0.1, 0.9, 0.9]) + np.mean([0.2, 0.7, 1.0])) / 3
    nbt = (((0.8 - 0.4) + (0.8 - 0.2)) / 2 + (0.9 - 0.5)) / 2
    auc = ((0.8 + 0.4 + 0.2) / 3 + (0.9 + 0.5) / 2 + 1.0) / 3
    assert out["libero_fwt"] == pytest.approx(fwt)
    assert out["libero_nbt"] == pytest.approx(nbt)
    assert out["libero_auc"] == pytest.approx(auc)


def test_libero_uses_the_best_point_of_the_learning_curve():
    # The task peaked at 1.0 mid-stage and ended at 0.5: NBT measures later drops from the peak.
    r = np.array([[0.5, 0.0], [0.25, 1.0]])
    out = metrics.libero_metrics(r, [[0.0, 1.0, 0.5], [0.0, 1.0, 1.0]])
    assert out["libero_nbt"] == pytest.approx(1.0 - 0.25)
    assert out["libero_auc"] == pytest.approx(((1.0 + 0.25) / 2 + 1.0) / 2)


def test_no_forgetting_and_no_transfer_on_an_identity_matrix_with_memory():
    r = np.tril(np.ones((4, 4)))  # every task perfect from its own stage on, nothing before it
    assert metrics.forgetting(r) == 0.0 and metrics.backward_transfer(r) == 0.0
    assert metrics.forward_transfer(r, np.zeros(4)) == 0.0
    assert metrics.average_success(r) == 1.0


def test_single_task_edge_case():
    r = np.array([[0.7]])
    assert metrics.forgetting(r) == 0.0 and metrics.backward_transfer(r) == 0.0
    assert metrics.forward_transfer(r, [0.0]) == 0.0
    assert metrics.libero_metrics(r, [[0.0, 0.7]])["libero_nbt"] == 0.0


def test_updates_to_reach():
    assert metrics.updates_to_reach([0.0, 0.5, 0.95], [0, 100, 200], 0.9) == 200
    assert metrics.updates_to_reach([0.0, 0.5, 0.95], [0, 100, 200], 0.5) == 100
    assert metrics.updates_to_reach([0.0, 0.5], [0, 100], 0.9) is None


def test_non_square_matrix_is_rejected():
    with pytest.raises(ValueError, match="square"):
        metrics.average_success([[1.0, 0.0]])
