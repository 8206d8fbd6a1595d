"""Statistics over seeds against hand-computed cases."""

import numpy as np
import pytest

from robot_cl import stats


def test_iqm_of_a_fixed_list():
    assert stats.iqm([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4.5)  # mean of 3..6
    assert stats.iqm([0, 0, 1, 1, 1, 1, 100, -100]) == pytest.approx(0.75)  # sorted -100,0,0,1,1,1,1,100: mean of 0,1,1,1
    # a (runs, tasks) matrix: the IQM of all its scores
    assert stats.iqm([[1, 2], [3, 4], [5, 6], [7, 8]]) == pytest.approx(4.5)


def test_bootstrap_interval_of_a_mean_matches_the_normal_approximation():
    x = np.random.default_rng(7).normal(10.0, 2.0, 400)
    low, high = stats.interval(x)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))  # 0.196 for sigma 2, n 400
    assert low == pytest.approx(x.mean() - half, abs=0.04)
    assert high == pytest.approx(x.mean() + half, abs=0.04)


def test_interval_of_five_seeds_is_the_percentile_bootstrap():
    e = stats.estimate([0.99, 0.68, 0.97, 0.74, 0.68])  # the default run's five seeds in issue 16
    assert e.mean == pytest.approx(0.812) and e.n == 5
    # Every bootstrap mean of 5 draws lies on the grid of multiples of 0.002 between 0.68 and 0.99;
    # the 2.5/97.5 % percentiles of the resampling distribution are near 0.69 and 0.93.
    assert 0.68 <= e.low <= 0.71 and 0.91 <= e.high <= 0.95
    assert stats.estimate([0.99, 0.68, 0.97, 0.74, 0.68]) == e  # seeded: the same interval every time


def test_constant_scores_have_a_zero_width_interval_and_one_seed_no_spread():
    e = stats.estimate([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    assert (e.mean, e.low, e.high, e.iqm) == (1.0, 1.0, 1.0, 1.0)
    one = stats.estimate([[0.5, 1.0]])
    assert one.n == 1 and one.low == one.high == 0.75


def test_stratified_bootstrap_resamples_runs_within_each_task():
    # Task 0 is always 0, task 1 always 1: any resampling within tasks keeps the mean at exactly 0.5,
    # while resampling whole rows of a mixed matrix would not.
    scores = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    assert stats.interval(scores) == (0.5, 0.5)
    mixed = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    low, high = stats.interval(mixed)
    assert low < 0.5 < high  # each task's column is resampled on its own: the mean varies


def test_probability_of_improvement_counts_pairs_and_ties():
    x = np.array([[1.0], [0.5], [0.0]])
    y = np.array([[0.5], [0.5], [0.5]])
    # pairs (x_i, y_j): x=1 beats all three, x=0.5 ties all three (1/2 each), x=0 loses: (3 + 1.5) / 9
    assert stats.probability_of_improvement(x, y).mean == pytest.approx(4.5 / 9)
    a = np.array([[1.0, 1.0], [0.9, 1.0], [1.0, 0.8]])
    b = a - 0.5
    e = stats.probability_of_improvement(a, b)
    assert e.mean == 1.0 and e.low == 1.0 and e.high == 1.0
    assert stats.probability_of_improvement(b, a).mean == 0.0
    with pytest.raises(ValueError, match="tasks"):
        stats.probability_of_improvement(np.ones((3, 2)), np.ones((3, 3)))
