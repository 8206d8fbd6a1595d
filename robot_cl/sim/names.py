"""The name queries every backend's scene answers the same way, from the same scene description: which
bodies, joints and placeable objects a skill may name. A scene sets ``_bodies`` and ``_joints`` (name ->
anything) and ``objects`` (name -> ``{"radius": ...}``) and inherits these."""

from __future__ import annotations

ROBOT_PREFIX = "panda_"
NOT_ELEMENTS = ("world", "robot_mount")


class SceneNames:
    """Element, joint and placeable names of a household scene (part of :class:`robot_cl.sim.SceneQueries`)."""

    _bodies: dict
    _joints: dict
    objects: dict[str, dict]

    def element_names(self) -> list[str]:
        """Scene bodies a skill may name (everything but the robot and the world)."""
        return [n for n in self._bodies if not n.startswith(ROBOT_PREFIX) and n not in NOT_ELEMENTS]

    def has_element(self, name: str) -> bool:
        return name in self.element_names()

    def joint_names(self) -> list[str]:
        return [n for n in self._joints if not n.startswith(ROBOT_PREFIX) and not n.endswith("_free")]

    def has_joint(self, name: str) -> bool:
        return name in self._joints and not name.startswith(ROBOT_PREFIX) and not name.endswith("_free")

    def placeable_names(self) -> list[str]:
        return [*self.objects, "target"]

    def is_placeable(self, name: str) -> bool:
        return name in self.objects or name == "target"

    def radius(self, name: str) -> float:
        """Footprint radius of a free object (the target marker: 5 cm)."""
        return self.objects[name]["radius"] if name in self.objects else 0.05
