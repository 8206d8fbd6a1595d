"""Continual-learning metrics, as the field defines them. All functions are pure (numpy in, floats out).

Notation: ``R`` is the success matrix, ``R[i, j]`` = success on task ``j`` after training stage ``i``
(T x T). ``init[j]`` is the success of the untrained policy on task ``j``. ``curves[k]`` holds the
success of task ``k`` at evenly spaced points *during* its own stage, starting with the point
before the stage's first update (so ``curves[k][0] = R[k-1, k]``, or ``init[k]`` for ``k = 0``) and
ending after its last update (``curves[k][-1] = R[k, k]``).

* Continual World (Wolczyk et al., NeurIPS 2021):
  ``average performance`` = mean of the final row; ``forgetting`` F_i = R[i, i] - R[T-1, i],
  averaged over all tasks (the last task contributes 0); ``forward transfer``
  FT_i = (AUC_i - AUC_i^b) / (1 - AUC_i^b), with AUC the normalised area under task i's success
  curve during its stage and AUC^b that of a single-task reference run trained from scratch.
* GEM (Lopez-Paz & Ranzato, NeurIPS 2017): BWT = mean_{i<T-1} (R[T-1, i] - R[i, i]);
  FWT = mean_{i>0} (R[i-1, i] - init[i]).
* LIBERO (Liu et al., NeurIPS 2023 Datasets and Benchmarks), with c_{k,k} = best success of task k
  over its curve and c_{tau,k} = R[tau, k]: FWT_k = mean of task k's curve;
  NBT_k = mean_{tau>k} (c_{k,k} - c_{tau,k}); AUC_k = (c_{k,k} + sum_{tau>k} c_{tau,k}) / (T - k);
  FWT and AUC average over all tasks, NBT over all but the last.
"""

from __future__ import annotations

import numpy as np


def _matrix(R) -> np.ndarray:
    R = np.asarray(R, dtype=float)
    if R.ndim != 2 or R.shape[0] != R.shape[1]:
        raise ValueError(f"success matrix must be square (stages x tasks), got shape {R.shape}")
    return R


def average_success(R) -> float:
    """Mean success over all tasks after the last stage."""
    return float(np.mean(_matrix(R)[-1]))


def forgetting_per_task(R) -> np.ndarray:
    """Continual World forgetting of every task: success at the end of its own stage minus final success."""
    R = _matrix(R)
    return np.diag(R) - R[-1]


def forgetting(R) -> float:
    """Continual World forgetting, averaged over all tasks."""
    return float(np.mean(forgetting_per_task(R)))


def backward_transfer(R) -> float:
    """GEM BWT: mean over tasks but the last of (final success - success right after learning it)."""
    R = _matrix(R)
    T = len(R)
    if T < 2:
        return 0.0
    return float(np.mean([R[-1, i] - R[i, i] for i in range(T - 1)]))


def forward_transfer(R, init) -> float:
    """GEM FWT: mean over tasks but the first of (success before its stage - untrained success)."""
    R, init = _matrix(R), np.asarray(init, dtype=float)
    T = len(R)
    if T < 2:
        return 0.0
    return float(np.mean([R[i - 1, i] - init[i] for i in range(1, T)]))


def curve_auc(curve) -> float:
    """Normalised area under an evenly sampled success curve (trapezoid rule), in [0, 1]."""
    c = np.asarray(curve, dtype=float)
    if len(c) < 2:
        return float(c[0]) if len(c) else 0.0
    return float((c[0] / 2 + c[1:-1].sum() + c[-1] / 2) / (len(c) - 1))


def cw_forward_transfer_per_task(curves, reference_curves) -> np.ndarray:
    """Continual World FT_i = (AUC_i - AUC_i^b) / (1 - AUC_i^b); 0 where the reference's AUC is 1."""
    out = []
    for c, ref in zip(curves, reference_curves):
        auc, auc_b = curve_auc(c), curve_auc(ref)
        out.append(0.0 if auc_b >= 1.0 - 1e-9 else (auc - auc_b) / (1.0 - auc_b))
    return np.array(out)


def cw_forward_transfer(curves, reference_curves) -> float:
    return float(np.mean(cw_forward_transfer_per_task(curves, reference_curves)))


def libero_per_task(R, curves) -> dict[str, list[float]]:
    """LIBERO's FWT_k, NBT_k and AUC_k of every task (NBT has no entry for the last task)."""
    R = _matrix(R)
    T = len(R)
    best = np.array([max(np.max(curves[k]), R[k, k]) for k in range(T)])
    return {
        "libero_fwt": [float(np.mean(curves[k])) for k in range(T)],
        "libero_nbt": [float(np.mean([best[k] - R[tau, k] for tau in range(k + 1, T)])) for k in range(T - 1)],
        "libero_auc": [float((best[k] + sum(R[tau, k] for tau in range(k + 1, T))) / (T - k)) for k in range(T)],
    }


def libero_metrics(R, curves) -> dict[str, float]:
    """LIBERO's FWT, NBT and AUC (see the module docstring)."""
    per = libero_per_task(R, curves)
    return {k: float(np.mean(v)) if v else 0.0 for k, v in per.items()}


def per_task(R, init=None, curves=None) -> dict[str, list[float]]:
    """Every matrix metric as its per-task terms, whose mean is the metric (for statistics over seeds).

    ``avg_success``: the final row; ``forgetting``: F_i of every task; ``bwt``: the T-1 GEM terms;
    ``fwt``: the T-1 GEM terms (needs ``init``); LIBERO's terms (need ``curves``).
    """
    R = _matrix(R)
    T = len(R)
    out = {
        "avg_success": R[-1].tolist(),
        "forgetting": forgetting_per_task(R).tolist(),
        "bwt": [float(R[-1, i] - R[i, i]) for i in range(T - 1)] or [0.0],
    }
    if init is not None:
        out["fwt"] = [float(R[i - 1, i] - init[i]) for i in range(1, T)] or [0.0]
    if curves is not None:
        out.update({k: v or [0.0] for k, v in libero_per_task(R, curves).items()})
    return out


def updates_to_reach(curve, updates, threshold: float) -> int | None:
    """First number of updates at which ``curve`` reaches ``threshold`` (None if never)."""
    for u, c in zip(updates, curve):
        if c >= threshold - 1e-9:
            return int(u)
    return None
