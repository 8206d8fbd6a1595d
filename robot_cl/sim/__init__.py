"""The household simulator: an engine-free Gymnasium environment (:mod:`.env`) over a simulator backend
(:mod:`.backend` says what one provides; :mod:`.mujoco` and :mod:`.pybullet` are built in)."""

from robot_cl.sim.backend import BACKENDS, Backend, SceneQueries, register_backend

__all__ = ["BACKENDS", "Backend", "SceneQueries", "register_backend"]
