"""Cartesian end-effector controller: damped least-squares differential IK over joint servos.

A raw action ``[dx, dy, dz, dyaw, grip]`` in ``[-1, 1]`` asks for a Cartesian displacement of the
tool from where it is now (position and yaw; the gripper always points down). Every control step
the controller solves one damped least-squares IK step from the *measured* joint state towards
that target, adds a null-space pull towards the home posture, clips to the joint limits and hands
the result to the arm's joint position and velocity servos (``robot_cl.sim.mujoco.panda``). The target leads the measured tool
centre point by one step (delta semantics), which bounds contact forces when the hand is blocked.

Gains and step sizes come from the ``controller`` section of ``configs/sim/household.yaml``.
"""

from __future__ import annotations

import mujoco
import numpy as np

from robot_cl.sim.cartesian import DeltaIK, yaw_of
from robot_cl.sim.mujoco.panda import ARM_JOINTS, MAX_FINGER

__all__ = ["CartesianController", "yaw_of"]


class CartesianController(DeltaIK):
    """Differential-IK controller for a 7-DoF arm with a parallel gripper in a MuJoCo model."""

    def __init__(self, model: mujoco.MjModel, cfg: dict, site: str = "tcp") -> None:
        lo, hi = np.array([model.joint(j).range for j in ARM_JOINTS]).T
        super().__init__(cfg, lo, hi)
        self.model = model
        self.site = model.site(site).id
        self.qadr = np.array([model.joint(j).qposadr[0] for j in ARM_JOINTS])
        self.dadr = np.array([model.joint(j).dofadr[0] for j in ARM_JOINTS])
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self._jac = np.zeros((6, len(ARM_JOINTS)))

    def reset(self, data: mujoco.MjData) -> None:
        """Latch the target onto the current tool pose (call after setting the initial state)."""
        self.latch(data.site_xpos[self.site], data.site_xmat[self.site])

    def apply(self, data: mujoco.MjData, action: np.ndarray) -> None:
        """Turn one raw action into actuator controls (``data.ctrl``)."""
        opening = self.targets(data.site_xpos[self.site], data.site_xmat[self.site], action)
        q_cmd, qd_cmd = self.solve(data, self.target_pos, self.target_yaw)
        n = len(self.qadr)
        data.ctrl[:n] = q_cmd
        data.ctrl[n : 2 * n] = qd_cmd
        data.ctrl[2 * n] = opening * 2 * MAX_FINGER  # the gripper tendon (both fingers); the servo is force-limited

    def solve(self, data: mujoco.MjData, target_pos: np.ndarray, target_yaw: float) -> tuple[np.ndarray, np.ndarray]:
        """One damped least-squares IK step towards the target pose: joint position and velocity targets."""
        mujoco.mj_jacSite(self.model, data, self._jacp, self._jacr, self.site)
        jac = self._jac
        jac[:3] = self._jacp[:, self.dadr]
        jac[3:] = self._jacr[:, self.dadr]
        self.target_pos, self.target_yaw = target_pos, target_yaw
        return self.joint_targets(jac, data.site_xpos[self.site], data.site_xmat[self.site], data.qpos[self.qadr])
