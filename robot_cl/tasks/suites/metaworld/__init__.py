"""The Meta-World v3 suite: ``robot_cl/MetaWorld-v0`` (seeded episodes, :mod:`.env`), the Sawyer's
primitive-program experts (:mod:`.experts`) and Meta-World's own scripted policies (raw actions)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from robot_cl.tasks.suites import TaskSuite, register_suite
from robot_cl.tasks.suites.metaworld.experts import EXPERTS

ENV_ID = "robot_cl/MetaWorld-v0"
if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="robot_cl.tasks.suites.metaworld.env:MetaWorldEnv")


def task_defaults(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One Meta-World task (``kwargs.task``, e.g. ``hammer-v3``): the env id, Meta-World's scripted policy
    as the raw-action expert and, where this suite has one, the primitive program."""
    task = str((spec.get("kwargs") or {}).get("task", ""))
    base = task.removesuffix("-v3")
    out = {
        "env_id": ENV_ID,
        "import": __name__,
        "expert": "metaworld.policies:Sawyer" + "".join(p.capitalize() for p in base.split("-")) + "V3Policy",
    }
    if task in EXPERTS:
        out["primitive_expert"] = f"{EXPERTS[task].__module__}:{EXPERTS[task].__name__}"
    return out


register_suite(TaskSuite("metaworld", "Meta-World v3 tasks on the Sawyer (Continual World's CW10/CW20)", task_defaults))
