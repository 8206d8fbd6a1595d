"""The PyBullet backend (``sim=household_pybullet``): the kitchen converted from the MuJoCo scene file
(:mod:`.build`), the Panda from ``pybullet_data`` (:mod:`.panda`), the same Cartesian action semantics
(:class:`robot_cl.sim.cartesian.DeltaIK` over PyBullet's position motors), and TinyRenderer images.

Engine-specific settings are the ``pybullet`` section of ``configs/sim/household.yaml``: PyBullet's motor
gains are dimensionless (the share of the error its constraint solver removes per step), not the MuJoCo
servos' N m / rad.
"""

from __future__ import annotations

import math

import numpy as np
import pybullet as pb

from robot_cl.sim.backend import register_backend
from robot_cl.sim.cartesian import DeltaIK
from robot_cl.sim.panda import MAX_FINGER, TCP_OFFSET
from robot_cl.sim.pybullet.build import set_passive
from robot_cl.sim.pybullet.scene import PybulletScene


@register_backend
class PybulletBackend:
    """The household kitchen in PyBullet (the :class:`robot_cl.sim.backend.Backend` protocol)."""

    name = "pybullet"

    def __init__(self, cfg: dict) -> None:
        self.cfg, self.pcfg = cfg, cfg["pybullet"]
        self.c = pb.connect(pb.DIRECT)
        self.frame_skip = int(cfg["frame_skip"])
        self.control_dt = float(cfg["timestep"]) * self.frame_skip
        pb.setPhysicsEngineParameter(
            fixedTimeStep=self.control_dt,
            numSubSteps=self.frame_skip,  # one call: frame_skip physics steps of sim.timestep
            numSolverIterations=int(self.pcfg["solver_iterations"]),
            deterministicOverlappingPairs=1,
            enableConeFriction=int(bool(self.pcfg["cone_friction"])),
            contactBreakingThreshold=float(self.pcfg["contact_breaking_threshold"]),
            physicsClientId=self.c,
        )
        pb.setGravity(0.0, 0.0, -9.81, physicsClientId=self.c)
        self.scene = PybulletScene(self.c, cfg)
        sc = self.scene
        lo, hi = zip(*(pb.getJointInfo(sc.robot, j, physicsClientId=self.c)[8:10] for j in sc.arm), strict=True)
        self.ik = DeltaIK({**cfg["controller"], "home_qpos": cfg["robot"]["home_qpos"]}, np.array(lo), np.array(hi))
        self.effort = [pb.getJointInfo(sc.robot, j, physicsClientId=self.c)[10] for j in sc.arm]
        self.movable = [
            j
            for j in range(pb.getNumJoints(sc.robot, physicsClientId=self.c))
            if pb.getJointInfo(sc.robot, j, physicsClientId=self.c)[2] != pb.JOINT_FIXED
        ]
        self._zeros = [0.0] * len(self.movable)
        # the Jacobian's point, the tool centre, in the hand's centre-of-mass frame (a constant offset)
        inertial = pb.getLinkState(sc.robot, sc.hand, physicsClientId=self.c)[2:4]
        self._tcp_local = pb.multiplyTransforms(*pb.invertTransform(*inertial), (0.0, 0.0, TCP_OFFSET), (0.0, 0.0, 0.0, 1.0))[0]
        self.current = {"friction": 1.0, "mass": 1.0, "size": 1.0, "gain": 1.0}  # the shift the scene has now
        self._surfaces()
        self._saved = pb.saveState(physicsClientId=self.c)
        cams = sc.world.model
        self._cameras = {cams.camera(i).name: i for i in range(cams.ncam)}
        self._projections: dict[tuple[int, int, str], list] = {}

    # -- the backend protocol ------------------------------------------------------------------
    @property
    def servo_gain(self) -> float:
        """The gain shift the scene has now: it scales every robot motor gain."""
        return self.current["gain"]

    def apply_shift(self, values: dict[str, float]) -> None:
        """Friction, mass, object size and servo gain scales, relative to the unshifted scene."""
        key = {k: values[k] for k in ("friction", "mass", "size", "gain")}
        if key == self.current:
            return
        if key["size"] != self.current["size"]:
            self.scene.rebuild_objects(key["size"])
        self.current = key
        self._surfaces()
        pb.removeState(self._saved, physicsClientId=self.c)
        self._saved = pb.saveState(physicsClientId=self.c)

    def _surfaces(self) -> None:
        """Friction of every link and mass of every movable scene body, from the unshifted values and the shift."""
        c, sc = self.c, self.scene
        f = math.sqrt(self.current["friction"])  # PyBullet multiplies the two surfaces' coefficients
        mass = self.current["mass"]
        spin = float(self.pcfg["spinning_friction"])
        for part in sc.world.parts.values():
            pb.changeDynamics(part.uid, part.link, lateralFriction=part.friction * f, spinningFriction=spin, physicsClientId=c)
            if part.mass > 0:
                inertia = [v * mass for v in part.inertia]
                pb.changeDynamics(part.uid, part.link, mass=part.mass * mass, localInertiaDiagonal=inertia, physicsClientId=c)
        for link in sc.robot_links.values():
            finger = link in sc.finger_links
            base = float(self.pcfg["finger_friction"] if finger else self.pcfg["robot_friction"])
            pb.changeDynamics(sc.robot, link, lateralFriction=base * f, spinningFriction=spin, physicsClientId=c)

    def reset(self, rng: np.random.Generator, skill) -> None:
        sc = self.scene
        sc.reset(rng, skill, self._saved)
        set_passive(self.c, sc.world)
        pos, xmat = sc.tool_pose()
        self.ik.latch(pos, xmat)
        self._hold()

    def _hold(self) -> None:
        """Servo targets at the current posture (a fresh episode starts at rest)."""
        sc = self.scene
        q = [s[0] for s in pb.getJointStates(sc.robot, sc.arm, physicsClientId=self.c)]
        self._motors(q, [0.0] * len(q), 1.0)

    def _motors(self, q_cmd, qd_cmd, opening: float) -> None:
        sc, p, g = self.scene, self.pcfg, self.servo_gain
        n = len(sc.arm)
        pb.setJointMotorControlArray(
            sc.robot,
            sc.arm,
            pb.POSITION_CONTROL,
            targetPositions=list(q_cmd),
            targetVelocities=list(qd_cmd),
            forces=self.effort,
            positionGains=[float(p["arm_position_gain"]) * g] * n,
            velocityGains=[float(p["arm_velocity_gain"]) * g] * n,
            physicsClientId=self.c,
        )
        pb.setJointMotorControlArray(
            sc.robot,
            sc.fingers,
            pb.POSITION_CONTROL,
            targetPositions=[opening * MAX_FINGER] * 2,
            forces=[float(self.cfg["robot"]["gripper_force"])] * 2,
            positionGains=[float(p["gripper_position_gain"]) * g] * 2,
            physicsClientId=self.c,
        )

    def act(self, action: np.ndarray) -> None:
        sc = self.scene
        pos, xmat = sc.tool_pose()
        opening = self.ik.targets(pos, xmat, action)
        states = pb.getJointStates(sc.robot, self.movable, physicsClientId=self.c)
        q_all = [s[0] for s in states]
        jp, jr = pb.calculateJacobian(sc.robot, sc.hand, self._tcp_local, q_all, self._zeros, self._zeros, physicsClientId=self.c)
        n = len(sc.arm)
        jac = np.vstack((np.asarray(jp)[:, :n], np.asarray(jr)[:, :n]))
        q_cmd, qd_cmd = self.ik.joint_targets(jac, pos, xmat, np.array(q_all[:n]))
        self._motors(q_cmd, qd_cmd, opening)

    def step(self) -> None:
        pb.stepSimulation(physicsClientId=self.c)
        self.scene.forward(stepped=True)

    def tool(self) -> tuple[np.ndarray, float]:
        pos, m = self.scene.tool_pose()
        return pos, math.atan2(m[3], m[0])

    def render(self, camera: str, width: int, height: int) -> np.ndarray:
        """TinyRenderer (software, no OpenGL) from a camera of the scene file."""
        m, i = self.scene.world.model, self._cameras[camera]
        axes = m.cam_mat0[i].reshape(3, 3)  # columns: the camera's x, y, z in the world (it looks along -z)
        eye = m.cam_pos[i]
        view = pb.computeViewMatrix(eye.tolist(), (eye - axes[:, 2]).tolist(), axes[:, 1].tolist(), physicsClientId=self.c)
        key = (width, height, camera)
        if key not in self._projections:
            self._projections[key] = pb.computeProjectionMatrixFOV(float(m.cam_fovy[i]), width / height, 0.02, 6.0, physicsClientId=self.c)
        light = [float(v) for v in self.pcfg["light_direction"]]
        img = pb.getCameraImage(
            width,
            height,
            view,
            self._projections[key],
            lightDirection=light,
            shadow=1,
            renderer=pb.ER_TINY_RENDERER,
            flags=pb.ER_NO_SEGMENTATION_MASK,
            physicsClientId=self.c,
        )
        return np.asarray(img[2], dtype=np.uint8).reshape(height, width, 4)[:, :, :3].copy()

    def cameras(self) -> list[str]:
        return list(self._cameras)

    def close(self) -> None:
        if self.c is not None and pb.isConnected(self.c):
            pb.disconnect(self.c)
        self.c = None
