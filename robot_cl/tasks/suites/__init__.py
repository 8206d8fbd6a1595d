"""Task suites: named families of external tasks that fill in a task's config (``suite: <name>``).

A suite registers itself with :func:`register_suite` when its module is imported; a curriculum task
that names it (``curriculum.task_defaults.suite: metaworld``, or per task) gets the suite's env id,
experts and the module to import, and keeps any key it sets itself::

    tasks:
      hammer: {kwargs: {task: hammer-v3}}      # suite metaworld: env_id, expert, primitive_expert filled in
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from robot_cl.registry import Registry


@dataclass(frozen=True)
class TaskSuite:
    """A family of external tasks: ``defaults(name, spec)`` gives the config keys it fills for one task."""

    name: str
    description: str
    defaults: Callable[[str, dict[str, Any]], dict[str, Any]]


TASK_SUITES: Registry = Registry("task suite")
register_suite = TASK_SUITES.register
