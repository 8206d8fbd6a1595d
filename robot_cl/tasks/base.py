"""What a curriculum task is: the :class:`TaskEnv` protocol every task environment provides, and the
expert runner that uses it.

A task env is what ``env.unwrapped`` is for a task's environment: a household skill's
:class:`robot_cl.sim.env.HouseholdEnv`, or an :class:`robot_cl.tasks.external.ExternalTask` around any
Gymnasium env. The runner, the primitive runner, primitive-space RL and evaluation use only this
protocol, so no code asks which kind of task it has.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from robot_cl.layout import ObsLayout
from robot_cl.primitives import EndEffector, PrimitiveRunner, Program, Trace


@runtime_checkable
class TaskEnv(Protocol):
    """What every curriculum task's (unwrapped) environment provides besides the Gymnasium API."""

    end_effector: EndEffector | None  # the primitive adapter (None: raw actions only)
    max_steps: int | None  # the task's time limit in control steps
    layout: ObsLayout | None  # where the observation holds tool, entities and goal (None: unknown)

    def expert(self) -> Program:
        """A fresh primitive program of the task's scripted expert, for an env that has just been reset."""

    def affordance_points(self) -> dict[str, list[np.ndarray]]:
        """Per primitive name, the current positions where calling it can make progress (may be empty)."""


def task_env(env: gym.Env) -> TaskEnv:
    """The task protocol of a (possibly wrapped) task environment."""
    return env.unwrapped


def run_expert(env: gym.Env, seed: int | None = None, stop_on_success: bool = False, on_step=None) -> Trace:
    """Reset ``env`` with ``seed`` and run its task's primitive-program expert; returns the :class:`Trace`."""
    obs, _ = env.reset(seed=seed)
    task = task_env(env)
    runner = PrimitiveRunner(env, task.end_effector, obs, on_step=on_step)
    return runner.run_program(task.expert(), stop_on_success=stop_on_success)
