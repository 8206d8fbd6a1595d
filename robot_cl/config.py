"""Small helpers to read YAML configs and apply overrides with key checking."""

from __future__ import annotations

import copy
import hashlib
import json
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


OPEN_SECTIONS = {"entities", "objects", "init", "shifts"}


def _merge_open(base: dict, override: Mapping, where: str) -> dict:
    if where.rsplit(".", 1)[-1] in OPEN_SECTIONS:
        out = copy.deepcopy(base)
        for k, v in override.items():
            out[k] = _merge_open(out[k], v, f"{where}.{k}") if isinstance(out.get(k), dict) and isinstance(v, Mapping) else copy.deepcopy(v)
        return out
    return merge(base, override, where)


# Top-level keys of a run's config that do not change its results (a run may be resumed with other
# values). ``threads`` is not one: torch splits reductions by thread count, which changes the numbers.
NON_RESULT_KEYS = ("resume", "resume_from", "workers", "progress", "device", "run_name", "cache_dir")


def result_config(cfg: Mapping[str, Any], seed: bool = True) -> dict[str, Any]:
    """The part of a run's config that changes its results (``seed=False`` also drops the seed: what
    the runs of one configuration over several seeds share)."""
    out = {k: v for k, v in cfg.items() if k not in NON_RESULT_KEYS and (seed or k != "seed")}
    # How RL environments are spread over processes does not change the transitions (tests/test_rl.py).
    out["learner"] = {k: v for k, v in cfg["learner"].items() if k not in ("asynchronous", "workers")}
    out["eval"] = {k: v for k, v in cfg["eval"].items() if k != "video"}
    return out


def config_hash(cfg: Mapping[str, Any], seed: bool = True) -> str:
    """Hash of :func:`result_config` (resume refuses a run dir made with another config)."""
    return hashlib.sha1(json.dumps(result_config(cfg, seed), sort_keys=True, default=str).encode()).hexdigest()[:16]
