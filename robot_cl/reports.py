"""Files a run leaves behind besides metrics.json: matrix.csv, a heatmap and per-skill curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_matrix_csv(path: Path, tasks: list[str], matrix: list[list[float]]) -> None:
    lines = ["stage," + ",".join(tasks)]
    for i, row in enumerate(matrix):
        lines.append(f"{i}:{tasks[i]}," + ",".join("" if np.isnan(v) else f"{v:.4f}" for v in np.asarray(row, dtype=float)))
    Path(path).write_text("\n".join(lines) + "\n")


def plot_matrix(path: Path, tasks: list[str], matrix: list[list[float]], title: str) -> None:
    """Heatmap of the success matrix (rows: after stage i; columns: skill j)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(tasks), 1.0 + 0.7 * len(m)))
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
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_curves(path: Path, tasks: list[str], matrix: list[list[float]], init: list[float] | None, title: str) -> None:
    """Success of every skill after each stage (a line per skill; its own stage marked)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=float)
    rows = np.vstack([init, m]) if init is not None else m
    x = np.arange(len(rows)) - (1 if init is not None else 0)
    fig, ax = plt.subplots(figsize=(7, 4))
    for j, t in enumerate(tasks):
        (line,) = ax.plot(x, rows[:, j], marker="o", ms=3, label=t)
        if j < len(m):
            ax.plot([j], [m[j, j]], marker="*", ms=11, color=line.get_color())
    ax.set_xticks(x, ["init" if i < 0 else f"{i}" for i in x])
    ax.set_xlabel("after training stage (star: the skill's own stage)")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def summary_table(tasks: list[str], matrix: list[list[float]], metrics: dict) -> str:
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
