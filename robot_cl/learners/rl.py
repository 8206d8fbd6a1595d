"""What the RL learners (SAC, PPO) share: :class:`RLLearner` (the strategy interface, the agent's config,
the vector env a task is collected from, the per-task strategy set-up, checkpoint state) and
:class:`EpisodeStats` (the training episodes' returns and successes)."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from robot_cl.errors import ConfigError
from robot_cl.learners.base import RLTask
from robot_cl.policies import Policy
from robot_cl.rl.vec import step_success, vectorise
from robot_cl.strategies import Data, Plugin
from robot_cl.strategies.base import to_device


class RLLearner:
    """What the RL learners (SAC, PPO) share: the strategy interface of :class:`robot_cl.learners.BCLearner`
    (``named_parameters``, ``loss_on``, ``outputs``, ``optimizer``), the agent's config, the vector
    env a task is collected from, the per-task strategy set-up, and checkpoint state.

    A subclass names its agent policy class (``agent``) and the learner config keys the agent is
    built from (``agent_keys``), and writes ``train_task``.
    """

    name: ClassVar[str] = ""
    needs_demos = False  # collects its own data from the task's environment
    budget_key = "steps"  # environment steps per stage (curves, recovery and the progress bar count them)
    agent: ClassVar[type[Policy]]
    agent_keys: ClassVar[tuple[str, ...]]

    def __init__(self, policy: Policy, cfg: dict, plugins: list[Plugin], device: torch.device) -> None:
        if not isinstance(policy, self.agent):
            raise ConfigError(f"learner={self.name} trains the {self.name.upper()} agent policy, got {type(policy).__name__}")
        self.policy, self.cfg, self.plugins, self.device = policy, cfg, plugins, device
        self.batch_size = int(cfg["batch_size"])
        self.lr = float(cfg["lr"])
        self.grad_clip = float(cfg["grad_clip"])
        self.reset_optimizers()
        self.total_updates = 0
        self.env_steps = 0
        self.memory: Data = {}

    @classmethod
    def policy_config(cls, policy_cfg: dict, learner_cfg: dict) -> dict:
        """The agent's config: the policy group's task settings plus the learner's network settings."""
        name = policy_cfg.get("name")
        if name not in ("flat", "hierarchical"):
            raise ConfigError(f"learner={cls.name} trains policy=flat or policy=hierarchical; got policy={name}; valid: flat, hierarchical")
        missing = [k for k in cls.agent_keys if k not in learner_cfg]
        if missing:
            raise ConfigError(f"learner={cls.name} config lacks {', '.join(missing)} (configs/learner/{cls.name}.yaml has them)")
        agent = {k: learner_cfg[k] for k in cls.agent_keys}
        # policy=hierarchical acts in primitive space: one action is a primitive call (robot_cl.rl.primitive_env).
        out = {**policy_cfg, "name": f"{cls.name}_{name}", cls.name: agent, "primitive_actions": name == "hierarchical"}
        if name == "hierarchical":
            out["primitive_env"] = dict(learner_cfg["primitive_env"])
        return out

    # -- what strategies use (the same as BCLearner) -------------------------------------------------
    def named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.policy.named_parameters() if p.requires_grad]

    def loss_on(self, batch: Data) -> tuple[torch.Tensor, dict[str, float]]:
        return self.policy.loss(batch)

    def outputs(self, batch: Data) -> dict[str, dict[str, torch.Tensor]]:
        return self.policy.outputs(batch)

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam([p for _, p in self.named_parameters()], lr=self.lr)

    def reset_optimizers(self) -> None:
        self.optimizer = self.make_optimizer()

    # -- per task --------------------------------------------------------------------------------------
    def make_envs(self, data: RLTask) -> gym.vector.VectorEnv:
        """``learner.n_envs`` copies of the task (in primitive space for a hierarchical agent)."""
        primitive_env = self.policy.cfg["primitive_env"] if self.policy.primitive_actions else None
        n_envs, asynchronous = max(1, int(self.cfg["n_envs"])), bool(self.cfg["asynchronous"])
        return vectorise(data.make_env, n_envs, asynchronous, primitive_env, self.cfg["workers"])

    def start_task(self, task: int, empty: Data) -> None:
        """Fresh optimiser states (``reset_optimizer``), the strategies' extra rows, ``before_training_task``."""
        if self.cfg["reset_optimizer"]:
            self.reset_optimizers()
        memory = empty
        for p in self.plugins:  # rows a strategy wants trained on besides the task's own (replay, multitask)
            memory = p.training_data(self, task, memory)
        self.memory = to_device(memory, self.device)
        for p in self.plugins:
            p.before_training_task(self, task, self.memory)

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "total_updates": self.total_updates, "env_steps": self.env_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.reset_optimizers()
        self.optimizer.load_state_dict(state["optimizer"])
        self.total_updates, self.env_steps = int(state["total_updates"]), int(state["env_steps"])


class EpisodeStats:
    """Episode ids, returns and successes of the training episodes of a vector env's sub-envs."""

    def __init__(self, n_envs: int) -> None:
        self.ids = np.arange(n_envs)  # each env's current episode (ids are unique within the task)
        self.next_id = n_envs
        self.ret, self.success = np.zeros(n_envs), np.zeros(n_envs, bool)
        self.returns: list[float] = []
        self.successes: list[float] = []
        self.last: dict[str, float] = {}  # the summary, recomputed when an episode ends (not at every step)

    def step(self, reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, info: dict) -> np.ndarray:
        """Account one vector step; returns the episode id of each env's transition."""
        ids, ended = self.ids.copy(), np.logical_or(terminated, truncated)
        self.ret += reward
        self.success |= step_success(info, ended)
        for i in np.flatnonzero(ended):
            self.returns.append(float(self.ret[i]))
            self.successes.append(float(self.success[i]))
            self.ids[i], self.next_id, self.ret[i], self.success[i] = self.next_id, self.next_id + 1, 0.0, False
        if ended.any():
            self.last = {"episode_return": float(np.mean(self.returns[-20:])), "episode_success": float(np.mean(self.successes[-20:]))}
        return ids

    def summary(self) -> dict[str, float]:
        """Mean return and success of the last 20 finished episodes (empty before the first)."""
        return self.last
