"""Report pages that open from disk with no web server: a run's ``report.html`` (self-contained:
figures and evaluation videos embedded as data URIs) and a sweep's ``report.html`` (seed means with
their 95 % intervals; each configuration's videos and run pages linked by relative paths)."""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from robot_cl.cache import atomic_write
from robot_cl.report import figures
from robot_cl.report.runs import Run, read_run
from robot_cl.report.summary import METRICS, TABLE, Summary, best, fmt

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.82em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; } th { background: #f3f3f3; }
td.name, th.name { text-align: left; } td.cell { text-align: center; min-width: 4.5em; }
.videos { display: flex; flex-wrap: wrap; gap: 10px; } .videos figure { margin: 0; font-size: 0.8em; }
img { max-width: 100%; } pre { background: #f7f7f7; padding: 0.6em; font-size: 0.78em; overflow-x: auto; }
.muted { color: #777; font-size: 0.85em; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<link rel="icon" href="data:,"><style>{STYLE}</style></head>\n<body>\n<h1>{_e(title)}</h1>\n{body}\n</body></html>\n'
    )


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _color(v: float) -> str:
    if np.isnan(v):
        return "#fff"
    from matplotlib import colormaps  # imported on first use, like robot_cl.report.figures' pyplot

    r, g, b, _ = colormaps["viridis"](float(np.clip(v, 0, 1)))
    return f"rgb({int(r * 255)},{int(g * 255)},{int(b * 255)})"


def heatmap(tasks: list[str], mean, low=None, high=None) -> str:
    """The success matrix as a coloured table (row: after stage i; column: skill j), with the 95 %
    interval of the seed mean under each cell when given."""
    m = np.asarray(mean, dtype=float)
    head = "".join(f"<th>{_e(t)}</th>" for t in tasks)
    rows = []
    for i in range(len(m)):
        cells = []
        for j in range(m.shape[1]):
            v = m[i, j]
            text = "&middot;" if np.isnan(v) else f"{v:.2f}"
            if low is not None and not np.isnan(v):
                text += f"<br><small>[{low[i][j]:.2f}, {high[i][j]:.2f}]</small>"
            fg = "#fff" if not np.isnan(v) and v < 0.5 else "#000"
            cells.append(f'<td class="cell" style="background:{_color(v)};color:{fg}">{text}</td>')
        rows.append(f'<tr><td class="name">after {i}: {_e(tasks[i])}</td>{"".join(cells)}</tr>')
    return f'<table class="heatmap"><tr><th class="name">stage \\ skill</th>{head}</tr>{"".join(rows)}</table>'


def _config(cfg: dict[str, Any]) -> str:
    return f"<details><summary>configuration</summary><pre>{_e(json.dumps(cfg, indent=1, default=str))}</pre></details>"


def _video(src: str, caption: str) -> str:
    return (
        f'<figure><video controls muted preload="auto" width="320" src="{_e(src)}"></video><figcaption>{_e(caption)}</figcaption></figure>'
    )


def _embedded(path: Path) -> str:
    return "data:video/mp4;base64," + base64.b64encode(path.read_bytes()).decode()


def _videos(run: Run) -> dict[str, Path]:
    """The run's evaluation videos that are still on disk, per skill."""
    return {s: Path(p) for s, p in (run.metrics.get("videos") or {}).items() if Path(p).exists()}


# -- one run ----------------------------------------------------------------------------------------
def _metrics_table(m: dict[str, Any]) -> str:
    rows = []
    for label, digits, extract in METRICS.values():
        v = extract(m)
        if v is None:
            text = "n/a"
        elif isinstance(v, (list, tuple)):
            text = f"{np.mean(v):.{digits}f}" + f' <span class="muted">per skill: {", ".join(f"{x:.{digits}f}" for x in v)}</span>'
        else:
            text = f"{v:.{digits}f}"
        rows.append(f'<tr><td class="name">{_e(label)}</td><td class="name">{text}</td></tr>')
    return f"<table>{''.join(rows)}</table>"


def _shift_table(tasks: list[str], shifted: dict[str, dict]) -> str:
    """Per named shift (``eval.shifts``): its values and every skill's success after the last stage."""
    head = "<tr><th>shift</th><th>values</th>" + "".join(f"<th>{_e(t)}</th>" for t in tasks) + "<th>mean</th></tr>"
    rows = [
        f'<tr><td class="name">{_e(name)}</td><td class="name">{_e(sh["shift"])}</td>'
        + "".join(f"<td>{v:.2f}</td>" for v in sh["success"])
        + f"<td>{sh['mean']:.2f}</td></tr>"
        for name, sh in shifted.items()
    ]
    return f"<table>{head}{''.join(rows)}</table>"


def run_page(run: Run) -> str:
    """A finished run's page: metrics, matrix, success over stages, learning curves, videos, config."""
    m, cfg = run.metrics, run.cfg
    tasks = m["tasks"]
    strategy = "+".join(m.get("run", {}).get("strategy") or []) or "finetune"
    title = f"{run.path.name}: {cfg.get('curriculum', {}).get('name', '?')} | {m['run'].get('policy')} | {strategy} | seed {run.seed}"
    parts = [f'<p class="muted">{_e(run.path)} &middot; one seed: no interval (a sweep\'s report gives them)</p>']
    parts.append("<h2>Metrics</h2>" + _metrics_table(m))
    parts.append("<h2>Success matrix</h2>" + heatmap(tasks, m["success_matrix"]))
    parts.append(
        "<h2>Success of every skill after each stage</h2>"
        + _img(figures.stages_png(tasks, m["success_matrix"], title, m.get("init_success")), "success over stages")
    )
    if m.get("learning_curves"):
        updates = m.get("curve_updates") or [list(range(len(c))) for c in m["learning_curves"]]
        png = figures.curves_png(tasks, m["learning_curves"], updates, "learning curves", m.get("reference_curves"))
        parts.append("<h2>Learning curves</h2>" + _img(png, "learning curves"))
    if m.get("success_under_shift"):
        parts.append("<h2>Success under dynamics shifts</h2>" + _shift_table(tasks, m["success_under_shift"]))
    videos = _videos(run)
    if videos:
        parts.append(
            '<h2>Evaluation videos</h2><div class="videos">' + "".join(_video(_embedded(p), s) for s, p in videos.items()) + "</div>"
        )
    wall = m.get("wall_clock_s") or {}
    parts.append("<h2>Wall-clock</h2><p>" + ", ".join(f"{_e(k)} {v:.0f} s" for k, v in wall.items()) + "</p>")
    parts.append("<h2>Configuration</h2>" + _config(cfg))
    return _page(title, "\n".join(parts))


def write_run_report(run_dir: Path) -> Path:
    """Write ``report.html`` beside a finished run's ``metrics.json``."""
    run = read_run(Path(run_dir))
    if run.status != "finished":
        raise ValueError(f"{run_dir}: {run.status} ({run.reason})")
    page = run_page(run).encode()
    return atomic_write(Path(run_dir) / "report.html", lambda f: f.write(page))


# -- a sweep ----------------------------------------------------------------------------------------
def _sweep_table(summary: Summary) -> str:
    top = best(summary)
    head = "".join(f"<th>{_e(METRICS[k][0])}</th>" for k in TABLE)
    rows = []
    for g in summary.groups:
        poi = "&ndash;" if g is top else fmt(summary.poi[top.label][g.label])
        cells = "".join(f"<td>{fmt(g.estimates[k], METRICS[k][1])}</td>" for k in TABLE)
        rows.append(
            f'<tr><td class="name"><a href="#{_e(g.label)}">{_e(g.label)}</a></td><td>{len(g.runs)}</td>{cells}'
            f"<td>{g.estimates['avg_success'].iqm:.2f}</td><td>{poi}</td></tr>"
        )
    return (
        f'<table><tr><th class="name">configuration</th><th>seeds</th>{head}<th>IQM avg success</th>'
        f"<th>P({_e(top.label)} &gt; it)</th></tr>{''.join(rows)}</table>"
    )


def _group_section(g, out_dir: Path) -> str:
    tasks = g.tasks
    parts = [f'<h2 id="{_e(g.label)}">{_e(g.label)}</h2>', f"<p>seeds {', '.join(map(str, g.seeds))}; runs: "]
    parts.append(
        ", ".join(f'<a href="{_e(os.path.relpath(r.path / "report.html", out_dir))}">{_e(r.path.name)}</a>' for r in g.runs) + "</p>"
    )
    parts.append("<h3>Success matrix: seed mean [95 % interval]</h3>" + heatmap(tasks, g.matrix["mean"], g.matrix["low"], g.matrix["high"]))
    png = figures.stages_png(tasks, g.matrix["mean"], f"{g.label}: seed mean, 95 % interval", low=g.matrix["low"], high=g.matrix["high"])
    parts.append("<h3>Success after each stage</h3>" + _img(png, "success over stages"))
    if g.curves:
        png = figures.curves_png(
            tasks,
            g.curves["mean"],
            g.curves["updates"],
            "learning curves: seed mean, 95 % interval",
            g.curves.get("references"),
            g.curves["low"],
            g.curves["high"],
        )
        parts.append("<h3>Learning curves</h3>" + _img(png, "learning curves"))
    filmed = sorted((r for r in g.runs if _videos(r)), key=lambda r: r.metrics["avg_success"])
    if filmed:
        median = filmed[len(filmed) // 2]  # the median run (by average success) of those with videos
        videos = _videos(median)
        parts.append(f"<h3>Evaluation videos (seed {median.seed}, the median run of those filmed)</h3><div class='videos'>")
        parts.append("".join(_video(os.path.relpath(p, out_dir), s) for s, p in videos.items()) + "</div>")
    parts.append(_config(g.config))
    return "\n".join(parts)


def sweep_page(summary: Summary, out_dir: Path) -> str:
    """The page of a sweep: the metrics table with intervals, probability of improvement, and per
    configuration its mean matrix, curves, videos and config."""
    n = sum(len(g.runs) for g in summary.groups)
    parts = [f"<p>{n} finished runs in {len(summary.groups)} configurations of curriculum <b>{_e(summary.curriculum)}</b>.</p>"]
    if summary.skipped:
        items = "".join(f"<li>{_e(r.path)}: {_e(r.status)} ({_e(r.reason)})</li>" for r in summary.skipped)
        parts.append(f"<p>Left out of the statistics:</p><ul>{items}</ul>")
    parts.append("<h2>Metrics: mean [95 % stratified bootstrap interval] over seeds</h2>" + _sweep_table(summary))
    parts.extend(_group_section(g, out_dir) for g in summary.groups)
    return _page(f"robot_cl sweep report: {out_dir.name}", "\n".join(parts))
