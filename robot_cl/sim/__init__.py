"""The household simulator: an engine-free Gymnasium environment (:mod:`.env`) over a simulator backend
(:mod:`.backend` says what one provides; :mod:`.mujoco` and :mod:`.pybullet` are built in)."""

from robot_cl.sim import mujoco as _mujoco  # noqa: F401  (registers the built-in backends)
from robot_cl.sim import pybullet as _pybullet  # noqa: F401
from robot_cl.sim.backend import BACKENDS, Backend, SceneQueries, register_backend

__all__ = ["BACKENDS", "Backend", "SceneQueries", "register_backend"]
