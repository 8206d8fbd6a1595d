"""The household kitchen in PyBullet, converted from the same scene description MuJoCo runs.

``sims/household/scene.xml`` is compiled by MuJoCo's parser (no simulation) and every body, geom,
joint, site and camera is carried over with the compiled sizes, poses, masses and inertias:

* bodies on the world with a free joint become free multibodies; the others become fixed multibodies
  whose jointed descendants are links (hinge -> revolute, slide -> prismatic, with range, damping and
  Coulomb friction); the world's own geoms (floor, wall, counter) are one fixed body;
* boxes, spheres, cylinders, capsules and planes keep their sizes; geoms without contacts are visual only;
* bodies in one multibody never collide with each other (the scene excludes those pairs too);
* friction: PyBullet multiplies the two surfaces' coefficients where MuJoCo takes the larger, so each
  surface gets the square root of its MuJoCo coefficient -- two scene surfaces meet at the MuJoCo value.

Sites are kept as (body, offset); a joint spring (the button) becomes a force-limited position motor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mujoco
import numpy as np
import pybullet as pb

from robot_cl.errors import ConfigError
from robot_cl.paths import data_path

# MuJoCo geom type -> PyBullet shape
_G = mujoco.mjtGeom
_PLANE, _SPHERE, _CAPSULE, _CYLINDER, _BOX = (
    int(t) for t in (_G.mjGEOM_PLANE, _G.mjGEOM_SPHERE, _G.mjGEOM_CAPSULE, _G.mjGEOM_CYLINDER, _G.mjGEOM_BOX)
)
_SHAPES = {_PLANE: pb.GEOM_PLANE, _SPHERE: pb.GEOM_SPHERE, _CAPSULE: pb.GEOM_CAPSULE, _CYLINDER: pb.GEOM_CYLINDER, _BOX: pb.GEOM_BOX}
_HINGE, _SLIDE, _FREE = int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE), int(mujoco.mjtJoint.mjJNT_FREE)


def xyzw(wxyz) -> tuple[float, float, float, float]:
    """A MuJoCo (w, x, y, z) quaternion in PyBullet's (x, y, z, w) order."""
    return (float(wxyz[1]), float(wxyz[2]), float(wxyz[3]), float(wxyz[0]))


IDENTITY = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))  # a pose: position, xyzw quaternion


@dataclass
class Part:
    """Where a MuJoCo body lives in PyBullet: multibody ``uid``, ``link`` (-1 = base), and the pose of
    the MuJoCo body frame in the PyBullet frame that ``frame_pose`` reports (base: centre of mass)."""

    name: str
    uid: int
    link: int
    offset: tuple = IDENTITY
    mass: float = 0.0
    inertia: tuple = (0.0, 0.0, 0.0)
    friction: float = 0.6


@dataclass
class Joint:
    name: str
    uid: int
    index: int
    frictionloss: float = 0.0  # N or N m of Coulomb friction
    spring: float = 0.0  # N or N m: a spring's return force at full deflection (0: no spring)
    rest: float = 0.0  # the spring's rest position


@dataclass
class World:
    """The converted scene: parts by MuJoCo body name, joints, sites and cameras."""

    model: mujoco.MjModel  # the compiled scene (for sizes, poses and cameras)
    parts: dict[str, Part] = field(default_factory=dict)
    joints: dict[str, Joint] = field(default_factory=dict)
    sites: dict[str, tuple[str, tuple]] = field(default_factory=dict)  # name -> (body, local position)
    free: dict[str, int] = field(default_factory=dict)  # free body name -> MuJoCo body id
    fixtures: dict[str, int] = field(default_factory=dict)  # fixed top-level body name -> MuJoCo body id


def compile_scene(cfg: dict) -> mujoco.MjModel:
    """The scene file compiled by MuJoCo (only to read it: the robot is added by the PyBullet side)."""
    path = data_path(cfg["scene"])
    if not path.exists():
        raise ConfigError(f"scene file not found: {path} (sim.scene)")
    return mujoco.MjSpec.from_file(str(path)).compile()


def _geoms(m: mujoco.MjModel, body: int, collide: bool) -> list[int]:
    ids = [g for g in range(m.ngeom) if m.geom_bodyid[g] == body]
    for g in ids:
        if m.geom_type[g] not in _SHAPES:
            kind = mujoco.mjtGeom(m.geom_type[g]).name.removeprefix("mjGEOM_").lower()
            name, valid = m.geom(g).name or str(g), "box, sphere, cylinder, capsule, plane"
            raise ConfigError(f"scene geom {name!r} of body {m.body(body).name!r} has type {kind}; the PyBullet backend converts: {valid}")
    return [g for g in ids if bool(m.geom_contype[g] or m.geom_conaffinity[g]) == collide]


def _shape_args(m: mujoco.MjModel, geoms: list[int], scale: float) -> dict:
    types, radii, half, lengths, pos, orn = [], [], [], [], [], []
    for g in geoms:
        t, s = int(m.geom_type[g]), m.geom_size[g] * scale
        types.append(_SHAPES[t])
        radii.append(float(s[0]))
        half.append([float(v) for v in s] if t == _BOX else [0.0, 0.0, 0.0])
        lengths.append(float(2 * s[1]) if t in (_CAPSULE, _CYLINDER) else 0.0)
        pos.append([float(v) for v in m.geom_pos[g] * scale])
        orn.append(xyzw(m.geom_quat[g]))
    return {"shapeTypes": types, "radii": radii, "halfExtents": half, "lengths": lengths, "framePositions": pos, "frameOrientations": orn}


def _collision(c: int, m: mujoco.MjModel, body: int, scale: float = 1.0) -> int:
    geoms = _geoms(m, body, True)
    if not geoms:
        return -1
    a = _shape_args(m, geoms, scale)
    if len(geoms) == 1 and a["shapeTypes"][0] == pb.GEOM_PLANE:
        return pb.createCollisionShape(pb.GEOM_PLANE, planeNormal=[0, 0, 1], physicsClientId=c)
    return _shape_array(c, pb.createCollisionShapeArray, "collision", a)


def _shape_array(c: int, create, kind: str, a: dict) -> int:
    """``createCollisionShapeArray`` or ``createVisualShapeArray`` (``kind``: their frames' keyword prefix)."""
    frames = {f"{kind}FramePositions": a["framePositions"], f"{kind}FrameOrientations": a["frameOrientations"]}
    return create(a["shapeTypes"], radii=a["radii"], halfExtents=a["halfExtents"], lengths=a["lengths"], **frames, physicsClientId=c)


def _rgba(m: mujoco.MjModel, g: int) -> list[float]:
    mat = m.geom_matid[g]
    return [float(v) for v in (m.mat_rgba[mat] if mat >= 0 else m.geom_rgba[g])]


def _visual(c: int, m: mujoco.MjModel, body: int, scale: float = 1.0) -> tuple[int, list[list[float]]]:
    geoms = _geoms(m, body, True) + _geoms(m, body, False)
    if not geoms:
        return -1, []
    a = _shape_args(m, geoms, scale)
    planes = [i for i, t in enumerate(a["shapeTypes"]) if t == pb.GEOM_PLANE]
    for i in planes:  # TinyRenderer draws a plane as a large box
        a["shapeTypes"][i], a["halfExtents"][i] = pb.GEOM_BOX, [float(m.geom_size[geoms[i]][0]), float(m.geom_size[geoms[i]][1]), 0.001]
    return _shape_array(c, pb.createVisualShapeArray, "visual", a), [_rgba(m, g) for g in geoms]


def _colour(c: int, uid: int, link: int, colours: list[list[float]]) -> None:
    for i, rgba in enumerate(colours):
        pb.changeVisualShape(uid, link, shapeIndex=i, rgbaColor=rgba, physicsClientId=c)


def _friction(m: mujoco.MjModel, body: int) -> float:
    """One coefficient per PyBullet link: the square root of its geoms' largest MuJoCo coefficient."""
    geoms = _geoms(m, body, True)
    return math.sqrt(max((float(m.geom_friction[g][0]) for g in geoms), default=0.6))


def children(m: mujoco.MjModel, body: int) -> list[int]:
    return [b for b in range(1, m.nbody) if m.body_parentid[b] == body]


def _body_joint(m: mujoco.MjModel, body: int) -> int:
    n = int(m.body_jntnum[body])
    if n > 1:
        raise ConfigError(f"scene body {m.body(body).name!r} has {n} joints; the PyBullet backend converts at most one per body")
    return int(m.body_jntadr[body]) if n == 1 else -1


def add_world(c: int, w: World) -> None:
    """The world body's own geoms (floor, wall, counter) as one fixed multibody."""
    m = w.model
    col, (vis, colours) = _collision(c, m, 0), _visual(c, m, 0)
    uid = pb.createMultiBody(0.0, col, vis, physicsClientId=c)
    _colour(c, uid, -1, colours)
    w.parts["world"] = Part("world", uid, -1, friction=_friction(m, 0))


def add_free(c: int, w: World, body: int, size: float = 1.0) -> None:
    """A free object: one dynamic base with its compiled mass, centre of mass and inertia (``size`` scales it)."""
    m, name = w.model, w.model.body(body).name
    ipos, iquat = m.body_ipos[body] * size, xyzw(m.body_iquat[body])
    col, (vis, colours) = _collision(c, m, body, size), _visual(c, m, body, size)
    pos = m.body_pos[body]
    uid = pb.createMultiBody(
        float(m.body_mass[body]),
        col,
        vis,
        basePosition=[float(v) for v in pos],
        baseOrientation=xyzw(m.body_quat[body]),
        baseInertialFramePosition=[float(v) for v in ipos],
        baseInertialFrameOrientation=iquat,
        physicsClientId=c,
    )
    _colour(c, uid, -1, colours)
    inertia = tuple(float(v) * size**2 for v in m.body_inertia[body])
    offset = pb.invertTransform([float(v) for v in ipos], iquat)
    w.parts[name] = Part(name, uid, -1, offset, float(m.body_mass[body]), inertia, _friction(m, body))
    w.free[name] = body
    for s in range(m.nsite):
        if m.site_bodyid[s] == body and m.site(s).name:
            w.sites[m.site(s).name] = (name, tuple(float(v) * size for v in m.site_pos[s]))


def _descendants(m: mujoco.MjModel, body: int) -> list[int]:
    out = []
    for ch in children(m, body):
        out += [ch, *_descendants(m, ch)]
    return out


def add_fixture(c: int, w: World, body: int) -> None:
    """A body fixed to the world, its jointed descendants as links of the same multibody."""
    m, name = w.model, w.model.body(body).name
    links = _descendants(m, body)
    index = {body: -1, **{b: i for i, b in enumerate(links)}}
    kw: dict[str, list] = {k: [] for k in ("masses", "col", "vis", "pos", "orn", "ipos", "iorn", "parents", "types", "axes")}
    visuals = []
    for b in links:
        j = _body_joint(m, b)
        anchor = m.jnt_pos[j] if j >= 0 else np.zeros(3)
        if j >= 0 and np.any(np.abs(anchor) > 1e-9):
            raise ConfigError(f"scene joint {m.joint(j).name!r}: the PyBullet backend needs joint anchors at the body origin")
        col, (vis, colours) = _collision(c, m, b), _visual(c, m, b)
        visuals.append(colours)
        kw["masses"].append(float(m.body_mass[b]))
        kw["col"].append(col)
        kw["vis"].append(vis)
        kw["pos"].append([float(v) for v in m.body_pos[b]])
        kw["orn"].append(xyzw(m.body_quat[b]))
        kw["ipos"].append([float(v) for v in m.body_ipos[b]])
        kw["iorn"].append(xyzw(m.body_iquat[b]))
        kw["parents"].append(index[int(m.body_parentid[b])] + 1)  # PyBullet counts the base as 0 here
        jt = -1 if j < 0 else int(m.jnt_type[j])
        kw["types"].append({_HINGE: pb.JOINT_REVOLUTE, _SLIDE: pb.JOINT_PRISMATIC, -1: pb.JOINT_FIXED}[jt])
        kw["axes"].append([float(v) for v in (m.jnt_axis[j] if j >= 0 else (0, 0, 1))])
    col, (vis, colours) = _collision(c, m, body), _visual(c, m, body)
    uid = pb.createMultiBody(
        0.0,
        col,
        vis,
        basePosition=[float(v) for v in m.body_pos[body]],
        baseOrientation=xyzw(m.body_quat[body]),
        linkMasses=kw["masses"],
        linkCollisionShapeIndices=kw["col"],
        linkVisualShapeIndices=kw["vis"],
        linkPositions=kw["pos"],
        linkOrientations=kw["orn"],
        linkInertialFramePositions=kw["ipos"],
        linkInertialFrameOrientations=kw["iorn"],
        linkParentIndices=kw["parents"],
        linkJointTypes=kw["types"],
        linkJointAxis=kw["axes"],
        physicsClientId=c,
    )
    _colour(c, uid, -1, colours)
    w.parts[name] = Part(name, uid, -1, friction=_friction(m, body))
    w.fixtures[name] = body
    for i, b in enumerate(links):
        _colour(c, uid, i, visuals[i])
        w.parts[m.body(b).name] = Part(
            m.body(b).name, uid, i, mass=float(m.body_mass[b]), inertia=tuple(m.body_inertia[b]), friction=_friction(m, b)
        )
        j = _body_joint(m, b)
        if j >= 0:
            _joint(c, w, uid, i, j)
    for s in range(m.nsite):
        owner = int(m.site_bodyid[s])
        if owner in index and m.site(s).name:
            w.sites[m.site(s).name] = (m.body(owner).name, tuple(float(v) for v in m.site_pos[s]))


def _joint(c: int, w: World, uid: int, link: int, j: int) -> None:
    """Range, viscous damping, Coulomb friction (a velocity motor) and a spring (a position motor)."""
    m = w.model
    dof = int(m.jnt_dofadr[j])
    lo, hi = (float(v) for v in m.jnt_range[j])
    pb.changeDynamics(uid, link, jointLowerLimit=lo, jointUpperLimit=hi, jointDamping=float(m.dof_damping[dof]), physicsClientId=c)
    pb.changeDynamics(uid, link, linearDamping=0.0, angularDamping=0.0, physicsClientId=c)
    spring = float(m.jnt_stiffness[j]) * (hi - lo)  # the spring's largest force, over the whole range
    w.joints[m.joint(j).name] = Joint(
        m.joint(j).name, uid, link, float(m.dof_frictionloss[dof]), spring, float(m.qpos_spring[m.jnt_qposadr[j]])
    )


def set_passive(c: int, w: World) -> None:
    """The scene joints' motors: Coulomb friction (a velocity motor at zero, limited to the friction
    loss), or a spring's return (a position motor at the spring's rest, limited to its largest force)."""
    for j in w.joints.values():
        if j.spring > 0:
            pb.setJointMotorControl2(j.uid, j.index, pb.POSITION_CONTROL, targetPosition=j.rest, force=j.spring, physicsClientId=c)
        else:
            pb.setJointMotorControl2(j.uid, j.index, pb.VELOCITY_CONTROL, targetVelocity=0.0, force=j.frictionloss, physicsClientId=c)


def convert(c: int, cfg: dict) -> World:
    """Build the scene of ``cfg["scene"]`` in PyBullet client ``c`` (robot excluded)."""
    w = World(compile_scene(cfg))
    m = w.model
    add_world(c, w)
    for b in children(m, 0):
        name = m.body(b).name
        if name == "robot_mount":
            continue
        if m.body_jntnum[b] == 1 and m.jnt_type[m.body_jntadr[b]] == _FREE:
            add_free(c, w, b)
        else:
            add_fixture(c, w, b)
    return w
