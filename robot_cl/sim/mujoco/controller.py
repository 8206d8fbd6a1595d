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

import math

import mujoco
import numpy as np

from robot_cl.sim.mujoco.panda import ARM_JOINTS, MAX_FINGER


def yaw_of(xmat: np.ndarray) -> float:
    """Gripper yaw from the hand's rotation matrix (row-major 9-vector or 3x3).

    Yaw 0 means the hand's x axis points along world +x (fingers open along world y).
    """
    m = np.asarray(xmat).reshape(9)
    return math.atan2(m[3], m[0])


def down_rotation(yaw: float) -> np.ndarray:
    """Rotation matrix of a downward-pointing hand with the given yaw."""
    c, s = math.cos(yaw), math.sin(yaw)
    # Columns: hand x = (c, s, 0), hand y = (s, -c, 0), hand z = (0, 0, -1).
    return np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])


class CartesianController:
    """Differential-IK controller for a 7-DoF arm with a parallel gripper in a MuJoCo model."""

    def __init__(self, model: mujoco.MjModel, cfg: dict, site: str = "tcp") -> None:
        self.model = model
        self.site = model.site(site).id
        self.qadr = np.array([model.joint(j).qposadr[0] for j in ARM_JOINTS])
        self.dadr = np.array([model.joint(j).dofadr[0] for j in ARM_JOINTS])
        lo, hi = np.array([model.joint(j).range for j in ARM_JOINTS]).T
        margin = cfg["limit_margin"]
        self.q_lo, self.q_hi = lo + margin, hi - margin
        self.pos_step = float(cfg["pos_step"])
        self.yaw_step = float(cfg["yaw_step"])
        self.lam2 = float(cfg["damping"]) ** 2
        self.rot_gain = float(cfg["rot_gain"])
        self.null_gain = float(cfg["nullspace_gain"])
        self.max_dq = float(cfg["max_dq"])
        self.convergence_time = float(cfg["convergence_time"])
        self.workspace_lo = np.array(cfg["workspace_low"], dtype=float)
        self.workspace_hi = np.array(cfg["workspace_high"], dtype=float)
        self.yaw_lo, self.yaw_hi = cfg["yaw_range"]
        self.q_home = np.array(cfg["home_qpos"], dtype=float)
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self._jac = np.zeros((6, len(ARM_JOINTS)))
        self._err = np.zeros(6)
        self._lam2_eye = self.lam2 * np.eye(6)
        self.target_pos = np.zeros(3)
        self.target_yaw = 0.0

    def reset(self, data: mujoco.MjData) -> None:
        """Latch the target onto the current tool pose (call after setting the initial state)."""
        self.target_pos = data.site_xpos[self.site].copy()
        self.target_yaw = yaw_of(data.site_xmat[self.site])

    def apply(self, data: mujoco.MjData, action: np.ndarray) -> None:
        """Turn one raw action into actuator controls (``data.ctrl``)."""
        a = np.clip(action, -1.0, 1.0)
        # Delta semantics (as robosuite's OSC "delta" mode): the target is the measured pose plus the
        # commanded displacement, so a zero action holds still and nothing winds up when blocked.
        pos = data.site_xpos[self.site]
        tgt = pos + a[:3] * self.pos_step
        np.clip(tgt, self.workspace_lo, self.workspace_hi, out=tgt)
        self.target_pos = tgt
        yaw = yaw_of(data.site_xmat[self.site])
        self.target_yaw = min(self.yaw_hi, max(self.yaw_lo, yaw + float(a[3]) * self.yaw_step))

        q_cmd, qd_cmd = self.solve(data, tgt, self.target_yaw)
        n = len(self.qadr)
        data.ctrl[:n] = q_cmd
        data.ctrl[n : 2 * n] = qd_cmd
        # Gripper: -1 fully open ... +1 fully closed; the servo is force-limited.
        data.ctrl[2 * n] = (1.0 - float(a[4])) * MAX_FINGER

    def solve(self, data: mujoco.MjData, target_pos: np.ndarray, target_yaw: float) -> tuple[np.ndarray, np.ndarray]:
        """One damped least-squares IK step towards the target pose: joint position and velocity targets."""
        mujoco.mj_jacSite(self.model, data, self._jacp, self._jacr, self.site)
        jac = self._jac
        jac[:3] = self._jacp[:, self.dadr]
        jac[3:] = self._jacr[:, self.dadr]
        err = self._err
        err[:3] = target_pos - data.site_xpos[self.site]
        err[3:] = self.rot_gain * rotation_error(data.site_xmat[self.site], target_yaw)
        q = data.qpos[self.qadr]
        # dq = J^T (J J^T + l^2 I)^-1 e  plus the null-space pull  v - J^T (J J^T + l^2 I)^-1 J v.
        pull = self.null_gain * (self.q_home - q)
        rhs = np.stack((err, jac @ pull), axis=1)
        x = np.linalg.solve(jac @ jac.T + self._lam2_eye, rhs)
        dq = jac.T @ (x[:, 0] - x[:, 1]) + pull
        np.clip(dq, -self.max_dq, self.max_dq, out=dq)
        q_cmd = np.clip(q + dq, self.q_lo, self.q_hi)
        return q_cmd, (q_cmd - q) / self.convergence_time


def rotation_error(xmat: np.ndarray, yaw: float) -> np.ndarray:
    """Small-angle rotation vector taking the hand frame to the downward frame with ``yaw``.

    Equals ``0.5 * sum_i cur_i x des_i`` over the frames' columns, written out for speed.
    """
    m = xmat  # row-major 3x3: m[3*r + c]
    c, s = math.cos(yaw), math.sin(yaw)
    # Desired columns: x = (c, s, 0), y = (s, -c, 0), z = (0, 0, -1).
    x0, x1, x2 = m[0], m[3], m[6]
    y0, y1, y2 = m[1], m[4], m[7]
    z0, z1, z2 = m[2], m[5], m[8]
    ex = (x1 * 0.0 - x2 * s) + (y1 * 0.0 - y2 * -c) + (z1 * -1.0 - z2 * 0.0)
    ey = (x2 * c - x0 * 0.0) + (y2 * s - y0 * 0.0) + (z2 * 0.0 - z0 * -1.0)
    ez = (x0 * s - x1 * c) + (y0 * -c - y1 * s) + (z0 * 0.0 - z1 * 0.0)
    return np.array((0.5 * ex, 0.5 * ey, 0.5 * ez))
