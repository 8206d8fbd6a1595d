"""The household scene in PyBullet, answering the same queries as the MuJoCo scene
(:class:`robot_cl.sim.SceneQueries`): positions and orientations of MuJoCo-named bodies and sites,
joint values, contacts, and the writes an initial state needs.

Poses are read once per physics state and cached; quaternions are returned in MuJoCo's (w, x, y, z)
order, so observations have the same layout on both engines.
"""

from __future__ import annotations

import math

import numpy as np
import pybullet as pb

from robot_cl.errors import ConfigError, choices
from robot_cl.sim.names import ROBOT_PREFIX, SceneNames
from robot_cl.sim.panda import ARM_JOINTS, FINGER_JOINTS, MAX_FINGER, TCP_OFFSET
from robot_cl.sim.pybullet.build import IDENTITY, World, add_free, convert
from robot_cl.sim.pybullet.panda import load_panda


class PybulletScene(SceneNames):
    """The converted kitchen plus the Panda in one PyBullet client."""

    def __init__(self, c: int, cfg: dict) -> None:
        self.c, self.cfg = c, cfg
        self.world: World = convert(c, cfg)
        m = self.world.model
        mount = m.body("robot_mount")
        self.robot, self.robot_joints, self.robot_links = load_panda(c, m.body_pos[mount.id])
        self.arm = [self.robot_joints[j] for j in ARM_JOINTS]
        self.fingers = [self.robot_joints[j] for j in FINGER_JOINTS]
        self.hand = self.robot_links["panda_hand"]
        self.finger_links = (self.robot_links["panda_leftfinger"], self.robot_links["panda_rightfinger"])
        self.home_qpos = np.array(cfg["robot"]["home_qpos"], dtype=float)
        self.goal = np.zeros(4)
        self._bodies = dict(self.world.parts)
        self._bodies.update({name: None for name in self.robot_links})
        self._joints = {**self.world.joints, **{f"{n}_free": None for n in self.world.free}}
        for name in cfg["fixtures"]:
            if name not in self.world.fixtures:
                raise ConfigError(f"fixture {name!r} is not a body of the scene; valid: {choices(self.element_names())}")
        self.fixture_home = {n: pb.getBasePositionAndOrientation(self.world.parts[n].uid, physicsClientId=c) for n in cfg["fixtures"]}
        self.objects: dict[str, dict] = {}
        for name, spec in cfg["objects"].items():
            if name not in self.world.free:
                raise ConfigError(f"object {name!r} needs a free joint named {name + '_free'!r} in the scene")
            z = float(m.body_pos[self.world.free[name]][2])
            self.objects[name] = {"home": np.array(spec["home"], dtype=float), "z": z, "radius": float(spec["radius"])}
        self.entities = {name: self._entity(name, spec) for name, spec in cfg["entities"].items()}
        self._owner = {}  # (uid, link) -> scene body name
        self.index_parts()
        self._poses: dict[str, tuple] = {}
        self._pairs: set[tuple[str, str]] | None = None
        self._detect = True

    def index_parts(self) -> None:
        """(uid, link) -> name, after the scene's bodies are (re)built."""
        self._owner = {(p.uid, p.link): n for n, p in self.world.parts.items()}
        self._owner.update({(self.robot, i): n for n, i in self.robot_links.items()})

    def _entity(self, name: str, spec: dict) -> tuple:
        def ref(text: str | None, kinds: tuple[str, ...]) -> tuple[str, str] | None:
            if text is None:
                return None
            kind, _, target = text.partition(":")
            table = {"site": self.world.sites, "body": self.world.parts, "joint": self.world.joints}.get(kind)
            if kind not in kinds or table is None or target not in table:
                raise ConfigError(f"entity {name!r}: cannot resolve {text!r} (expected one of {kinds} followed by a name in the scene)")
            return kind, target

        state = ref(spec.get("state"), ("joint",))
        quat = ref(spec.get("quat"), ("body",))
        return ref(spec.get("pos"), ("site", "body")), quat[1] if quat else None, state[1] if state else None, float(spec.get("scale", 1.0))

    # -- poses ---------------------------------------------------------------------------------
    def body_pose(self, name: str) -> tuple:
        """World pose (position, xyzw quaternion) of a MuJoCo body's frame."""
        pose = self._poses.get(name)
        if pose is None:
            if name in self.robot_links:
                pose = self._link_frame(self.robot, self.robot_links[name])
            else:
                part = self.world.parts[name]
                if part.link < 0:
                    com = pb.getBasePositionAndOrientation(part.uid, physicsClientId=self.c)
                    pose = pb.multiplyTransforms(com[0], com[1], *part.offset) if part.offset != IDENTITY else com
                else:
                    pose = self._link_frame(part.uid, part.link)
            self._poses[name] = pose
        return pose

    def _link_frame(self, uid: int, link: int) -> tuple:
        if link < 0:
            return pb.getBasePositionAndOrientation(uid, physicsClientId=self.c)
        s = pb.getLinkState(uid, link, computeForwardKinematics=1, physicsClientId=self.c)
        return s[4], s[5]

    def tool_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Tool centre point and its 3x3 rotation (row-major 9-vector, as MuJoCo's ``site_xmat``)."""
        pose = self._poses.get("tcp")
        if pose is None:
            hand = self.body_pose("panda_hand")
            pos, orn = pb.multiplyTransforms(hand[0], hand[1], (0.0, 0.0, TCP_OFFSET), (0.0, 0.0, 0.0, 1.0))
            pose = self._poses["tcp"] = (np.array(pos), np.array(pb.getMatrixFromQuaternion(orn)))
        return pose

    # -- reading -------------------------------------------------------------------------------
    def pos(self, name: str) -> np.ndarray:
        """World position of a site (preferred) or body."""
        if name in self.world.sites:
            body, local = self.world.sites[name]
            p, q = self.body_pose(body)
            return np.array(pb.multiplyTransforms(p, q, local, (0.0, 0.0, 0.0, 1.0))[0])
        if name in self._bodies:
            return np.array(self.body_pose(name)[0])
        raise KeyError(f"no site or body named {name!r}")

    def quat(self, body: str) -> np.ndarray:
        x, y, z, w = self.body_pose(body)[1]
        return np.array((w, x, y, z))

    def xmat(self, body: str) -> np.ndarray:
        return np.array(pb.getMatrixFromQuaternion(self.body_pose(body)[1])).reshape(3, 3)

    def yaw(self, body: str) -> float:
        """Heading of a body's x axis about world z."""
        m = pb.getMatrixFromQuaternion(self.body_pose(body)[1])
        return math.atan2(m[3], m[0])

    def joint(self, name: str) -> float:
        j = self.world.joints[name]
        return float(pb.getJointState(j.uid, j.index, physicsClientId=self.c)[0])

    def joint_velocity(self, name: str) -> float:
        j = self.world.joints[name]
        return float(pb.getJointState(j.uid, j.index, physicsClientId=self.c)[1])

    def entity(self, name: str, out: np.ndarray) -> None:
        """Write an entity's observation slot ``[pos(3), quat(4), state(1)]`` into ``out``."""
        (_, target), body, joint, scale = self.entities[name]
        out[:3] = self.pos(target)
        out[3:7] = self.quat(body) if body else (1.0, 0.0, 0.0, 0.0)
        out[7] = self.joint(joint) * scale if joint else 0.0

    @property
    def tcp(self) -> np.ndarray:
        """Tool centre point (between the fingertips)."""
        return self.tool_pose()[0].copy()

    @property
    def tcp_yaw(self) -> float:
        m = self.tool_pose()[1]
        return math.atan2(m[3], m[0])

    @property
    def opening(self) -> float:
        """Gripper opening in [0, 1]."""
        states = pb.getJointStates(self.robot, self.fingers, physicsClientId=self.c)
        return float((states[0][0] + states[1][0]) / (2 * MAX_FINGER))

    def _contacts(self) -> set[tuple[str, str]]:
        """Name pairs (both orders) in contact (penetrating, or closer than ``pybullet.contact_distance``)."""
        if self._pairs is None:
            if self._detect:  # the state was written, not stepped: find its contacts without stepping
                pb.performCollisionDetection(physicsClientId=self.c)
                self._detect = False
            limit, owner, pairs = float(self.cfg["pybullet"]["contact_distance"]), self._owner, set()
            for pt in pb.getContactPoints(physicsClientId=self.c):
                if pt[8] <= limit:
                    a, b = owner.get((pt[1], pt[3])), owner.get((pt[2], pt[4]))
                    if a and b:
                        pairs.add((a, b))
                        pairs.add((b, a))
            self._pairs = pairs
        return self._pairs

    def touching(self, body1: str, body2: str) -> bool:
        """Any contact between the two bodies."""
        return (body1, body2) in self._contacts()

    def grasping(self, body: str) -> bool:
        """Both fingers touch ``body``."""
        pairs = self._contacts()
        return ("panda_leftfinger", body) in pairs and ("panda_rightfinger", body) in pairs

    def robot_touching(self, body: str) -> bool:
        """Any robot link or finger touches ``body``."""
        return any(a == body and c.startswith(ROBOT_PREFIX) for a, c in self._contacts())

    def robot_contacts(self) -> list[str]:
        """Names of the scene bodies the robot (any link or finger) touches now, sorted."""
        return sorted({a for a, c in self._contacts() if c.startswith(ROBOT_PREFIX) and not a.startswith(ROBOT_PREFIX)})

    # -- writing (episode set-up) ----------------------------------------------------------------
    def reset(self, rng: np.random.Generator, skill, saved: int) -> None:
        """Fresh episode from the saved rest state: robot posture, fixture jitter, objects home, the skill's initial state."""
        c = self.c
        pb.restoreState(saved, physicsClientId=c)  # positions, velocities and contact caches as built
        noise = self.cfg["robot"]["init_qpos_noise"]
        for j, q in zip(self.arm, self.home_qpos + rng.uniform(-noise, noise, size=7), strict=True):
            pb.resetJointState(self.robot, j, float(q), 0.0, physicsClientId=c)
        for j in self.fingers:
            pb.resetJointState(self.robot, j, MAX_FINGER, 0.0, physicsClientId=c)
        jitter = self.cfg["fixture_jitter"]
        for name, (pos, orn) in self.fixture_home.items():
            dx, dy = rng.uniform(-jitter, jitter, size=2)
            pb.resetBasePositionAndOrientation(self.world.parts[name].uid, (pos[0] + dx, pos[1] + dy, pos[2]), orn, physicsClientId=c)
        for name, obj in self.objects.items():
            self.place(name, obj["home"], 0.0)
        skill.initial_state(self, rng)
        self.forward()
        self.goal = np.asarray(skill.goal(self), dtype=float)
        if self.cfg["pybullet"]["sleep_unused"]:
            self.sleep_except(skill.elements)

    def sleep_except(self, names) -> None:
        """Put the scene's multibodies that hold none of ``names`` to sleep: Bullet skips resting bodies
        until something touches them (then they wake), and a skill's unused objects rest at home."""
        awake = {self.world.parts[n].uid for n in names if n in self.world.parts}
        for uid in {p.uid for n, p in self.world.parts.items() if n != "world"} - awake:
            pb.changeDynamics(uid, -1, activationState=pb.ACTIVATION_STATE_ENABLE_SLEEPING, physicsClientId=self.c)
            pb.changeDynamics(uid, -1, activationState=pb.ACTIVATION_STATE_SLEEP, physicsClientId=self.c)

    def set_joint(self, name: str, value: float) -> None:
        j = self.world.joints[name]
        pb.resetJointState(j.uid, j.index, float(value), 0.0, physicsClientId=self.c)
        self.forward()

    def place(self, name: str, xy, yaw: float = 0.0) -> None:
        """Put a free object (at its resting height) or the target marker at ``xy`` with heading ``yaw``."""
        orn = (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))
        part = self.world.parts[name]
        z = 0.0 if name == "target" else self.objects[name]["z"]
        pos = (float(xy[0]), float(xy[1]), z)
        if part.offset != IDENTITY:  # the base is the centre of mass: body frame x inertial frame
            pos, orn = pb.multiplyTransforms(pos, orn, *pb.invertTransform(*part.offset))
        pb.resetBasePositionAndOrientation(part.uid, pos, orn, physicsClientId=self.c)
        pb.resetBaseVelocity(part.uid, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), physicsClientId=self.c)
        self.forward()

    def rebuild_objects(self, size: float) -> None:
        """Recreate the free objects at ``size`` times their size (PyBullet cannot rescale a shape)."""
        for name, body in list(self.world.free.items()):
            pb.removeBody(self.world.parts[name].uid, physicsClientId=self.c)
            add_free(self.c, self.world, body, size)
            self.objects[name]["z"] = float(self.world.model.body_pos[body][2]) * size
        self.index_parts()
        self.forward()

    def forward(self, stepped: bool = False) -> None:
        """Forget cached poses and contacts: after a physics step (which found the contacts) or after
        writes (contacts are then detected again when next asked for)."""
        self._poses.clear()
        self._pairs = None
        self._detect = not stepped
