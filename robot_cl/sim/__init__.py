"""The household simulator: an engine-free Gymnasium environment (:mod:`.env`) over a simulator backend
(:mod:`.backend` says what one provides; :mod:`.mujoco` is the built-in one)."""

from robot_cl.sim import mujoco as _mujoco  # noqa: F401  (registers the built-in backend)
from robot_cl.sim.backend import BACKENDS, Backend, SceneQueries, register_backend

__all__ = ["BACKENDS", "Backend", "SceneQueries", "register_backend"]
