"""Small helpers to read YAML configs and apply overrides with key checking."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from robot_cl.errors import ConfigError, choices


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML file into plain Python containers (interpolations resolved)."""
    try:
        cfg = OmegaConf.load(path)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except Exception as e:  # yaml syntax errors carry multi-line text
        raise ConfigError(f"malformed config file {path}: {str(e).splitlines()[0]}") from None
    return OmegaConf.to_container(cfg, resolve=True)


def merge(base: Mapping[str, Any], override: Mapping[str, Any] | None, where: str = "config") -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base``; unknown keys are an error.

    Dict values merge recursively, anything else is replaced. A key whose base value is a dict
    of free-form entries (``entities``, ``objects``, ``init``) may gain new keys.
    """
    out = copy.deepcopy(dict(base))
    for key, value in (override or {}).items():
        if key not in out:
            raise ConfigError(f"unknown {where} key {key!r}; valid: {choices(out)}")
        if isinstance(out[key], dict) and isinstance(value, Mapping):
            out[key] = _merge_open(out[key], value, f"{where}.{key}")
        else:
            out[key] = copy.deepcopy(value)
    return out


OPEN_SECTIONS = {"entities", "objects", "init"}


def _merge_open(base: dict, override: Mapping, where: str) -> dict:
    if where.rsplit(".", 1)[-1] in OPEN_SECTIONS:
        out = copy.deepcopy(base)
        for k, v in override.items():
            out[k] = _merge_open(out[k], v, f"{where}.{k}") if isinstance(out.get(k), dict) and isinstance(v, Mapping) else copy.deepcopy(v)
        return out
    return merge(base, override, where)
