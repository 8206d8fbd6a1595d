"""The household scene: the MuJoCo model (compiled once), its state, and what skills may ask of it.

Skills receive a :class:`Scene` and use its read accessors (``pos``, ``quat``, ``joint``, ``tcp``,
``grasping``, ``touching``, ``goal``) to define success, reward and expert programs. Per-episode
randomisation moves static fixtures through ``model.body_pos`` and free objects through their
free joints, so resetting never recompiles the model.
"""

from __future__ import annotations

import math
from functools import cached_property

import mujoco
import numpy as np

from robot_cl.errors import ConfigError, choices
from robot_cl.paths import data_path
from robot_cl.sim.cartesian import yaw_of
from robot_cl.sim.mujoco.panda import ARM_JOINTS, FINGER_JOINTS, MAX_FINGER, add_panda
from robot_cl.sim.names import ROBOT_PREFIX, SceneNames


def build_model(cfg: dict) -> mujoco.MjModel:
    """Compile the scene file with the Panda mounted at ``robot_mount``."""
    path = data_path(cfg["scene"])
    if not path.exists():
        raise ConfigError(f"scene file not found: {path} (sim.scene)")
    spec = mujoco.MjSpec.from_file(str(path))
    mount = spec.body("robot_mount")
    if mount is None:
        raise ConfigError(f"scene {path} has no body named 'robot_mount' to attach the robot to")
    add_panda(spec, mount, cfg["robot"])
    model = spec.compile()
    model.opt.timestep = float(cfg["timestep"])
    return model


class Scene(SceneNames):
    """A compiled household model plus data, with name lookups done once."""

    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        self.model = build_model(cfg)
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.goal = np.zeros(4)
        self.tcp_site = m.site("tcp").id
        self.arm_qadr = np.array([m.joint(j).qposadr[0] for j in ARM_JOINTS])
        self.finger_qadr = np.array([m.joint(j).qposadr[0] for j in FINGER_JOINTS])
        self.finger_bodies = (m.body("panda_leftfinger").id, m.body("panda_rightfinger").id)
        self.home_qpos = np.array(cfg["robot"]["home_qpos"], dtype=float)
        self.default_body_pos = m.body_pos.copy()

        self._sites = {m.site(i).name: i for i in range(m.nsite) if m.site(i).name}
        self._bodies = {m.body(i).name: i for i in range(m.nbody) if m.body(i).name}
        self._joints = {m.joint(i).name: i for i in range(m.njnt) if m.joint(i).name}
        for name in cfg["fixtures"]:
            if name not in self._bodies:
                raise ConfigError(f"fixture {name!r} is not a body of the scene; valid: {choices(self.element_names())}")
        self.fixtures = [self._bodies[n] for n in cfg["fixtures"]]
        self.objects: dict[str, dict] = {}
        for name, spec in cfg["objects"].items():
            jname = f"{name}_free"
            if jname not in self._joints:
                raise ConfigError(f"object {name!r} needs a free joint named {jname!r} in the scene")
            adr = m.joint(jname).qposadr[0]
            self.objects[name] = {
                "qadr": adr,
                "home": np.array(spec["home"], dtype=float),
                "z": float(m.qpos0[adr + 2]),
                "radius": float(spec["radius"]),
            }
        self.entities = {name: self._entity(name, spec) for name, spec in cfg["entities"].items()}
        self._pairs: set[tuple[int, int]] | None = None

    def _entity(self, name: str, spec: dict) -> tuple:
        def ref(text: str | None, kinds: tuple[str, ...]) -> tuple[str, int] | None:
            if text is None:
                return None
            kind, _, target = text.partition(":")
            table = {"site": self._sites, "body": self._bodies, "joint": self._joints}.get(kind)
            if kind not in kinds or table is None or target not in table:
                raise ConfigError(f"entity {name!r}: cannot resolve {text!r} (expected one of {kinds} followed by a name in the scene)")
            return kind, table[target]

        pos = ref(spec.get("pos"), ("site", "body"))
        quat = ref(spec.get("quat"), ("body",))
        state = ref(spec.get("state"), ("joint",))
        qadr = self.model.jnt_qposadr[state[1]] if state else -1
        return pos, quat[1] if quat else -1, qadr, float(spec.get("scale", 1.0))

    # -- reading ------------------------------------------------------------------------------
    def pos(self, name: str) -> np.ndarray:
        """World position of a site (preferred) or body."""
        if name in self._sites:
            return self.data.site_xpos[self._sites[name]].copy()
        if name in self._bodies:
            return self.data.xpos[self._bodies[name]].copy()
        raise KeyError(f"no site or body named {name!r}")

    def quat(self, body: str) -> np.ndarray:
        return self.data.xquat[self._bodies[body]].copy()

    def xmat(self, body: str) -> np.ndarray:
        return self.data.xmat[self._bodies[body]].reshape(3, 3).copy()

    def yaw(self, body: str) -> float:
        """Heading of a body's x axis about world z."""
        return yaw_of(self.data.xmat[self._bodies[body]])

    def joint(self, name: str) -> float:
        return float(self.data.qpos[self.model.jnt_qposadr[self._joints[name]]])

    def joint_velocity(self, name: str) -> float:
        """Velocity of a scene joint (m/s or rad/s), e.g. to require a door to have come to rest."""
        return float(self.data.qvel[self.model.jnt_dofadr[self._joints[name]]])

    def entity(self, name: str, out: np.ndarray) -> None:
        """Write an entity's observation slot ``[pos(3), quat(4), state(1)]`` into ``out``."""
        (kind, idx), body, qadr, scale = self.entities[name]
        out[:3] = self.data.site_xpos[idx] if kind == "site" else self.data.xpos[idx]
        out[3:7] = self.data.xquat[body] if body >= 0 else (1.0, 0.0, 0.0, 0.0)
        out[7] = self.data.qpos[qadr] * scale if qadr >= 0 else 0.0

    @property
    def tcp(self) -> np.ndarray:
        """Tool centre point (between the fingertips)."""
        return self.data.site_xpos[self.tcp_site].copy()

    @property
    def tcp_yaw(self) -> float:
        return yaw_of(self.data.site_xmat[self.tcp_site])

    @property
    def opening(self) -> float:
        """Gripper opening in [0, 1]."""
        return float(self.data.qpos[self.finger_qadr].sum() / (2 * MAX_FINGER))

    def _contacts(self) -> set[tuple[int, int]]:
        """Body-id pairs (both orders) in contact, computed once per physics state."""
        if self._pairs is None:
            n = self.data.ncon
            pairs = self.model.geom_bodyid[self.data.contact.geom[:n]].tolist() if n else []
            self._pairs = {(a, b) for a, b in pairs} | {(b, a) for a, b in pairs}
        return self._pairs

    def touching(self, body1: str, body2: str) -> bool:
        """Any contact between the two bodies."""
        return (self._bodies[body1], self._bodies[body2]) in self._contacts()

    def grasping(self, body: str) -> bool:
        """Both fingers touch ``body``."""
        b, pairs = self._bodies[body], self._contacts()
        return (self.finger_bodies[0], b) in pairs and (self.finger_bodies[1], b) in pairs

    def robot_touching(self, body: str) -> bool:
        """Any robot link or finger touches ``body``."""
        b = self._bodies[body]
        return any(a == b and self._robot_body_mask[c] for a, c in self._contacts())

    def robot_contacts(self) -> list[str]:
        """Names of the scene bodies the robot (any link or finger) touches now, sorted."""
        mask = self._robot_body_mask
        return sorted({self.model.body(a).name for a, c in self._contacts() if mask[c] and not mask[a]})

    @cached_property
    def _robot_body_mask(self) -> np.ndarray:
        m = self.model
        return np.array([m.body(i).name.startswith(ROBOT_PREFIX) for i in range(m.nbody)])

    # -- writing (episode set-up) ---------------------------------------------------------------
    def reset(self, rng: np.random.Generator, skill) -> None:
        """Fresh episode: robot posture, fixture jitter, objects home, then the skill's initial state."""
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)  # also clears solver warm-starts: episodes are independent
        noise = self.cfg["robot"]["init_qpos_noise"]
        d.qpos[self.arm_qadr] = self.home_qpos + rng.uniform(-noise, noise, size=7)
        d.qpos[self.finger_qadr] = MAX_FINGER
        m.body_pos[:] = self.default_body_pos
        jitter = self.cfg["fixture_jitter"]
        for b in self.fixtures:
            m.body_pos[b, :2] += rng.uniform(-jitter, jitter, size=2)
        for name, obj in self.objects.items():
            self.place(name, obj["home"], 0.0)
        skill.initial_state(self, rng)
        self.forward()
        self.goal = np.asarray(skill.goal(self), dtype=float)

    def set_joint(self, name: str, value: float) -> None:
        self.data.qpos[self.model.jnt_qposadr[self._joints[name]]] = value

    def place(self, name: str, xy, yaw: float = 0.0) -> None:
        """Put a free object (at its resting height) or the target marker at ``xy`` with heading ``yaw``."""
        if name == "target":
            self.model.body_pos[self._bodies["target"]] = (xy[0], xy[1], 0.0)
            return
        adr = self.objects[name]["qadr"]
        q = self.data.qpos
        q[adr : adr + 2] = xy
        q[adr + 2] = self.objects[name]["z"]
        q[adr + 3 : adr + 7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))

    def forward(self) -> None:
        mujoco.mj_forward(self.model, self.data)
        self._pairs = None

    def step(self, nstep: int) -> None:
        """Advance the physics by ``nstep`` steps with the current controls."""
        mujoco.mj_step(self.model, self.data, nstep=nstep)
        self._pairs = None
