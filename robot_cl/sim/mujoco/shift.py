"""Dynamics shifts on the MuJoCo model (see :mod:`robot_cl.sim.shift`): each episode's values are
written into the compiled model from the values it was compiled with, so shifts never accumulate."""

from __future__ import annotations

import mujoco
import numpy as np

from robot_cl.sim.mujoco.scene import Scene
from robot_cl.sim.names import ROBOT_PREFIX


class ModelShift:
    """Remembers the model's unshifted parameters and writes one episode's shift into it."""

    def __init__(self, scene: Scene) -> None:
        m = self.model = scene.model
        self.scene = scene
        self.friction = m.geom_friction[:, 0].copy()
        robot = {i for i in range(m.nbody) if m.body(i).name.startswith(ROBOT_PREFIX)}
        movable = [b for b in range(1, m.nbody) if b not in robot and m.body_jntnum[b] > 0]
        self.movable = np.array(movable, dtype=int)
        self.mass, self.inertia = m.body_mass.copy(), m.body_inertia.copy()
        self.object_bodies = np.array([m.body(n).id for n in scene.objects], dtype=int)
        self.object_geoms = np.flatnonzero(np.isin(m.geom_bodyid, self.object_bodies))
        self.object_sites = np.flatnonzero(np.isin(m.site_bodyid, self.object_bodies))
        self.geom_size, self.geom_pos = m.geom_size.copy(), m.geom_pos.copy()
        self.geom_rbound, self.geom_aabb = m.geom_rbound.copy(), m.geom_aabb.copy()
        self.site_pos = m.site_pos.copy()
        self.rest_z = {n: o["z"] for n, o in scene.objects.items()}
        robot_act = [a for a in range(m.nu) if m.actuator(a).name.startswith(("act_", "vel_"))]
        self.actuators = np.array(robot_act, dtype=int)
        self.gainprm, self.biasprm = m.actuator_gainprm.copy(), m.actuator_biasprm.copy()
        self.current = {"friction": 1.0, "mass": 1.0, "size": 1.0, "gain": 1.0}  # as compiled: neutral is a no-op

    def apply(self, v: dict[str, float]) -> None:
        """Write ``v`` (friction, mass, size, gain scales) into the model; a no-op if they are unchanged."""
        key = {k: v[k] for k in ("friction", "mass", "size", "gain")}
        if key == self.current:
            return
        m = self.model
        m.geom_friction[:, 0] = self.friction * v["friction"]
        m.body_mass[:] = self.mass
        m.body_inertia[:] = self.inertia
        m.body_mass[self.movable] *= v["mass"]
        m.body_inertia[self.movable] *= v["mass"]
        s, g = v["size"], self.object_geoms
        m.geom_size[:], m.geom_pos[:] = self.geom_size, self.geom_pos
        m.geom_rbound[:], m.geom_aabb[:] = self.geom_rbound, self.geom_aabb
        m.site_pos[:] = self.site_pos
        m.geom_size[g] *= s
        m.geom_pos[g] *= s
        m.geom_rbound[g] *= s
        m.geom_aabb[g] *= s
        m.site_pos[self.object_sites] *= s
        m.body_inertia[self.object_bodies] *= s**2  # same mass, spread over a bigger body
        for name, z in self.rest_z.items():  # bigger objects rest higher on the counter
            self.scene.objects[name]["z"] = z * s
        a = self.actuators
        m.actuator_gainprm[:], m.actuator_biasprm[:] = self.gainprm, self.biasprm
        m.actuator_gainprm[a, 0] *= v["gain"]
        m.actuator_biasprm[a, 1:3] *= v["gain"]
        mujoco.mj_setConst(m, self.scene.data)  # derived constants (subtree masses, ...) follow the edits
        self.current = key
