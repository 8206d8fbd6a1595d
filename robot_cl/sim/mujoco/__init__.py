"""The MuJoCo simulator backend (registered as ``sim.backend: mujoco``)."""

from robot_cl.sim.mujoco.backend import MujocoBackend

__all__ = ["MujocoBackend"]
