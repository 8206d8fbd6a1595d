"""What a finished run leaves behind: its metrics (:func:`compute_metrics`), ``metrics.json``, the matrix as
CSV and heatmap, success over stages, ``report.html``, and where its videos go."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from robot_cl import cache, metrics, resources
from robot_cl.paths import VIDEOS_DIR, resolve
from robot_cl.report import figures
from robot_cl.report.html import write_run_report

METRICS_VERSION = 1


def compute_metrics(tasks, init, matrix, curves, curve_updates, refs, recovery, params, memory, wall) -> dict[str, Any]:
    R = np.asarray(matrix)
    out: dict[str, Any] = {
        "version": METRICS_VERSION,
        "tasks": tasks,
        "success_matrix": matrix,
        "init_success": init,
        "avg_success": metrics.average_success(R),
        "forgetting": metrics.forgetting(R),
        "forgetting_per_task": metrics.forgetting_per_task(R).tolist(),
        "bwt": metrics.backward_transfer(R),
        "fwt": metrics.forward_transfer(R, init) if init is not None else None,
        "fwt_auc": None,
        "learning_curves": curves,
        "curve_updates": curve_updates,
    }
    if refs and all(t in refs for t in tasks):
        ref_curves = [refs[t]["curve"] for t in tasks]
        out["fwt_auc"] = metrics.cw_forward_transfer(curves, ref_curves)
        out["fwt_auc_per_task"] = metrics.cw_forward_transfer_per_task(curves, ref_curves).tolist()
        out["reference_success"] = [refs[t]["final"] for t in tasks]
        out["reference_curves"] = ref_curves
    out.update(metrics.libero_metrics(R, curves))
    out["recovery"] = recovery
    out["params"] = params
    out["memory_bytes"] = memory
    out["wall_clock_s"] = {k: round(v, 2) for k, v in wall.items()}
    return out


def video_dir(configured: str | None, run_dir: Path) -> Path:
    """Where a run's videos go: ``eval.video.dir`` if set; else ``videos/<run folder>`` for a single run
    and ``<run dir>/videos`` for a job of a sweep (its folder name need not be unique across sweeps)."""
    if configured:
        return resolve(configured)
    return Path(run_dir) / "videos" if resources.launcher_config() is not None else VIDEOS_DIR / Path(run_dir).name


def finished_metrics(run_dir: Path, chash: str) -> dict[str, Any] | None:
    """The metrics of the finished run of config hash ``chash`` in ``run_dir``, if it holds one."""
    path = Path(run_dir) / "metrics.json"
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(m, dict) and m.get("version") == METRICS_VERSION and m.get("run", {}).get("config_hash") == chash
    return m if ok else None


def write_outputs(run_dir: Path, m: dict[str, Any], title: str) -> None:
    """``metrics.json``, ``matrix.csv``, ``matrix.png``, ``success_over_stages.png`` and ``report.html``."""
    tasks, matrix = m["tasks"], m["success_matrix"]
    cache.write_json(run_dir / "metrics.json", m)
    figures.write_matrix_csv(run_dir / "matrix.csv", tasks, matrix)
    (run_dir / "matrix.png").write_bytes(figures.matrix_png(tasks, matrix, title))
    (run_dir / "success_over_stages.png").write_bytes(figures.stages_png(tasks, matrix, title, init=m["init_success"]))
    write_run_report(run_dir)
