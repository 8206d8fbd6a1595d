"""What a simulator backend provides: the scene queries skills use, and the stepping, control and
rendering :class:`robot_cl.sim.env.HouseholdEnv` drives. MuJoCo (:mod:`robot_cl.sim.mujoco`) is the
first implementation; a second engine implements these two protocols and registers itself in
:data:`BACKENDS`, and every skill file runs on it unchanged.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import numpy as np

from robot_cl.registry import Registry


class SceneQueries(Protocol):
    """The scene as skills see it (``s`` in ``skills/*.py``): read accessors for success, reward and
    expert programs, and the writes an initial-state distribution needs."""

    cfg: dict[str, Any]  # the sim config (e.g. ``cfg["primitives"]["tip_offset"]``)
    goal: np.ndarray  # the episode's goal (position, scalar), set after the initial state
    entities: dict[str, Any]  # entity names a skill may observe

    # reading
    def pos(self, name: str) -> np.ndarray: ...  # position of a site or body
    def quat(self, body: str) -> np.ndarray: ...
    def xmat(self, body: str) -> np.ndarray: ...  # 3x3 rotation, row-major flattened
    def yaw(self, body: str) -> float: ...
    def joint(self, name: str) -> float: ...
    def joint_velocity(self, name: str) -> float: ...
    @property
    def tcp(self) -> np.ndarray: ...  # tool centre point
    @property
    def tcp_yaw(self) -> float: ...
    @property
    def opening(self) -> float: ...  # gripper opening in [0, 1]
    def touching(self, body1: str, body2: str) -> bool: ...
    def grasping(self, body: str) -> bool: ...  # both fingers in contact with the body
    def robot_touching(self, body: str) -> bool: ...
    def robot_contacts(self) -> list[str]: ...  # scene bodies the robot touches
    def entity(self, name: str, out: np.ndarray) -> None: ...  # fill one observation slot (robot_cl.layout)

    # names (checked when a skill's environment is made)
    def element_names(self) -> list[str]: ...
    def has_element(self, name: str) -> bool: ...
    def joint_names(self) -> list[str]: ...
    def has_joint(self, name: str) -> bool: ...
    def placeable_names(self) -> list[str]: ...
    def is_placeable(self, name: str) -> bool: ...
    def radius(self, name: str) -> float: ...  # footprint radius of a free object

    # writing (the initial state)
    def set_joint(self, name: str, value: float) -> None: ...
    def place(self, name: str, xy, yaw: float = 0.0) -> None: ...
    def forward(self) -> None: ...  # recompute positions after writes


class Backend(Protocol):
    """A physics engine running the household kitchen with the Panda, as ``HouseholdEnv`` uses it."""

    name: str
    scene: SceneQueries
    control_dt: float  # seconds per control step (an env step)

    def apply_shift(self, values: dict[str, float]) -> None:
        """Before :meth:`reset`: this episode's dynamics shift (``friction``, ``mass``, ``size``, ``gain``
        scales; :mod:`robot_cl.sim.shift`), relative to the unshifted model, so shifts never accumulate."""

    def reset(self, rng: np.random.Generator, skill) -> None:
        """A fresh episode: robot posture, fixture jitter, objects home, the skill's initial state, the goal."""

    def act(self, action: np.ndarray) -> None:
        """Set the controller's targets for one control step from a raw action ``[dx, dy, dz, dyaw, grip]``."""

    def step(self) -> None:
        """Advance the physics by one control step with the current targets."""

    def tool(self) -> tuple[np.ndarray, float]:
        """The tool centre point's position and yaw (the opening is ``scene.opening``)."""

    def render(self, camera: str, width: int, height: int) -> np.ndarray:
        """An RGB frame (height, width, 3) uint8 from a named camera."""

    def cameras(self) -> list[str]:
        """The camera names ``render`` accepts."""

    def close(self) -> None:
        """Release renderers and engine handles."""


BACKENDS: Registry = Registry("simulator backend")
register_backend = BACKENDS.register  # ``@register_backend`` on a class with ``name`` and ``__init__(sim_cfg)``


def builtin(module: str, cls: str):
    """A built-in backend registered by name and imported when first constructed, so ``import robot_cl``
    loads no physics engine; importing its module registers the class itself in its place."""

    def construct(cfg: dict):
        return getattr(importlib.import_module(module), cls)(cfg)

    construct.__doc__ = f"{module}.{cls}"
    return construct


register_backend(builtin("robot_cl.sim.mujoco.backend", "MujocoBackend"), name="mujoco")
register_backend(builtin("robot_cl.sim.pybullet.backend", "PybulletBackend"), name="pybullet")
