"""Find run folders, read them, and group runs that differ only in their seed.

A run folder holds ``config.json`` (written when the run starts) and, once it has finished,
``metrics.json``. A folder with the first but not the second is unfinished (still running, killed or
crashed); one whose files cannot be read is unreadable. Only finished runs enter statistics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robot_cl.config import config_hash
from robot_cl.errors import RobotCLError

SKIP_DIRS = {"checkpoints", "tensorboard", "videos", ".hydra", ".submitit"}


class ReportError(RobotCLError):
    """Nothing to report on, or runs that must not be reported together."""


@dataclass
class Run:
    """One run folder as the report sees it."""

    path: Path
    status: str  # finished | unfinished | unreadable
    reason: str = ""
    cfg: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None

    @property
    def seed(self) -> int | None:
        return self.cfg.get("seed")

    @property
    def curriculum(self) -> str:
        return str((self.cfg.get("curriculum") or {}).get("name", "?"))

    @property
    def group(self) -> str:
        """What the runs of one configuration over several seeds share."""
        return config_hash(self.cfg, seed=False)

    @property
    def base_name(self) -> str:
        """The run name without its seed: ``<curriculum>-<policy>-<learner>-<strategy>``."""
        name = str(self.cfg.get("run_name") or self.path.name)
        return name.rsplit(f"-s{self.seed}", 1)[0] if self.seed is not None else name


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def read_run(path: Path) -> Run:
    """Read one run folder (never raises: an unusable folder is a :class:`Run` saying why)."""
    path = Path(path)
    cfg: dict[str, Any] = {}
    if (path / "config.json").exists():
        try:
            cfg = _read_json(path / "config.json")
        except (OSError, ValueError) as e:
            return Run(path, "unreadable", f"config.json: {type(e).__name__}: {str(e).splitlines()[0][:80]}")
    if not (path / "metrics.json").exists():
        stages = sorted(path.glob("checkpoints/stage_*.pt"))
        total = len((cfg.get("curriculum") or {}).get("skills") or [])
        return Run(path, "unfinished", f"{len(stages)} of {total or '?'} stages checkpointed, no metrics.json", cfg)
    try:
        metrics = _read_json(path / "metrics.json")
        if not isinstance(metrics.get("success_matrix"), list) or not metrics.get("tasks"):
            raise ValueError("no success matrix")
    except (OSError, ValueError) as e:
        return Run(path, "unreadable", f"metrics.json: {type(e).__name__}: {str(e).splitlines()[0][:80]}", cfg)
    if not cfg:  # an older run without config.json: what metrics.json says of it
        return Run(path, "unreadable", "no config.json (needed to group it by configuration)", cfg, metrics)
    return Run(path, "finished", "", cfg, metrics)


def _run_folders(root: Path) -> list[Path]:
    if (root / "config.json").exists() or (root / "metrics.json").exists():
        return [root]
    found = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in SKIP_DIRS):
        found.extend(_run_folders(child))
    return found


def find_runs(paths: list[str | Path]) -> list[Run]:
    """Every run folder at or below ``paths`` (a run folder, a sweep's folder, or a folder of sweeps)."""
    if not paths:
        raise ReportError("no folder given; usage: robot-cl-report PATH [PATH ...]")
    runs = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise ReportError(f"{p} is not a folder; give run folders or a sweep's folder (e.g. multirun/)")
        runs.extend(read_run(f) for f in _run_folders(p))
    if not runs:
        raise ReportError(f"no runs under {', '.join(map(str, paths))} (a run folder holds config.json and, when finished, metrics.json)")
    return runs


def group_runs(runs: list[Run]) -> tuple[dict[str, list[Run]], list[Run]]:
    """Finished runs grouped by configuration (seed aside), each group ordered by seed; and the runs
    left out: not finished, or a second run of a (configuration, seed) already in its group."""
    groups: dict[str, list[Run]] = {}
    skipped = [r for r in runs if r.status != "finished"]
    for r in sorted(
        (r for r in runs if r.status == "finished"), key=lambda r: (r.seed if isinstance(r.seed, int) else 1 << 62, str(r.path))
    ):
        members = groups.setdefault(r.group, [])
        twin = next((m for m in members if m.seed == r.seed), None)
        if twin is not None:
            r.status, r.reason = "duplicate", f"same configuration and seed as {twin.path}"
            skipped.append(r)
        else:
            members.append(r)
    return groups, skipped
