"""The one registry shape: skills, primitives, strategies, policies, learners, task suites and simulator
backends are each a :class:`Registry` -- a name -> object mapping filled by a ``register`` decorator,
whose lookup of an unknown name is a one-line error listing the valid names::

    POLICIES = Registry("policy")

    @POLICIES.register
    class MyPolicy(Policy):
        name = "mine"

    POLICIES["mine"]        # the class
    POLICIES["minx"]        # ConfigError: unknown policy 'minx'; valid: flat, hierarchical, mine
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from robot_cl.errors import ConfigError, RobotCLError, choices

T = TypeVar("T")


class Registry(dict):
    """Name -> registered object. ``register`` is a decorator (the object's ``name`` attribute names it)
    or a call with ``name=`` (one object under several names); a name registered twice keeps the last."""

    def __init__(self, kind: str, error: type[RobotCLError] = ConfigError, check: Callable[[str, Any], None] | None = None) -> None:
        super().__init__()
        self.kind, self.error, self.check = kind, error, check

    def register(self, obj: T | None = None, *, name: str | None = None) -> T | Callable[[T], T]:
        """``@registry.register`` or ``registry.register(obj, name="...")``; returns ``obj``."""

        def add(o: T) -> T:
            key = name if name is not None else getattr(o, "name", None)
            if not isinstance(key, str) or not key:
                raise self.error(f"cannot register {o!r} as a {self.kind}: it needs a `name` (a non-empty string)")
            if self.check is not None:
                self.check(key, o)
            self[key] = o
            return o

        return add if obj is None else add(obj)

    def __missing__(self, name: str):
        raise self.error(f"unknown {self.kind} {name!r}; valid: {choices(self)}")

    def names(self) -> list[str]:
        return sorted(self)
