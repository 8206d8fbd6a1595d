"""Aggregate finished runs over seeds: every metric's mean, IQM and 95 % stratified bootstrap interval,
the mean success matrix, learning curves and the probability of improvement between configurations.

Per-skill metrics (average success, forgetting, transfer, LIBERO's) are bootstrapped with the skills as
strata (:mod:`robot_cl.stats`); the others (recovery, growth, memory, wall-clock) over runs alone.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robot_cl import metrics as M
from robot_cl import stats
from robot_cl.report.runs import ReportError, Run, group_runs

Extract = Callable[[dict[str, Any]], "list[float] | float | None"]


def _per_task(key: str) -> Extract:
    def get(m: dict[str, Any]) -> list[float] | None:
        if key == "fwt_auc":
            return m.get("fwt_auc_per_task")
        R = np.asarray(m["success_matrix"], dtype=float)
        if np.isnan(R).any():  # eval.unseen=false leaves cells no metric reads; per-task terms need only evaluated ones
            R = np.nan_to_num(R, nan=0.0)
        parts = M.per_task(R, m.get("init_success"), m.get("learning_curves"))
        return parts.get(key)

    return get


def _recovery(key: str) -> Extract:
    def get(m: dict[str, Any]) -> float | None:
        vals = [r[key] for r in (m.get("recovery") or {}).values() if r.get(key) is not None]
        return float(np.mean(vals)) if vals else None

    return get


def _wall(phase: str | None) -> Extract:
    def get(m: dict[str, Any]) -> float | None:
        wall = m.get("wall_clock_s") or {}
        return (sum(wall.values()) if phase is None else wall.get(phase, 0.0)) / 60

    return get


# key -> (label, digits, extractor); the order is the tables' column order.
METRICS: dict[str, tuple[str, int, Extract]] = {
    "avg_success": ("avg success", 2, _per_task("avg_success")),
    "forgetting": ("forgetting", 2, _per_task("forgetting")),
    "fwt_auc": ("fwt_auc", 2, _per_task("fwt_auc")),
    "bwt": ("bwt", 2, _per_task("bwt")),
    "fwt": ("fwt", 2, _per_task("fwt")),
    "libero_fwt": ("LIBERO FWT", 2, _per_task("libero_fwt")),
    "libero_nbt": ("LIBERO NBT", 2, _per_task("libero_nbt")),
    "libero_auc": ("LIBERO AUC", 2, _per_task("libero_auc")),
    "recovery_updates": ("recovery updates", 0, _recovery("updates")),
    "recovery_ratio": ("recovery ratio", 2, _recovery("ratio")),
    "params_growth": ("params final/first", 2, lambda m: m["params"][-1] / m["params"][0] if m.get("params") else None),
    "memory_mb": ("memory MB", 1, lambda m: m["memory_bytes"][-1] / 1e6 if m.get("memory_bytes") else None),
    "routing_accuracy": ("routing accuracy (no task id)", 2, lambda m: m.get("routing_accuracy")),
    "boundaries_found": ("boundaries found", 2, lambda m: (m.get("boundaries") or {}).get("within_tolerance")),
    "false_alarms": ("boundary false alarms", 1, lambda m: (m.get("boundaries") or {}).get("false_alarms")),
    "boundary_delay": ("boundary delay (updates)", 0, lambda m: (m.get("boundaries") or {}).get("mean_abs_delay")),
    "wall_clock_min": ("wall-clock min", 1, _wall(None)),
    **{f"wall_{p}_min": (f"{p} min", 1, _wall(p)) for p in ("demos", "references", "training", "evaluation", "recovery", "rendering")},
}
TABLE = [
    "avg_success",
    "forgetting",
    "fwt_auc",
    "bwt",
    "libero_nbt",
    "libero_auc",
    "recovery_updates",
    "params_growth",
    "memory_mb",
    "wall_clock_min",
]
OPTIONAL = ["routing_accuracy", "boundaries_found", "false_alarms", "boundary_delay"]  # columns of task-free runs


@dataclass
class Group:
    """The finished runs of one configuration, over seeds, and their statistics."""

    label: str
    runs: list[Run]
    estimates: dict[str, stats.Estimate | None] = field(default_factory=dict)
    matrix: dict[str, list[list[float]]] = field(default_factory=dict)  # mean, low, high
    curves: dict[str, list[list[float]]] = field(default_factory=dict)  # mean, low, high, updates, references

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]

    @property
    def tasks(self) -> list[str]:
        return list(self.runs[0].metrics["tasks"])

    @property
    def config(self) -> dict[str, Any]:
        return {k: v for k, v in self.runs[0].cfg.items() if k not in ("seed", "run_name", "workers")}


@dataclass
class Summary:
    """A report over runs of one curriculum."""

    curriculum: str
    groups: list[Group]
    skipped: list[Run]
    poi: dict[str, dict[str, stats.Estimate]]  # poi[a][b] = P(a > b) on avg_success


def _scores(runs: list[Run], extract: Extract) -> np.ndarray | None:
    """``(runs, tasks)`` scores of the runs that have the metric (runs without it are left out)."""
    values = [extract(r.metrics) for r in runs]
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return None
    rows = [np.atleast_1d(np.asarray(v, dtype=float)) for v in values]
    if len({len(r) for r in rows}) > 1:
        return None
    return np.stack(rows)


def _cellwise(stacked: np.ndarray) -> dict[str, list]:
    """Mean and 95 % interval over runs of every cell of ``(runs, ...)`` (NaN where nothing was evaluated)."""
    shape = stacked.shape[1:]
    flat = stacked.reshape(len(stacked), -1)
    mean, low, high = (np.full(flat.shape[1], np.nan) for _ in range(3))
    for c in range(flat.shape[1]):
        v = flat[:, c][~np.isnan(flat[:, c])]
        if len(v):
            mean[c] = v.mean()
            low[c], high[c] = stats.interval(v)
    return {k: a.reshape(shape).tolist() for k, a in (("mean", mean), ("low", low), ("high", high))}


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _labels(groups: dict[str, list[Run]]) -> dict[str, str]:
    """A group's label: its run name without the seed, plus the keys that set it apart from the other
    groups of the same name (a swept hyper-parameter)."""
    flat = {g: _flat(runs[0].cfg) for g, runs in groups.items()}
    labels = {}
    for g, runs in groups.items():
        base = runs[0].base_name
        twins = [h for h, rs in groups.items() if rs[0].base_name == base and h != g]
        keys = sorted(
            {k for h in twins for k in set(flat[g]) | set(flat[h]) if flat[g].get(k) != flat[h].get(k)} - {"run_name", "seed", "workers"}
        )
        labels[g] = base + "".join(f" {k}={flat[g].get(k)}" for k in keys)
    return labels


def _group_stats(label: str, runs: list[Run]) -> Group:
    group = Group(label, runs)
    for key, (_, _, extract) in METRICS.items():
        scores = _scores(runs, extract)
        group.estimates[key] = stats.estimate(scores) if scores is not None else None
    for name in sorted({n for r in runs for n in (r.metrics.get("success_under_shift") or {})}):  # eval.shifts
        scores = _scores(runs, lambda m, n=name: ((m.get("success_under_shift") or {}).get(n) or {}).get("success"))
        group.estimates[f"shift:{name}"] = stats.estimate(scores) if scores is not None else None
    group.matrix = _cellwise(np.array([r.metrics["success_matrix"] for r in runs], dtype=float))
    curves = [r.metrics.get("learning_curves") for r in runs]
    if all(c is not None for c in curves) and len({json.dumps([len(x) for x in c]) for c in curves}) == 1:
        per_task = [_cellwise(np.array([c[k] for c in curves], dtype=float)) for k in range(len(curves[0]))]
        group.curves = {k: [p[k] for p in per_task] for k in ("mean", "low", "high")}
        first = runs[0].metrics
        group.curves["updates"] = first.get("curve_updates") or [list(range(len(c))) for c in curves[0]]
        group.curves["references"] = first.get("reference_curves")
    return group


def summarize(runs: list[Run], curriculum: str | None = None) -> Summary:
    """Statistics over the finished runs of one curriculum (``curriculum`` picks one when runs mix several)."""
    readable = [r for r in runs if r.cfg]
    curricula = sorted({r.curriculum for r in readable})
    if curriculum is not None:
        if curriculum not in curricula:
            raise ReportError(f"no runs of curriculum {curriculum!r}; valid: {', '.join(curricula) or 'none'}")
        left_out = [r for r in readable if r.curriculum != curriculum]
        runs = [r for r in runs if r not in left_out]
    elif len(curricula) > 1:
        counts = ", ".join(f"{c} ({sum(r.curriculum == c for r in readable)} runs)" for c in curricula)
        raise ReportError(f"runs of different curricula are never pooled: {counts}; choose one with --curriculum NAME")
    groups, skipped = group_runs(runs)
    if not groups:
        reasons = "; ".join(f"{r.path}: {r.status} ({r.reason})" for r in skipped[:3])
        raise ReportError(f"no finished runs to report ({len(skipped)} skipped: {reasons})")
    labels = _labels(groups)
    out = [_group_stats(labels[g], rs) for g, rs in groups.items()]
    out.sort(key=lambda g: g.label)
    scores = {g.label: _scores(g.runs, METRICS["avg_success"][2]) for g in out}
    poi = {a: {b: stats.probability_of_improvement(scores[a], scores[b]) for b in scores if b != a} for a in scores}
    return Summary(curricula[0] if curriculum is None else curriculum, out, skipped, poi)


# -- files ----------------------------------------------------------------------------------------
def best(summary: Summary) -> Group:
    """The configuration with the highest mean average success."""
    return max(summary.groups, key=lambda g: g.estimates["avg_success"].mean)


def fmt(e: stats.Estimate | None, digits: int = 2) -> str:
    """``mean [low, high]`` (one seed: the value alone, since one seed has no interval)."""
    if e is None:
        return "n/a"
    if e.n == 1:
        return f"{e.mean:.{digits}f} (1 seed)"
    return f"{e.mean:.{digits}f} [{e.low:.{digits}f}, {e.high:.{digits}f}]"


def _label(key: str) -> str:
    return f"success under {key[6:]}" if key.startswith("shift:") else METRICS[key][0]


def markdown(summary: Summary) -> str:
    """The metrics table (mean [95 % CI] over seeds) that docs can include."""
    top = best(summary)
    # task-free columns only where some run has them (routing without a task id, detected boundaries)
    cols = TABLE + [k for k in OPTIONAL if any(g.estimates.get(k) is not None for g in summary.groups)]
    cols += sorted({k for g in summary.groups for k in g.estimates if k.startswith("shift:")})  # success under eval.shifts
    head = ["configuration", "seeds", *[_label(k) for k in cols], "IQM avg success", f"P({top.label} > it)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in summary.groups:
        poi = "" if g is top else f"{summary.poi[top.label][g.label].mean:.2f}"
        cells = [g.label, ",".join(map(str, g.seeds)), *[fmt(g.estimates.get(k), METRICS[k][1] if k in METRICS else 2) for k in cols]]
        cells += [f"{g.estimates['avg_success'].iqm:.2f}", poi]
        lines.append("| " + " | ".join(cells) + " |")
    note = f"\nMean and 95 % stratified bootstrap interval over the seeds named; {len(summary.skipped)} run(s) left out"
    note += (": " + "; ".join(f"`{r.path.name}` {r.status}" for r in summary.skipped)) if summary.skipped else "."
    return "\n".join(lines) + "\n" + note + "\n"


def to_json(summary: Summary) -> dict[str, Any]:
    return {
        "curriculum": summary.curriculum,
        "groups": [
            {
                "label": g.label,
                "seeds": g.seeds,
                "runs": [str(r.path) for r in g.runs],
                "tasks": g.tasks,
                "metrics": {k: (e.as_dict() if e else None) for k, e in g.estimates.items()},
                "success_matrix": g.matrix,
                "learning_curves": {k: v for k, v in g.curves.items() if k in ("mean", "low", "high")},
                "config": g.config,
            }
            for g in summary.groups
        ],
        "probability_of_improvement": {a: {b: e.as_dict() for b, e in row.items()} for a, row in summary.poi.items()},
        "skipped": [{"path": str(r.path), "status": r.status, "reason": r.reason} for r in summary.skipped],
    }


def to_csv(summary: Summary) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["configuration", "seeds", "n"] + [f"{k}_{s}" for k in METRICS for s in ("mean", "iqm", "low", "high")])
    for g in summary.groups:
        row: list[Any] = [g.label, " ".join(map(str, g.seeds)), len(g.runs)]
        for k in METRICS:
            e = g.estimates[k]
            row += [f"{getattr(e, s):.6g}" if e else "" for s in ("mean", "iqm", "low", "high")]
        w.writerow(row)
    return buf.getvalue()
