"""Skills: what the robot is asked to do, defined one per file under ``skills/``.

A skill is a small class (see ``skills/press_button.py`` for the shortest one) with

* ``name``, ``description`` and the scene ``elements`` it involves;
* ``observe``: up to two scene entities placed in the observation's object slots;
* ``config``: its defaults -- ``max_steps``, the initial-state distribution ``init`` and any
  thresholds -- overridable per environment (``robot_cl.make(name, skill_config={...})``);
* ``goal(s)``: a 4-vector (position + scalar) appended to the observation;
* ``success(s)``: the success predicate; ``reward(s)``: a dense reward in [0, 1] built from
  stages (:func:`staged`);
* ``expert(s)``: a scripted expert, written as a program of motion primitives (a generator that
  yields primitives and receives their results, re-reading the scene before each decision).

``s`` is the simulator backend's scene (:class:`robot_cl.sim.backend.SceneQueries`: positions, joint values,
contacts, ``s.goal``), so a skill runs on every backend.

Skill files are discovered in ``skills/`` and in the folders listed in ``$ROBOT_CL_SKILL_PATH``;
each registers its class with :func:`register_skill`. Adding a skill never touches this module.
"""

from __future__ import annotations

import copy
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from robot_cl.config import merge
from robot_cl.errors import SkillError, choices
from robot_cl.paths import skill_dirs
from robot_cl.registry import Registry

if TYPE_CHECKING:
    from robot_cl.primitives import Program
    from robot_cl.sim.backend import SceneQueries as Scene


def staged(*progress: float) -> float:
    """Dense reward in [0, 1] from ordered stage completions, each in [0, 1].

    Stage k counts only once stages 0..k-1 are complete: the reward is
    ``(number of completed leading stages + progress of the first incomplete one) / n``.
    """
    for done, p in enumerate(progress):
        p = min(max(float(p), 0.0), 1.0)
        if p < 1.0:
            return (done + p) / len(progress)
    return 1.0


def near(distance: float, tolerance: float, scale: float) -> float:
    """1 within ``tolerance``, then falling smoothly: ``1 - tanh((distance - tolerance) / scale)``."""
    return 1.0 if distance <= tolerance else 1.0 - float(np.tanh((distance - tolerance) / scale))


class Skill:
    """Base class of all skills; see the module docstring."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    elements: ClassVar[tuple[str, ...]] = ()
    observe: ClassVar[tuple[str, ...]] = ()
    config: ClassVar[dict[str, Any]] = {"max_steps": 200, "init": {}}
    # Primitive name -> scene points (sites or bodies) where calling it can make progress. RL in primitive
    # space may pay a small bonus for calls aimed near one (``primitive_env.affordance``; MAPLE's affordance
    # reward, Nasiriany et al. 2022). Optional: a skill without it simply gets no bonus.
    affordances: ClassVar[dict[str, tuple[str, ...]]] = {}
    # Scene queries beyond :class:`robot_cl.sim.SceneQueries` that this skill calls (an accessor one
    # backend adds, e.g. a contact force): a backend whose scene lacks one refuses the skill in one line.
    queries: ClassVar[tuple[str, ...]] = ()

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        self.cfg = merge(self.default_config(), overrides, where=f"skill {self.name}")

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        """The skill's defaults (a fresh copy)."""
        base = {"max_steps": 200, "init": {}}
        base.update(copy.deepcopy(cls.config))
        return base

    @property
    def max_steps(self) -> int:
        return int(self.cfg["max_steps"])

    # -- episode set-up ------------------------------------------------------------------------
    def initial_state(self, s: Scene, rng: np.random.Generator) -> None:
        """Sample the initial state from ``cfg["init"]``.

        Keys are joint names (value: ``[low, high]``) or free objects / the ``target`` marker
        (value: ``{"x": [lo, hi], "y": [lo, hi], "yaw": [lo, hi]}``). Objects are kept apart by
        their footprint radii (rejection sampling).
        """
        placed: list[tuple[np.ndarray, float]] = []
        for key, spec in self.cfg["init"].items():
            if s.has_joint(key):
                s.set_joint(key, rng.uniform(*spec))
            else:
                self.place(s, rng, key, spec, placed)
        s.forward()  # so that overrides calling super() first read the sampled positions

    def place(self, s: Scene, rng: np.random.Generator, body: str, spec: dict, placed: list) -> np.ndarray:
        """Place ``body`` uniformly in the box ``spec``, away from bodies already ``placed``."""
        radius = s.radius(body)
        for _ in range(200):
            xy = np.array([rng.uniform(*spec["x"]), rng.uniform(*spec["y"])])
            if all(np.linalg.norm(xy - q) >= radius + r for q, r in placed):
                break
        yaw = rng.uniform(*spec["yaw"]) if "yaw" in spec else 0.0
        s.place(body, xy, yaw)
        placed.append((xy, radius))
        return xy

    def goal(self, s: Scene) -> np.ndarray:
        """Goal vector (x, y, z, scalar) for this episode, computed after the initial state."""
        return np.zeros(4)

    # -- task definition -----------------------------------------------------------------------
    def success(self, s: Scene) -> bool:
        raise NotImplementedError

    def reward(self, s: Scene) -> float:
        raise NotImplementedError

    def expert(self, s: Scene) -> Program:
        raise NotImplementedError

    # -- checks --------------------------------------------------------------------------------
    def validate(self, s: Scene, backend: str = "this") -> None:
        """Check names and extra scene queries against the scene; raises :class:`SkillError` naming the problem."""
        where = f"skill {self.name!r} ({source_of(type(self))})"
        for q in self.queries:
            if not callable(getattr(s, q, None)):
                provided = sorted(n for n in dir(s) if not n.startswith("_") and callable(getattr(s, n, None)))
                raise SkillError(
                    f"{where}: uses scene query {q!r}, which the {backend} backend does not provide; valid: {choices(provided)}"
                )
        for e in self.elements:
            if not s.has_element(e):
                raise SkillError(f"{where}: unknown scene element {e!r}; valid: {choices(s.element_names())}")
        if len(self.observe) > 2:
            raise SkillError(f"{where}: observes {len(self.observe)} entities, at most 2 fit the observation")
        for e in self.observe:
            if e not in s.entities:
                raise SkillError(f"{where}: unknown entity {e!r} in observe; valid: {choices(s.entities)}")
        for key in self.cfg["init"]:
            if not (s.has_joint(key) or s.is_placeable(key)):
                raise SkillError(
                    f"{where}: init key {key!r} is neither a joint nor a free object; "
                    f"valid: {choices(s.joint_names() + s.placeable_names())}"
                )


def source_of(cls: type) -> str:
    try:
        return str(Path(inspect.getfile(cls)).name)
    except (TypeError, OSError):
        return cls.__module__


def _check_skill(name: str, cls: type[Skill]) -> None:
    """What a skill class must have before it is registered (one-line :class:`SkillError` otherwise)."""
    where = source_of(cls)
    if not (isinstance(cls, type) and issubclass(cls, Skill)):
        raise SkillError(f"{where}: register_skill expects a Skill subclass, got {cls!r}")
    if not name.isidentifier():
        raise SkillError(f"{where}: skill class {cls.__name__} needs a `name` that is a valid identifier, got {name!r}")
    for method in ("success", "reward", "expert"):
        if getattr(cls, method) is getattr(Skill, method):
            raise SkillError(f"{where}: skill {name!r} does not define {method}()")
    if not isinstance(cls.config.get("max_steps", 200), int) or cls.config.get("max_steps", 200) <= 0:
        raise SkillError(f"{where}: skill {name!r} max_steps must be a positive integer")
    old = SKILLS.get(name)
    if old is not None and source_of(old) != where:
        raise SkillError(f"{where}: skill name {name!r} is already defined in {source_of(old)}")


SKILLS: Registry = Registry("skill", error=SkillError, check=_check_skill)
register_skill = SKILLS.register  # class decorator: make a skill available by name
_LOADED: set[Path] = set()


def load_skill_file(path: Path) -> None:
    """Import one skill file (once); it must register at least one skill. Its folder is importable
    while it loads, so it may import helper modules beside it (files named ``_*.py``)."""
    path = path.resolve()
    if path in _LOADED:
        return
    _LOADED.add(path)
    module_name = f"robot_cl_skills.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    before = len(SKILLS)
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))  # appended: a helper never shadows an installed module
    try:
        spec.loader.exec_module(module)
        if len(SKILLS) == before:
            raise SkillError(f"{path} defines no skill (@register_skill); name helper modules beside skills with a leading '_'")
    except Exception as e:
        _LOADED.discard(path)
        sys.modules.pop(module_name, None)
        if isinstance(e, SkillError):
            raise
        raise SkillError(f"cannot load skill file {path}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e


def load_skills(dirs: list[Path] | None = None) -> dict[str, type[Skill]]:
    """Import every skill file (``*.py`` not starting with ``_``) in the skill folders; returns the registry."""
    for d in dirs or skill_dirs():
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.py")):
            if not path.name.startswith("_"):
                load_skill_file(path)
    return SKILLS


def get_skill(name: str) -> type[Skill]:
    """The skill class registered under ``name``; a one-line error lists the valid names."""
    load_skills()
    return SKILLS[name]


def list_skills() -> list[str]:
    """Names of all available skills, sorted."""
    return sorted(load_skills())
