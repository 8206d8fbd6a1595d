"""Where the project's data lives: scene assets, skill definitions and configs."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SIMS_DIR = REPO_ROOT / "sims"
SKILLS_DIR = REPO_ROOT / "skills"
CONFIGS_DIR = REPO_ROOT / "configs"
VIDEOS_DIR = REPO_ROOT / "videos"


def resolve(path: str | os.PathLike) -> Path:
    """An absolute path as is; a relative one against the repository root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else REPO_ROOT / p


def skill_dirs() -> list[Path]:
    """Folders searched for skill files: ``skills/`` plus ``$ROBOT_CL_SKILL_PATH`` (os.pathsep-separated)."""
    extra = [Path(p) for p in os.environ.get("ROBOT_CL_SKILL_PATH", "").split(os.pathsep) if p]
    return [SKILLS_DIR, *extra]
