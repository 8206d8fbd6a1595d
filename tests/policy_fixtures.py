"""Small policies shared by test modules (pytest puts tests/ on sys.path)."""

import torch

from robot_cl.config import load_yaml
from robot_cl.layout import ACT_DIM, OBS_CENTER, OBS_DIM, OBS_SCALE
from robot_cl.paths import CONFIGS_DIR
from robot_cl.policies import Policy, build_policy

# The policy groups' settings with small networks: the tests check mechanisms, not capacity.
HIER = {**load_yaml(CONFIGS_DIR / "policy" / "hierarchical.yaml"), "trunk": [64, 64], "module_hidden": [32]}
FLAT = {**load_yaml(CONFIGS_DIR / "policy" / "flat.yaml"), "per_task_modules": True, "hidden": [64, 64]}
BC = {**load_yaml(CONFIGS_DIR / "learner" / "bc.yaml"), "batch_size": 64, "updates": 100}  # learner=bc, small batches


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


def sac_agent(obs_dim: int, act_dim: int, n_tasks: int = 1, discrete: tuple[int, ...] = (), seed: int = 0, **agent):
    """A flat SAC agent (initialised from ``seed``) and its learner with learner=sac's settings (``agent``
    overrides them, e.g. ``hidden=[32, 32]``); ``discrete`` gives the actor categorical groups leading the action."""
    from robot_cl.cli import compose_overrides
    from robot_cl.learners import SACLearner
    from robot_cl.rl.agent import SACPolicy
    from robot_cl.rl.sac import SAC, SACConfig

    learner_cfg = {**compose_overrides(["learner=sac"])["learner"], **agent}
    torch.manual_seed(seed)
    policy = SACPolicy(SACLearner.policy_config(FLAT, learner_cfg), obs_dim, act_dim, n_tasks)
    if discrete:
        policy.sac = SAC(obs_dim, act_dim, n_tasks, SACConfig.from_agent(policy.cfg["sac"], discrete=discrete))
    return policy, SACLearner(policy, learner_cfg, [], torch.device("cpu"))


def sac_config(**agent):
    """learner=sac's agent settings as a :class:`SACConfig` (``agent`` overrides them)."""
    from robot_cl.cli import compose_overrides
    from robot_cl.rl.sac import SACConfig

    discrete = agent.pop("discrete", ())
    return SACConfig.from_agent({**compose_overrides(["learner=sac"])["learner"], **agent}, discrete=discrete)


def learner_config(name: str, **overrides) -> dict:
    """``learner=<name>``'s composed settings (configs/learner/<name>.yaml), with ``overrides``."""
    from robot_cl.cli import compose_overrides

    return {**compose_overrides([f"learner={name}"])["learner"], **overrides}
