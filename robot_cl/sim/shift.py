"""Dynamics shifts (``sim.shift``): changed friction, heavier or bigger objects, weaker actuators, noisy
sensors — what a household robot meets every day, applied per episode on any backend.

Each key is a number (a fixed scale; ``obs_noise``: a standard deviation) or ``[low, high]`` (drawn
uniformly every episode). :func:`draw` turns the config into one episode's values; a backend applies
``friction``, ``mass``, ``size`` and ``gain`` to its model at reset, and the environment adds
``obs_noise`` to the observation (engine-free). A shift at its neutral values changes nothing and
draws no random number, so unshifted runs stay bit-identical.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from robot_cl.errors import ConfigError
from robot_cl.sim.backend import BACKENDS

# key -> (neutral value, what it scales, lowest valid value is > 0 for scales, >= 0 for noise)
SHIFT_KEYS: dict[str, tuple[float, str]] = {
    "friction": (1.0, "sliding friction of every contact surface"),
    "mass": (1.0, "mass and inertia of every movable scene body (objects, drawer, door, button, knob)"),
    "size": (1.0, "size of the free objects (cube, block, mug, bowl), their mass unchanged"),
    "gain": (1.0, "stiffness and damping of the robot's joint and gripper servos"),
    "obs_noise": (0.0, "standard deviation of Gaussian noise on every observation value"),
}
NEUTRAL = {k: v for k, (v, _) in SHIFT_KEYS.items()}
ENGINE_KEY = "backend"  # a named shift's change of engine (sim-to-sim)


def check(shift: dict[str, Any] | None, where: str = "sim.shift") -> dict[str, Any]:
    """The shift with every key (neutral where absent), or a one-line error naming the bad key or value."""
    shift = dict(shift or {})
    for key, value in shift.items():
        if key not in SHIFT_KEYS:
            raise ConfigError(f"unknown {where} key {key!r}; valid: {', '.join(SHIFT_KEYS)}")
        values = value if isinstance(value, (list, tuple)) else [value]
        ok = len(values) in (1, 2) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if ok and len(values) == 2:
            ok = values[0] <= values[1]
        floor_ok = ok and all((v >= 0) if key == "obs_noise" else (v > 0) for v in values)
        if not floor_ok:
            rule = ">= 0" if key == "obs_noise" else "> 0 (a scale)"
            raise ConfigError(f"{where}.{key} must be a number {rule} or [low, high] with low <= high, got {value!r}")
    return {**NEUTRAL, **shift}


def draw(shift: dict[str, Any] | None, rng: np.random.Generator) -> dict[str, float]:
    """One episode's values: fixed ones as they are, ranges drawn from ``rng`` (in ``SHIFT_KEYS`` order)."""
    shift = {**NEUTRAL, **(shift or {})}
    out = {}
    for key in SHIFT_KEYS:
        v = shift[key]
        out[key] = float(rng.uniform(v[0], v[1])) if isinstance(v, (list, tuple)) and v[0] != v[1] else float(np.ravel([v])[0])
    return out


def is_neutral(values: dict[str, float]) -> bool:
    return all(values[k] == NEUTRAL[k] for k in SHIFT_KEYS)


def check_named(name: str, spec: Any) -> None:
    """One entry of the library ``sim.shifts``: dynamics keys (:func:`check`) and, for a sim-to-sim shift,
    ``backend`` (the same skills on another engine, e.g. ``to_pybullet``); one line naming a bad key or value."""
    if not isinstance(spec, dict):
        raise ConfigError(f"sim.shifts.{name} must map sim.shift keys (or backend) to values, got {spec!r}")
    spec = dict(spec)
    engine = spec.pop(ENGINE_KEY, None)
    if engine is not None and engine not in BACKENDS:
        raise ConfigError(f"sim.shifts.{name}.backend: unknown simulator backend {engine!r}; valid: {', '.join(BACKENDS)}")
    check(spec, where=f"sim.shifts.{name}")


def named(sim_cfg: dict, names: list[str]) -> dict[str, dict[str, Any]]:
    """The shifts ``names`` (``eval.shifts``) from the library ``sim.shifts``, in order; an unknown name
    (or a bad entry, :func:`check_named`) is one line listing the valid ones."""
    library = sim_cfg.get("shifts") or {}
    for n in names:
        if n not in library:
            raise ConfigError(f"eval.shifts names {n!r}, which is not in sim.shifts; valid: {', '.join(library) or 'none'}")
        check_named(n, library[n])
    return {n: dict(library[n]) for n in names}


def shifted_sim(sim_cfg: dict, spec: dict[str, Any]) -> dict[str, Any]:
    """The sim config under a named shift: its dynamics keys over ``sim.shift``, its ``backend`` (if any) over ``sim.backend``."""
    spec = dict(spec)
    engine = spec.pop(ENGINE_KEY, None)
    out = {**sim_cfg, "shift": {**(sim_cfg.get("shift") or {}), **spec}}
    if engine is not None:
        out["backend"] = engine
    return out
