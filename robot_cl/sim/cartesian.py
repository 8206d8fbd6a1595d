"""Engine-free Cartesian control math shared by every backend's controller: the gripper's yaw, the
downward target frame, the orientation error and one damped least-squares IK step with a null-space pull.
Each backend supplies the Jacobian and the measured state from its own engine."""

from __future__ import annotations

import math

import numpy as np


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


def dls_step(jac: np.ndarray, err: np.ndarray, q: np.ndarray, q_home: np.ndarray, lam2_eye: np.ndarray, null_gain: float) -> np.ndarray:
    """Joint step of damped least-squares IK towards the 6-D error ``err``, plus a pull towards ``q_home``
    projected into the null space: ``J^T (J J^T + l^2 I)^-1 (e - J v) + v`` with ``v = null_gain (q_home - q)``."""
    pull = null_gain * (q_home - q)
    rhs = np.stack((err, jac @ pull), axis=1)
    x = np.linalg.solve(jac @ jac.T + lam2_eye, rhs)
    return jac.T @ (x[:, 0] - x[:, 1]) + pull


class DeltaIK:
    """The action semantics every backend's Cartesian controller shares, from the ``controller`` section
    of the sim config: a raw action ``[dx, dy, dz, dyaw, grip]`` moves the target from the *measured*
    tool pose (delta semantics, as robosuite's OSC "delta" mode: a zero action holds still and nothing
    winds up when the hand is blocked), inside the workspace and yaw range; one damped least-squares
    step from the measured joints gives joint position and velocity targets, clipped to the limits.
    A backend supplies the measured pose, joints and Jacobian from its engine."""

    def __init__(self, cfg: dict, q_lo: np.ndarray, q_hi: np.ndarray) -> None:
        margin = cfg["limit_margin"]
        self.q_lo, self.q_hi = np.asarray(q_lo, dtype=float) + margin, np.asarray(q_hi, dtype=float) - margin
        self.pos_step = float(cfg["pos_step"])
        self.yaw_step = float(cfg["yaw_step"])
        self.rot_gain = float(cfg["rot_gain"])
        self.null_gain = float(cfg["nullspace_gain"])
        self.max_dq = float(cfg["max_dq"])
        self.convergence_time = float(cfg["convergence_time"])
        self.workspace_lo = np.array(cfg["workspace_low"], dtype=float)
        self.workspace_hi = np.array(cfg["workspace_high"], dtype=float)
        self.yaw_lo, self.yaw_hi = cfg["yaw_range"]
        self.q_home = np.array(cfg["home_qpos"], dtype=float)
        self._lam2_eye = float(cfg["damping"]) ** 2 * np.eye(6)
        self._err = np.zeros(6)
        self.target_pos = np.zeros(3)
        self.target_yaw = 0.0

    def latch(self, pos: np.ndarray, xmat: np.ndarray) -> None:
        """Hold the current tool pose (after an episode's initial state is set)."""
        self.target_pos, self.target_yaw = np.array(pos, dtype=float), yaw_of(xmat)

    def targets(self, pos: np.ndarray, xmat: np.ndarray, action: np.ndarray) -> float:
        """Set ``target_pos``/``target_yaw`` from the measured pose and one action; returns the gripper's
        opening target in [0, 1] (the action's grip: -1 fully open ... +1 fully closed)."""
        a = np.clip(action, -1.0, 1.0)
        self.target_pos = np.clip(pos + a[:3] * self.pos_step, self.workspace_lo, self.workspace_hi)
        self.target_yaw = min(self.yaw_hi, max(self.yaw_lo, yaw_of(xmat) + float(a[3]) * self.yaw_step))
        return 0.5 * (1.0 - float(a[4]))

    def joint_targets(self, jac: np.ndarray, pos: np.ndarray, xmat: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One IK step from joints ``q`` (tool at ``pos``/``xmat``, 6 x 7 Jacobian ``jac``) towards the
        targets: joint position targets and the velocity feed-forward that reaches them in ``convergence_time``."""
        err = self._err
        err[:3] = self.target_pos - pos
        err[3:] = self.rot_gain * rotation_error(xmat, self.target_yaw)
        dq = np.clip(dls_step(jac, err, q, self.q_home, self._lam2_eye, self.null_gain), -self.max_dq, self.max_dq)
        q_cmd = np.clip(q + dq, self.q_lo, self.q_hi)
        return q_cmd, (q_cmd - q) / self.convergence_time
