"""The Franka Panda in PyBullet: ``pybullet_data/franka_panda/panda.urdf`` with the same changes the
MuJoCo build makes (:mod:`robot_cl.sim.mujoco.panda`): link inertias from Gaz et al. 2019 instead of the
URDF's placeholders, and rubber fingertip pads (boxes) on the fingers, where grasps happen. The URDF's
compliant-contact settings on the fingers are dropped (the pads' friction comes from the sim config).
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET

import pybullet as pb

from robot_cl.sim.panda import GAZ_INERTIA, urdf_path

PAD_HALF = (0.0095, 0.003, 0.012)  # m, as the MuJoCo build's pads
PAD_POS = (0.0, 0.0045, 0.043)  # in the finger frame; the right finger's y is mirrored


def panda_urdf() -> str:
    """The rewritten URDF as text (absolute mesh paths, identified inertias, fingertip pads)."""
    path = urdf_path()
    root = ET.parse(path).getroot()
    for mesh in root.iter("mesh"):
        mesh.set("filename", str(path.parent / mesh.get("filename").replace("package://", "")))
    for link in root.iter("link"):
        name = link.get("name")
        for contact in link.findall("contact"):
            link.remove(contact)
        if name in GAZ_INERTIA:
            _set_inertia(link, *GAZ_INERTIA[name])
        if name in ("panda_leftfinger", "panda_rightfinger"):
            side = -1.0 if name == "panda_rightfinger" else 1.0
            col = ET.SubElement(link, "collision")
            ET.SubElement(col, "origin", xyz=f"{PAD_POS[0]} {side * PAD_POS[1]} {PAD_POS[2]}", rpy="0 0 0")
            ET.SubElement(ET.SubElement(col, "geometry"), "box", size=" ".join(str(2 * h) for h in PAD_HALF))
    return ET.tostring(root, encoding="unicode")


def _set_inertia(link: ET.Element, mass: float, com, inertia) -> None:
    for old in link.findall("inertial"):
        link.remove(old)
    el = ET.SubElement(link, "inertial")
    ET.SubElement(el, "origin", xyz=" ".join(str(v) for v in com), rpy="0 0 0")
    ET.SubElement(el, "mass", value=str(mass))
    ixx, iyy, izz, ixy, ixz, iyz = inertia
    ET.SubElement(el, "inertia", ixx=str(ixx), iyy=str(iyy), izz=str(izz), ixy=str(ixy), ixz=str(ixz), iyz=str(iyz))


def load_panda(c: int, base) -> tuple[int, dict[str, int], dict[str, int]]:
    """Load the Panda with its base at ``base``: ``(uid, joint index by name, link index by name)``
    (the base link ``panda_link0`` is -1). Links of the robot never collide with each other."""
    fd, path = tempfile.mkstemp(suffix=".urdf", prefix="robot_cl_panda_")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(panda_urdf())
        uid = pb.loadURDF(path, basePosition=list(base), useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=c)
    finally:
        os.unlink(path)
    joints, links = {}, {"panda_link0": -1}
    for i in range(pb.getNumJoints(uid, physicsClientId=c)):
        info = pb.getJointInfo(uid, i, physicsClientId=c)
        joints[info[1].decode()] = i
        links[info[12].decode()] = i
    return uid, joints, links
