"""Where the project's data lives: the built-in configs, skills and scene assets, and the working folder.

In a checkout (or an editable install) the built-in data is the checkout's top-level ``configs/``,
``skills/`` and ``sims/`` and relative output paths (``outputs/``, ``.cache/``, ``videos/``) are
relative to the checkout. A non-editable install ships the same data inside the package
(``robot_cl/_data/``, see ``pyproject.toml``) and relative output paths are relative to the current
directory. Extra skill folders come from ``skills_dirs`` in the config or ``$ROBOT_CL_SKILL_PATH``.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT = PACKAGE_DIR.parent
IN_CHECKOUT = (_CHECKOUT / "pyproject.toml").exists() and (_CHECKOUT / "configs" / "config.yaml").exists()
DATA_ROOT = _CHECKOUT if IN_CHECKOUT else PACKAGE_DIR / "_data"  # holds configs/, skills/, sims/
REPO_ROOT = _CHECKOUT if IN_CHECKOUT else Path.cwd()  # where relative output paths start
SIMS_DIR = DATA_ROOT / "sims"
SKILLS_DIR = DATA_ROOT / "skills"
CONFIGS_DIR = DATA_ROOT / "configs"
VIDEOS_DIR = REPO_ROOT / "videos"
SKILL_PATH_ENV = "ROBOT_CL_SKILL_PATH"


def resolve(path: str | os.PathLike) -> Path:
    """An output path: absolute as is; relative against the checkout (or, installed, the current directory)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else REPO_ROOT / p


def data_path(path: str | os.PathLike) -> Path:
    """A built-in asset (``sims/household/scene.xml``): absolute as is; relative against the built-in data."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else DATA_ROOT / p


def skill_dirs() -> list[Path]:
    """Folders searched for skill files: the built-in ``skills/`` plus ``$ROBOT_CL_SKILL_PATH`` (os.pathsep-separated)."""
    extra = [Path(p) for p in os.environ.get(SKILL_PATH_ENV, "").split(os.pathsep) if p]
    return [SKILLS_DIR, *extra]


def add_skill_dirs(dirs: list[str | os.PathLike]) -> None:
    """Add folders to the skill search path, for this process and the worker processes it starts."""
    current = [p for p in os.environ.get(SKILL_PATH_ENV, "").split(os.pathsep) if p]
    new = [str(resolve(d)) for d in dirs if str(resolve(d)) not in current]
    if new:
        os.environ[SKILL_PATH_ENV] = os.pathsep.join([*current, *new])
