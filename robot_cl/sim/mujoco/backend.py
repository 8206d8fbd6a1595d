"""The MuJoCo backend: the compiled kitchen with the Panda (:mod:`.scene`, :mod:`.panda`), the Cartesian
controller (:mod:`.controller`), ``mj_step`` and MuJoCo's offscreen renderer."""

from __future__ import annotations

import math

import mujoco
import numpy as np

from robot_cl.sim.backend import register_backend
from robot_cl.sim.mujoco.controller import CartesianController
from robot_cl.sim.mujoco.scene import Scene
from robot_cl.sim.mujoco.shift import ModelShift


@register_backend
class MujocoBackend:
    """The household kitchen in MuJoCo (the :class:`robot_cl.sim.backend.Backend` protocol)."""

    name = "mujoco"

    def __init__(self, cfg: dict) -> None:
        self.scene = Scene(cfg)
        self.model, self.data = self.scene.model, self.scene.data
        self.frame_skip = int(cfg["frame_skip"])
        self.control_dt = self.model.opt.timestep * self.frame_skip
        self.controller = CartesianController(self.model, {**cfg["controller"], "home_qpos": cfg["robot"]["home_qpos"]})
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self.shifter = ModelShift(self.scene)

    def apply_shift(self, values: dict[str, float]) -> None:
        self.shifter.apply(values)

    def reset(self, rng: np.random.Generator, skill) -> None:
        self.scene.reset(rng, skill)
        self.controller.reset(self.data)

    def act(self, action: np.ndarray) -> None:
        self.controller.apply(self.data, action)

    def step(self) -> None:
        self.scene.step(self.frame_skip)  # one C call: frame_skip physics steps with the targets just set

    def tool(self) -> tuple[np.ndarray, float]:
        site = self.scene.tcp_site
        xm = self.data.site_xmat[site]
        return self.data.site_xpos[site], math.atan2(xm[3], xm[0])

    def render(self, camera: str, width: int, height: int) -> np.ndarray:
        if (width, height) not in self._renderers:
            self._renderers[(width, height)] = mujoco.Renderer(self.model, height, width)
        renderer = self._renderers[(width, height)]
        renderer.update_scene(self.data, camera=camera)
        return renderer.render()

    def cameras(self) -> list[str]:
        return [self.model.camera(i).name for i in range(self.model.ncam)]

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
