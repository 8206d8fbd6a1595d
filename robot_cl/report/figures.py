"""Figures and tables of a run or of a sweep's seed means: matrix.csv, the heatmap, success over stages,
learning curves (PNG bytes, so pages can embed them), and the console summary."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

Rows = Sequence[Sequence[float]]


def _pyplot():
    """``matplotlib.pyplot`` on the headless Agg backend, imported on first use (it costs seconds at
    start-up, and most commands that import this module stop or train long before drawing)."""
    import matplotlib

    matplotlib.use("Agg")  # figures are only ever written to files and pages
    import matplotlib.pyplot as plt

    return plt


def write_matrix_csv(path: Path, tasks: list[str], matrix: Rows) -> None:
    lines = ["stage," + ",".join(tasks)]
    for i, row in enumerate(matrix):
        lines.append(f"{i}:{tasks[i]}," + ",".join("" if np.isnan(v) else f"{v:.4f}" for v in np.asarray(row, dtype=float)))
    Path(path).write_text("\n".join(lines) + "\n")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def matrix_png(tasks: list[str], matrix: Rows, title: str) -> bytes:
    """Heatmap of the success matrix (rows: after stage i; columns: skill j)."""
    m = np.asarray(matrix, dtype=float)
    fig, ax = _pyplot().subplots(figsize=(1.2 + 0.9 * len(tasks), 1.0 + 0.7 * len(m)))
    im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(tasks)), [t.replace("_", "\n") for t in tasks], fontsize=7)
    ax.set_yticks(range(len(m)), [f"after {i}: {tasks[i]}" for i in range(len(m))], fontsize=7)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if not np.isnan(m[i, j]):  # NaN: not evaluated (eval.unseen=false)
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7, color="white" if m[i, j] < 0.5 else "black")
    ax.set_xlabel("evaluated skill")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04, label="success rate")
    fig.tight_layout()
    return _png(fig)


def stages_png(
    tasks: list[str], rows: Rows, title: str, init: Sequence[float] | None = None, low: Rows | None = None, high: Rows | None = None
) -> bytes:
    """Success of every skill after each stage (a line per skill, its own stage starred); ``low``/``high``
    draw a band (a sweep's 95 % interval of the seed mean)."""
    m = np.asarray(rows, dtype=float)
    stack = [np.asarray(init, dtype=float)] if init is not None else []
    y = np.vstack([*stack, m])
    x = np.arange(len(y)) - len(stack)
    fig, ax = _pyplot().subplots(figsize=(7, 4))
    for j, t in enumerate(tasks):
        (line,) = ax.plot(x, y[:, j], marker="o", ms=3, label=t)
        if low is not None and high is not None:
            ax.fill_between(
                x[len(stack) :], np.asarray(low, dtype=float)[:, j], np.asarray(high, dtype=float)[:, j], color=line.get_color(), alpha=0.15
            )
        if j < len(m):
            ax.plot([j], [m[j, j]], marker="*", ms=11, color=line.get_color())
    ax.set_xticks(x, ["init" if i < 0 else f"{i}" for i in x])
    ax.set_xlabel("after training stage (star: the skill's own stage)")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return _png(fig)


def curves_png(
    tasks: list[str],
    curves: Rows,
    updates: Rows,
    title: str,
    references: Rows | None = None,
    low: Rows | None = None,
    high: Rows | None = None,
) -> bytes:
    """Each skill's success during its own stage (solid) against its single-skill reference run
    trained from scratch with the same budget (dashed), one panel per skill."""
    n = len(tasks)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = _pyplot().subplots(rows, cols, figsize=(3.0 * cols, 2.3 * rows), squeeze=False, sharey=True)
    for k, t in enumerate(tasks):
        ax = axes[k // cols][k % cols]
        u = np.asarray(updates[k], dtype=float)
        if len(u) != len(curves[k]):  # an RL stage can step past a scheduled point: plot against the points' order
            u = np.arange(len(curves[k]), dtype=float)
        ax.plot(u, curves[k], marker="o", ms=3, label="in the curriculum")
        if low is not None and high is not None and len(low[k]) == len(u):
            ax.fill_between(u, low[k], high[k], alpha=0.2)
        if references is not None and references[k] is not None and len(references[k]) == len(u):
            ax.plot(u, references[k], ls="--", color="gray", label="from scratch")
        ax.set_title(f"{k}: {t}", fontsize=8)
        ax.set_ylim(-0.03, 1.03)
        ax.tick_params(labelsize=7)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].axis("off")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.supxlabel("updates (or environment steps) into the skill's stage", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def summary_table(tasks: list[str], matrix: Rows, metrics: dict) -> str:
    """Plain-text summary printed at the end of a run."""
    width = max(len(t) for t in tasks) + 2
    lines = [
        "success after each stage (rows) on each skill (columns):",
        " " * (width + 3) + " ".join(f"{j:>5}" for j in range(len(tasks))),
    ]
    for i, row in enumerate(matrix):
        cells = ("    ." if np.isnan(v) else f"{v:5.2f}" for v in np.asarray(row, dtype=float))  # ".": not evaluated
        lines.append(f"{i:>2} {tasks[i]:<{width}}" + " ".join(cells))
    keys = ["avg_success", "forgetting", "bwt", "fwt", "fwt_auc", "libero_fwt", "libero_nbt", "libero_auc"]
    lines.append("  ".join(f"{k}={metrics[k]:.3f}" if isinstance(metrics.get(k), float) else f"{k}=n/a" for k in keys))
    return "\n".join(lines)
