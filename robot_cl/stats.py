"""Statistics over seeds, as the "statistical precipice" paper recommends (Agarwal et al., NeurIPS 2021).

A metric of a group of runs (one config, several seeds) is given as a ``(runs, tasks)`` score matrix:
each run's value per skill where the metric decomposes over skills (``avg_success`` is the mean of the
final row's per-skill successes), or one column where it does not (parameter growth, wall-clock).

* :func:`iqm` -- interquartile mean of all scores (the mean of the middle 50 %, ``scipy.stats.trim_mean``);
* :func:`interval` -- a 95 % stratified bootstrap confidence interval of an aggregate: runs are
  resampled with replacement *within each task* (the strata), as rliable does; computed by
  ``scipy.stats.bootstrap`` with one sample per task (percentile method, seeded);
* :func:`probability_of_improvement` -- P(X > Y): for each task the Mann-Whitney U statistic of X's
  runs against Y's divided by the number of pairs (ties count one half), averaged over tasks, with
  its own stratified bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np


def _sps():
    """``scipy.stats``, imported on first use: it costs seconds, and every robot-cl command imports this module."""
    from scipy import stats

    return stats


CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 0  # bootstrap resampling is seeded: the same runs always give the same interval


@dataclass
class Estimate:
    """An aggregate with its confidence interval over the runs it was computed from."""

    mean: float
    iqm: float
    low: float
    high: float
    n: int  # runs

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _scores(scores) -> np.ndarray:
    """Scores as a float ``(runs, tasks)`` matrix; a 1-D input is one task."""
    a = np.asarray(scores, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"scores must be a non-empty (runs, tasks) matrix, got shape {a.shape}")
    return a


def mean(scores) -> float:
    return float(np.mean(_scores(scores)))


def iqm(scores) -> float:
    """Interquartile mean of every score (25 % trimmed from each end)."""
    return float(_sps().trim_mean(_scores(scores).ravel(), 0.25))


def _bootstrap(columns: list[np.ndarray], statistic: Callable[[np.ndarray], np.ndarray], seed: int) -> tuple[float, float]:
    """Percentile interval of ``statistic`` under independent resampling of each column (stratum).

    ``statistic`` maps a stack of columns ``(..., n_columns, runs)`` to an array of shape ``(...)``.
    """
    point = float(statistic(np.stack(columns)))
    if all(np.ptp(c) == 0 for c in columns):
        return point, point  # every resample gives the same value
    res = _sps().bootstrap(
        columns,
        lambda *cols, axis=-1: statistic(np.stack(cols, axis=-2)),
        n_resamples=RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        vectorized=True,
        random_state=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _mean_of(stack: np.ndarray) -> np.ndarray:
    return stack.mean(axis=(-2, -1))


def _iqm_of(stack: np.ndarray) -> np.ndarray:
    return _sps().trim_mean(stack.reshape(*stack.shape[:-2], -1), 0.25, axis=-1)


def interval(scores, aggregate: str = "mean", seed: int = SEED) -> tuple[float, float]:
    """95 % stratified bootstrap interval of the ``mean`` or ``iqm`` of a ``(runs, tasks)`` score matrix."""
    a = _scores(scores)
    fn = {"mean": _mean_of, "iqm": _iqm_of}[aggregate]
    return _bootstrap([a[:, j] for j in range(a.shape[1])], fn, seed)


def estimate(scores, seed: int = SEED) -> Estimate:
    """Mean, IQM and the mean's 95 % stratified bootstrap interval."""
    a = _scores(scores)
    low, high = interval(a, "mean", seed)
    return Estimate(mean=mean(a), iqm=iqm(a), low=low, high=high, n=a.shape[0])


def _greater(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mann-Whitney's U / (n m) per task: P(x > y) + P(x = y) / 2 over every pair of runs."""
    gt = x[..., :, None] > y[..., None, :]
    eq = x[..., :, None] == y[..., None, :]
    return (gt + 0.5 * eq).mean(axis=(-2, -1))


def probability_of_improvement(x, y, seed: int = SEED) -> Estimate:
    """P(X > Y) of config X's runs over config Y's, averaged over tasks, with its 95 % stratified bootstrap interval."""
    a, b = _scores(x), _scores(y)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the two groups have {a.shape[1]} and {b.shape[1]} tasks")
    k = a.shape[1]

    def poi(stack: np.ndarray) -> np.ndarray:  # stack: (..., 2k, runs) -- X's tasks, then Y's
        return _greater(stack[..., :k, :], stack[..., k:, :]).mean(axis=-1)

    columns = [a[:, j] for j in range(k)] + [b[:, j] for j in range(k)]
    if len(a) != len(b):  # scipy stacks the resamples of every column: pad-free only for equal sizes
        value = float(np.mean([_greater(a[:, j], b[:, j]) for j in range(k)]))
        return Estimate(mean=value, iqm=value, low=float("nan"), high=float("nan"), n=min(len(a), len(b)))
    value = float(poi(np.stack(columns)))
    low, high = _bootstrap(columns, poi, seed)
    return Estimate(mean=value, iqm=value, low=low, high=high, n=min(len(a), len(b)))
