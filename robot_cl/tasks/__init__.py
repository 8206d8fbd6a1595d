"""Curriculum tasks: household skills, or any Gymnasium environment described in config.

* :mod:`.base` -- the :class:`TaskEnv` protocol every task's environment provides (end effector,
  expert program, affordance points, observation layout) and :func:`run_expert`;
* :mod:`.curriculum` -- task configs, environments, sizes and the checks made before any work;
* :mod:`.external` -- :class:`ExternalTask`, which makes any Gymnasium env a task;
* :mod:`.suites` -- task suites that fill in a task's config (Meta-World: :mod:`.suites.metaworld`).
"""

from robot_cl.tasks.base import TaskEnv, run_expert, task_env
from robot_cl.tasks.curriculum import check_scene_fit, io_spec, is_external, make_env, task_configs, validate_curriculum
from robot_cl.tasks.external import ExternalTask, check_external, load_expert, load_object, make_external
from robot_cl.tasks.suites import TASK_SUITES, TaskSuite, register_suite
from robot_cl.tasks.suites import metaworld as _metaworld  # noqa: F401  (registers the built-in suite and its env id)

__all__ = [
    "TASK_SUITES",
    "ExternalTask",
    "TaskEnv",
    "TaskSuite",
    "check_external",
    "check_scene_fit",
    "io_spec",
    "is_external",
    "load_expert",
    "load_object",
    "make_env",
    "make_external",
    "register_suite",
    "run_expert",
    "task_configs",
    "task_env",
    "validate_curriculum",
]
