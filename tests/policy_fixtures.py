"""Small policies shared by test modules (pytest puts tests/ on sys.path)."""

import torch

from robot_cl.policies import Policy, build_policy
from robot_cl.sim.env import ACT_DIM, OBS_CENTER, OBS_DIM, OBS_SCALE

# Small networks: the tests check mechanisms, not capacity.
HIER = {"name": "hierarchical", "task_onehot": True, "per_task_modules": True, "trunk": [64, 64], "module_hidden": [32], "layer_norm": True}
FLAT = {"name": "flat", "task_onehot": True, "per_task_modules": True, "hidden": [64, 64], "layer_norm": True}


def make_policy(cfg: dict, n_tasks: int = 2, seed: int = 0) -> Policy:
    """A freshly initialised policy for the household observation and action spaces."""
    torch.manual_seed(seed)
    spec = {
        "cfg": cfg,
        "obs_dim": OBS_DIM,
        "act_dim": ACT_DIM,
        "n_tasks": n_tasks,
        "obs_center": OBS_CENTER.tolist(),
        "obs_scale": OBS_SCALE.tolist(),
        "tasks_added": 0,
    }
    return build_policy(spec)
