"""Small, fast building blocks for tests of robot_cl and of plugins written for it.

Policy and learner settings are the shipped config groups' with small networks (tests check
mechanisms, not capacity); :class:`TinyLearner` offers the learner attributes a strategy plugin uses
around a linear model whose gradients are checkable by hand; :class:`PointTask` is a one-dimensional
task an RL agent learns in a few hundred steps.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from robot_cl.cli import compose_overrides
from robot_cl.config import load_yaml
from robot_cl.layout import ACT_DIM, OBS_CENTER, OBS_DIM, OBS_SCALE
from robot_cl.learners import SACLearner
from robot_cl.paths import CONFIGS_DIR
from robot_cl.policies import Policy, build_policy
from robot_cl.rl.agent import SACPolicy
from robot_cl.rl.sac import SAC, SACConfig

CPU = torch.device("cpu")
# Small policies with a module per skill (what the per-module mechanism tests look at; the default
# hierarchical policy shares one behaviour module, exercised through the runner's tests).
HIER = {**load_yaml(CONFIGS_DIR / "policy" / "hierarchical.yaml"), "per_task_modules": True, "trunk": [64, 64], "module_hidden": [32]}
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


def learner_config(name: str, **overrides) -> dict:
    """``learner=<name>``'s composed settings (configs/learner/<name>.yaml), with ``overrides``."""
    return {**compose_overrides([f"learner={name}"])["learner"], **overrides}


def sac_agent(obs_dim: int, act_dim: int, n_tasks: int = 1, discrete: tuple[int, ...] = (), seed: int = 0, **agent):
    """A flat SAC agent (initialised from ``seed``) and its learner with learner=sac's settings (``agent``
    overrides them, e.g. ``hidden=[32, 32]``); ``discrete`` gives the actor categorical groups leading the action."""
    learner_cfg = learner_config("sac", **agent)
    torch.manual_seed(seed)
    policy = SACPolicy(SACLearner.policy_config(FLAT, learner_cfg), obs_dim, act_dim, n_tasks)
    if discrete:
        policy.sac = SAC(obs_dim, act_dim, n_tasks, SACConfig.from_agent(policy.cfg["sac"], discrete=discrete))
    return policy, SACLearner(policy, learner_cfg, [], CPU)


def household_sac_policy(n_tasks: int = 2) -> SACPolicy:
    """A small flat SAC agent for the household observation and action spaces."""
    return sac_agent(OBS_DIM, ACT_DIM, n_tasks, hidden=[32, 32])[0]


def sac_config(**agent) -> SACConfig:
    """learner=sac's agent settings as a :class:`SACConfig` (``agent`` overrides them)."""
    discrete = agent.pop("discrete", ())
    return SACConfig.from_agent(learner_config("sac", **agent), discrete=discrete)


def sac_batch(sac: SAC, n: int = 16, seed: int = 0, task: int = 0) -> dict[str, torch.Tensor]:
    """A random batch of transitions shaped for ``sac``."""
    g = torch.Generator().manual_seed(seed)
    return {
        "obs": torch.randn(n, sac.obs_dim, generator=g),
        "act": torch.rand(n, sac.act_dim, generator=g) * 2 - 1,
        "rew": torch.randn(n, generator=g),
        "next_obs": torch.randn(n, sac.obs_dim, generator=g),
        "done": torch.zeros(n),
        "task": torch.full((n,), task, dtype=torch.long),
    }


def rl_run_args(cache_dir, *extra: str) -> list[str]:
    """CLI overrides for a 2-skill SAC run with tiny networks and budgets (``extra`` sets policy, strategy, steps)."""
    base = ["curriculum=mini", "learner=sac", "learner.hidden=[32,32]", "eval=quick", "eval.recovery.enabled=false"]
    return [*base, "workers=1", "threads=1", "progress=false", f"cache_dir={cache_dir}", *extra]


class PointTask:
    """A trivial task: move a point on a line to +0.5; reward -|x - 0.5| per step, 10-step episodes."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self) -> np.ndarray:
        self.x, self.t = float(self.rng.uniform(-1, 1)), 0
        return np.array([self.x], np.float32)

    def step(self, a: np.ndarray) -> tuple[np.ndarray, float, bool]:
        self.x = float(np.clip(self.x + 0.3 * a[0], -1, 1))
        self.t += 1
        return np.array([self.x], np.float32), -abs(self.x - 0.5), self.t >= 10


class TinyLearner:
    """The learner attributes a strategy plugin uses, around a hand-checkable model: ``policy`` is a
    linear model and the loss is the mean squared error ``mean (f(x) - y)^2`` of its first output."""

    def __init__(self, in_dim: int = 2, out_dim: int = 1, bias: bool = True, batch_size: int = 4, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.policy = nn.Linear(in_dim, out_dim, bias=bias).double()
        self.device = CPU
        self.batch_size = batch_size

    def named_parameters(self):
        return list(self.policy.named_parameters())

    def loss_on(self, batch):
        b = batch["steps"]
        loss = ((self.policy(b["x"])[:, 0] - b["y"]) ** 2).mean()
        return loss, {"mse": float(loss.detach())}

    def outputs(self, batch):
        f = self.policy(batch["steps"]["x"])
        return {"steps": {"first": f[:, :1], "rest": f[:, 1:]}}  # two output tensors: MAS must use all of them

    def set(self, **values) -> None:
        """Set parameters by name (``weight=[[1, 2]]``, ``bias=[0.5]``)."""
        with torch.no_grad():
            for n, v in values.items():
                getattr(self.policy, n).copy_(torch.as_tensor(v, dtype=torch.float64).view_as(getattr(self.policy, n)))


def tiny_data(x, y) -> dict:
    """A :class:`TinyLearner` dataset from inputs ``x`` (rows) and targets ``y``."""
    return {"steps": {"x": torch.tensor(x, dtype=torch.float64), "y": torch.tensor(y, dtype=torch.float64)}}


def value(t: torch.Tensor) -> float:
    return float(t.detach())


def perturb(module: nn.Module, scale: float = 0.05, seed: int = 1) -> None:
    """Add seeded Gaussian noise to every parameter (a stand-in for training)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
