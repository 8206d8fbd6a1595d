"""Franka Emika Panda, built into a MuJoCo spec from the URDF that ships with ``pybullet_data``.

The kinematic chain (link offsets, joint axes, joint limits, collision meshes) is read from
``pybullet_data/franka_panda/panda.urdf`` at run time; link masses, centres of mass and inertia
tensors are the identified ones of :mod:`robot_cl.sim.panda` (Gaz et al., RA-L 2019), not the URDF's
placeholders.

The arm is position-servoed (joint-space PD with gravity compensation on every link); the
Cartesian controller in :mod:`robot_cl.sim.mujoco.controller` turns end-effector commands into joint
targets. Gains live in ``configs/sim/household.yaml``.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from robot_cl.sim.panda import ARM_JOINTS, FINGER_JOINTS, GAZ_INERTIA, MAX_FINGER, TCP_OFFSET, urdf_path

__all__ = ["ARM_JOINTS", "FINGER_JOINTS", "GAZ_INERTIA", "MAX_FINGER", "TCP_OFFSET", "add_panda", "parse_urdf", "urdf_path"]

# Collision bits (see sims/household/scene.xml): robot geoms touch the scene, not each other.
ROBOT_CONTYPE = 2
ROBOT_CONAFFINITY = 1

LINK_RGBA = {
    "panda_link7": (0.25, 0.25, 0.27, 1.0),
    "panda_leftfinger": (0.25, 0.25, 0.27, 1.0),
    "panda_rightfinger": (0.25, 0.25, 0.27, 1.0),
}
DEFAULT_RGBA = (0.94, 0.94, 0.95, 1.0)


@dataclass
class UrdfJoint:
    name: str
    type: str
    parent: str
    child: str
    xyz: np.ndarray
    rpy: np.ndarray
    axis: np.ndarray
    limits: tuple[float, float] | None
    effort: float | None
    velocity: float | None


@dataclass
class UrdfLink:
    name: str
    mesh: str | None  # collision mesh file name (relative to the URDF folder)
    mesh_rpy: np.ndarray


def _floats(text: str | None, default: str) -> np.ndarray:
    return np.array([float(v) for v in (text or default).split()])


def parse_urdf(path: Path) -> tuple[dict[str, UrdfLink], list[UrdfJoint]]:
    """Read links (collision mesh) and joints (origin, axis, limits) of a URDF file."""
    root = ET.parse(path).getroot()
    links: dict[str, UrdfLink] = {}
    for link in root.iter("link"):
        mesh, rpy = None, np.zeros(3)
        col = link.find("collision")
        if col is not None and col.find("geometry/mesh") is not None:
            mesh = col.find("geometry/mesh").get("filename").replace("package://", "")
            origin = col.find("origin")
            rpy = _floats(origin.get("rpy") if origin is not None else None, "0 0 0")
        links[link.get("name")] = UrdfLink(link.get("name"), mesh, rpy)
    joints = []
    for j in root.iter("joint"):
        origin, limit, safety = j.find("origin"), j.find("limit"), j.find("safety_controller")
        limits = None
        if safety is not None and safety.get("soft_lower_limit") is not None:
            limits = (float(safety.get("soft_lower_limit")), float(safety.get("soft_upper_limit")))
        elif limit is not None and j.get("type") != "fixed":
            limits = (float(limit.get("lower")), float(limit.get("upper")))
        axis = j.find("axis")
        joints.append(
            UrdfJoint(
                name=j.get("name"),
                type=j.get("type"),
                parent=j.find("parent").get("link"),
                child=j.find("child").get("link"),
                xyz=_floats(origin.get("xyz") if origin is not None else None, "0 0 0"),
                rpy=_floats(origin.get("rpy") if origin is not None else None, "0 0 0"),
                axis=_floats(axis.get("xyz") if axis is not None else None, "1 0 0"),
                limits=limits,
                effort=float(limit.get("effort")) if limit is not None and limit.get("effort") else None,
                velocity=float(limit.get("velocity")) if limit is not None and limit.get("velocity") else None,
            )
        )
    return links, joints


def rpy_to_quat(rpy: np.ndarray) -> np.ndarray:
    """URDF roll-pitch-yaw (fixed-axis XYZ) to a MuJoCo (w, x, y, z) quaternion."""
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = (
        math.cos(r / 2),
        math.sin(r / 2),
        math.cos(p / 2),
        math.sin(p / 2),
        math.cos(y / 2),
        math.sin(y / 2),
    )
    return np.array([cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy])


def add_panda(spec: mujoco.MjSpec, mount: mujoco.MjsBody, cfg: dict) -> None:
    """Add the Panda arm and hand under ``mount`` in ``spec``.

    ``cfg`` is the ``robot`` section of the sim config (gains, damping, gripper force, pad
    friction). Adds a ``tcp`` site at the fingertip centre, a ``gripper`` tendon (finger opening
    in metres), one position actuator per arm joint and one for the gripper.
    """
    path = urdf_path()
    links, joints = parse_urdf(path)
    mesh_dir = path.parent

    def add_link_geoms(body: mujoco.MjsBody, link: str) -> None:
        info = links[link]
        if info.mesh is None:
            return
        mesh_name = f"{link}_mesh"
        spec.add_mesh(name=mesh_name, file=str(mesh_dir / info.mesh))
        g = body.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname=mesh_name, name=f"{link}_collision")
        g.quat = rpy_to_quat(info.mesh_rpy)
        g.contype, g.conaffinity = ROBOT_CONTYPE, ROBOT_CONAFFINITY
        g.rgba = LINK_RGBA.get(link, DEFAULT_RGBA)
        g.group = 0

    def set_inertia(body: mujoco.MjsBody, link: str) -> None:
        mass, com, (ixx, iyy, izz, ixy, ixz, iyz) = GAZ_INERTIA[link]
        body.mass, body.ipos, body.explicitinertial = mass, com, True
        body.fullinertia = [ixx, iyy, izz, ixy, ixz, iyz]

    base = mount.add_body(name="panda_link0")
    set_inertia(base, "panda_link0")
    add_link_geoms(base, "panda_link0")
    bodies = {"panda_link0": base}
    for j in joints:  # URDF joints are listed parent-first
        if j.child not in links or j.parent not in bodies:
            continue
        body = bodies[j.parent].add_body(name=j.child, pos=j.xyz, quat=rpy_to_quat(j.rpy))
        body.gravcomp = 1.0
        if j.child in GAZ_INERTIA:
            set_inertia(body, j.child)
        else:  # massless frames (link8, grasp target)
            body.mass, body.ipos, body.explicitinertial = 1e-4, [0, 0, 0], True
            body.fullinertia = [1e-8, 1e-8, 1e-8, 0, 0, 0]
        add_link_geoms(body, j.child)
        bodies[j.child] = body
        if j.type in ("revolute", "prismatic"):
            jt = body.add_joint(name=j.name, axis=j.axis)
            jt.type = mujoco.mjtJoint.mjJNT_HINGE if j.type == "revolute" else mujoco.mjtJoint.mjJNT_SLIDE
            jt.range, jt.limited = j.limits, mujoco.mjtLimited.mjLIMITED_TRUE
            if j.type == "revolute":
                jt.damping, jt.armature = cfg["joint_damping"], cfg["joint_armature"]
            else:
                jt.damping, jt.armature = cfg["finger_damping"], 0.001

    hand = bodies["panda_hand"]
    hand.add_site(name="tcp", pos=[0, 0, TCP_OFFSET], size=[0.005, 0.005, 0.005], rgba=[1, 0, 0, 0], group=5)
    # Rubber fingertip pads: the URDF's finger meshes are coarse; grasps happen on these boxes.
    for finger in ("panda_leftfinger", "panda_rightfinger"):
        pad = bodies[finger].add_geom(name=f"{finger}_pad", type=mujoco.mjtGeom.mjGEOM_BOX)
        # The right finger's mesh is turned half a turn about z in the URDF: mirror its pad too.
        side = -1.0 if abs(links[finger].mesh_rpy[2]) > 1.0 else 1.0
        pad.size, pad.pos = [0.0095, 0.003, 0.012], [0.0, side * 0.0045, 0.043]
        pad.contype, pad.conaffinity = ROBOT_CONTYPE, ROBOT_CONAFFINITY
        pad.friction, pad.condim, pad.priority = [cfg["pad_friction"], 0.01, 0.0002], 4, 1
        pad.solref, pad.rgba = [0.005, 1.0], [0.15, 0.15, 0.15, 1]
    spec.add_exclude(bodyname1="panda_link7", bodyname2="panda_hand")

    grip = spec.add_tendon(name="gripper")
    for fj in FINGER_JOINTS:
        grip.wrap_joint(fj, 1.0)
    spec.add_equality(
        type=mujoco.mjtEq.mjEQ_JOINT,
        name1=FINGER_JOINTS[0],
        name2=FINGER_JOINTS[1],
        solref=[0.005, 1.0],
        solimp=[0.95, 0.99, 0.001, 0.5, 2],
    )

    kp, kv = cfg["joint_kp"], cfg["joint_kv"]
    for i, name in enumerate(ARM_JOINTS):
        joint = next(j for j in joints if j.name == name)
        act = spec.add_actuator(name=f"act_{name}", target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.gainprm[0] = kp[i]
        act.biasprm[:3] = [0.0, -kp[i], 0.0]
        act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
        act.ctrlrange, act.ctrllimited = joint.limits, mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange, act.forcelimited = [-joint.effort, joint.effort], mujoco.mjtLimited.mjLIMITED_TRUE
    # Velocity servos (damping towards the IK's joint velocity): PD with velocity feed-forward, so
    # a moving target is tracked without the lag of a plain PD servo.
    for i, name in enumerate(ARM_JOINTS):
        joint = next(j for j in joints if j.name == name)
        act = spec.add_actuator(name=f"vel_{name}", target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.gainprm[0] = kv[i]
        act.biasprm[:3] = [0.0, 0.0, -kv[i]]
        act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
        act.ctrlrange, act.ctrllimited = [-joint.velocity, joint.velocity], mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange, act.forcelimited = [-joint.effort, joint.effort], mujoco.mjtLimited.mjLIMITED_TRUE
    act = spec.add_actuator(name="act_gripper", target="gripper", trntype=mujoco.mjtTrn.mjTRN_TENDON)
    act.gainprm[0] = cfg["gripper_kp"]
    act.biasprm[:3] = [0.0, -cfg["gripper_kp"], -cfg["gripper_kv"]]
    act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
    act.ctrlrange, act.ctrllimited = [0.0, 2 * MAX_FINGER], mujoco.mjtLimited.mjLIMITED_TRUE
    act.forcerange = [-cfg["gripper_force"], cfg["gripper_force"]]
    act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
