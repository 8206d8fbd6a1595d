"""Atomic, pickle-free checkpoints: one file per finished stage, loaded with ``weights_only=True``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from robot_cl.cache import atomic_write
from robot_cl.errors import RobotCLError

PATTERN = re.compile(r"stage_(\d+)\.pt$")


class CheckpointError(RobotCLError):
    """A checkpoint that cannot be used."""


def stage_path(directory: Path, stage: int) -> Path:
    return Path(directory) / f"stage_{stage:02d}.pt"


def save(directory: Path, stage: int, state: dict[str, Any]) -> Path:
    """Write ``state`` for ``stage`` atomically (temporary file, fsync, rename)."""
    return atomic_write(stage_path(directory, stage), lambda f: torch.save(state, f), durable=True)


def available(directory: Path) -> list[int]:
    """Stages that have a checkpoint file, ascending."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(int(m.group(1)) for p in directory.iterdir() if (m := PATTERN.search(p.name)))


def load(directory: Path, stage: int | None = None) -> dict[str, Any] | None:
    """The checkpoint of ``stage`` (default: the last one), or None if there is none.

    A file that cannot be read raises :class:`CheckpointError` naming it and the earlier
    checkpoints to resume from instead; nothing is deleted.
    """
    stages = available(directory)
    if not stages:
        return None
    if stage is None:
        stage = stages[-1]
    elif stage not in stages:
        raise CheckpointError(f"no checkpoint for stage {stage} in {directory}; valid resume_from: {', '.join(map(str, stages))}")
    path = stage_path(directory, stage)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("stage") != stage:
            raise ValueError("not a robot_cl stage checkpoint")
    except Exception as e:
        earlier = [s for s in stages if s < stage]
        hint = f"resume_from={earlier[-1]} (or another of {', '.join(map(str, earlier))})" if earlier else "a new hydra.run.dir"
        reason = str(e).splitlines()[0][:160] if str(e) else ""
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(e).__name__}: {reason}); valid choices: {hint}") from None
    return state
