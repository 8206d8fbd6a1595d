"""The PyBullet simulator backend (registered as ``sim.backend: pybullet``; preset ``sim=household_pybullet``)."""

from robot_cl.sim.pybullet.backend import PybulletBackend

__all__ = ["PybulletBackend"]
