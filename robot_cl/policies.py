"""Policies learned by behaviour cloning: ``flat`` (raw actions) and ``hierarchical`` (primitives).

* :class:`FlatPolicy` maps an observation (plus an optional task one-hot) to a raw action, with
  one shared head or one head per task (Continual World's multi-head setting).
* :class:`HierarchicalPolicy` is a modular behaviour layer: a shared trunk and one *behaviour
  module* per skill (added by :meth:`add_task` when the skill arrives). From the observation at a
  decision point, a module chooses the next motion primitive and its parameters; the primitive
  then runs closed loop until it finishes and the module decides again (so a failed grasp can be
  retried). Primitives are the analytic controllers of :mod:`robot_cl.primitives` or, with
  ``learned_primitives: true``, a learned low-level network trained on the controllers' traces,
  so that both levels learn continually.

Every policy exposes ``dataset(demos, task)`` (training tensors), ``loss(batch)``, ``add_task``,
``spec()`` (enough to rebuild it elsewhere) and the acting methods used by evaluation.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from robot_cl.demos import DemoSet
from robot_cl.errors import ConfigError
from robot_cl.primitives import PRIMITIVES, Command, EEState, Primitive, make_primitive, wrap_angle
from robot_cl.primitives.vocabulary import MAX_PARAMS, PRIMITIVE_NAMES, goal_features
from robot_cl.registry import Registry
from robot_cl.routing import TaskRouter

Batch = dict[str, dict[str, torch.Tensor]]


class MaskedLinear(nn.Linear):
    """A linear layer whose weights can belong to tasks (used by PackNet).

    ``owner`` holds, per weight, the task that owns it (0 for everything until a strategy assigns
    owners; :data:`FREE` for released weights). While a *task view* ``t`` is set, only weights
    owned by tasks ``<= t`` are used, so each task sees the network it was trained with.
    """

    FREE = 32767

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.register_buffer("owner", torch.zeros(out_features, in_features, dtype=torch.int16))
        self.view_task: int | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.view_task is None:
            return super().forward(x)
        return nn.functional.linear(x, self.weight * (self.owner <= self.view_task), self.bias)


def mlp(sizes: list[int], layer_norm: bool = False) -> nn.Sequential:
    """Task-maskable linear layers (:class:`MaskedLinear`) with ReLU between them (and LayerNorm after the first, if asked)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(MaskedLinear(a, b))
        if i < len(sizes) - 2:
            if layer_norm and i == 0:
                layers.append(nn.LayerNorm(b))
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def param_scales() -> torch.Tensor:
    """(n_primitives, MAX_PARAMS) scale of every primitive parameter: 0.1 m for lengths, 1 rad for angles."""
    scales = torch.ones(len(PRIMITIVE_NAMES), MAX_PARAMS)
    for i, name in enumerate(PRIMITIVE_NAMES):
        for j, p in enumerate(PRIMITIVES[name].param_names):
            scales[i, j] = 1.0 if p in ("yaw", "angle") else 0.1
    return scales


def param_mask() -> torch.Tensor:
    """(n_primitives, MAX_PARAMS) 1 where the primitive has that parameter."""
    mask = torch.zeros(len(PRIMITIVE_NAMES), MAX_PARAMS)
    for i, name in enumerate(PRIMITIVE_NAMES):
        mask[i, : len(PRIMITIVES[name].param_names)] = 1.0
    return mask


class Policy(nn.Module):
    """Common parts: input normalisation, task one-hot, per-task module bookkeeping."""

    kind = ""
    action_sizes: list[int] | None = None  # per task, how many action entries are the task's own (None: all)
    route_group = "steps"  # the data group whose observations are the ones the policy acts on (routing)

    def __init__(self, cfg: dict, obs_dim: int, act_dim: int, n_tasks: int, obs_center=None, obs_scale=None) -> None:
        super().__init__()
        self.cfg, self.obs_dim, self.act_dim, self.n_tasks = dict(cfg), obs_dim, act_dim, n_tasks
        self.task_onehot = bool(cfg["task_onehot"])
        self.in_dim = obs_dim + (n_tasks if self.task_onehot else 0)
        center = torch.zeros(obs_dim) if obs_center is None else torch.as_tensor(obs_center, dtype=torch.float32)
        scale = torch.ones(obs_dim) if obs_scale is None else torch.as_tensor(obs_scale, dtype=torch.float32)
        self.register_buffer("obs_center", center)
        self.register_buffer("obs_scale", scale)
        self.tasks_added = 0
        # task_id false: acting never receives the skill's id; a router infers it from the observation.
        self.task_id = bool(cfg.get("task_id", True))
        self.router = None if self.task_id else TaskRouter(obs_dim, n_tasks)
        self.last_route: int | None = None  # the task the router chose for the latest decision

    def spec(self) -> dict[str, Any]:
        """Everything needed to rebuild this policy (with :func:`build_policy`) before loading weights."""
        return {
            "cfg": self.cfg,
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "n_tasks": self.n_tasks,
            "obs_center": self.obs_center.tolist(),
            "obs_scale": self.obs_scale.tolist(),
            "tasks_added": self.tasks_added,
        } | ({"action_sizes": self.action_sizes} if self.action_sizes is not None else {})

    def set_action_sizes(self, sizes: list[int]) -> None:
        """Tasks padded to a common action size: task ``t`` owns the first ``sizes[t]`` entries (the
        env ignores the rest), so behaviour cloning leaves the padding out of the loss."""
        if len(sizes) != self.n_tasks or not all(0 < a <= self.act_dim for a in sizes):
            raise ConfigError(f"action_sizes must give 1..{self.act_dim} entries for each of {self.n_tasks} tasks, got {sizes}")
        self.action_sizes = [int(a) for a in sizes]
        mask = (torch.arange(self.act_dim)[None] < torch.tensor(self.action_sizes)[:, None]).float()
        self.register_buffer("action_mask", mask.to(self.device), persistent=False)  # rebuilt from the spec, not saved

    def normalise(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs - self.obs_center) / self.obs_scale

    def observe_task(self, task: int, data: dict[str, dict[str, torch.Tensor]]) -> None:
        """Task-agnostic policies: add a task's training observations to the router's statistics."""
        if self.router is not None and self.route_group in data:
            self.router.update(task, self.normalise(data[self.route_group]["obs"].to(self.device)))

    def acting_task(self, obs: torch.Tensor, task: int | None) -> torch.Tensor:
        """The task index to act with for one observation (1, obs_dim): the given one, or (task-agnostic)
        the router's choice. A task-agnostic policy refuses an id, so evaluation cannot leak it."""
        if self.task_id:
            if task is None:
                raise ValueError("this policy acts on a task id (policy.task_id=true) and was given none")
            return torch.tensor([task], device=self.device)
        if task is not None:
            raise ValueError("a task-agnostic policy (policy.task_id=false) must not be handed the task id")
        routed = self.router.route(self.normalise(obs))
        self.last_route = int(routed[0])
        return routed

    def inputs(self, obs: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        x = self.normalise(obs)
        if self.task_onehot:
            x = torch.cat([x, nn.functional.one_hot(task, self.n_tasks).to(x.dtype)], dim=-1)
        return x

    def add_task(self, task: int) -> None:
        """Grow per-task modules so that ``task`` has one (no-op for shared ones)."""
        if not 0 <= task < self.n_tasks:
            raise ConfigError(f"task index {task} outside the curriculum's {self.n_tasks} tasks")
        while self.tasks_added <= task:
            self._grow(self.tasks_added)
            self.tasks_added += 1

    def _grow(self, task: int) -> None:
        pass

    @property
    def masked_layers(self) -> list[MaskedLinear]:
        return [m for m in self.modules() if isinstance(m, MaskedLinear)]

    def forward(self, obs: torch.Tensor, task: torch.Tensor):
        """Outputs for a batch. With ``task_views`` on (set by PackNet), each task's samples go
        through the weights that task owns; otherwise through all weights."""
        return self.in_task_views(self._forward, task, obs, task)

    def in_task_views(self, fn, task: torch.Tensor, *inputs: torch.Tensor):
        """``fn(*inputs)`` (tensors with one row per sample); with ``task_views`` on, each task's rows
        go through the weights that task owns, and the outputs are put back in the rows' order."""
        if not self.cfg.get("task_views"):
            return fn(*inputs)
        layers = self.masked_layers
        parts, order = [], []
        for t in torch.unique(task).tolist():
            sel = torch.nonzero(task == t).squeeze(1)
            for m in layers:
                m.view_task = t
            try:
                parts.append(fn(*(x[sel] for x in inputs)))
            finally:
                for m in layers:
                    m.view_task = None
            order.append(sel)
        inverse = torch.argsort(torch.cat(order))
        if isinstance(parts[0], tuple):
            return tuple(torch.cat([p[i] for p in parts])[inverse] for i in range(len(parts[0])))
        return torch.cat(parts)[inverse]

    def _forward(self, obs: torch.Tensor, task: torch.Tensor):
        raise NotImplementedError

    def module_index(self, task: torch.Tensor, n_modules: int) -> torch.Tensor:
        """Per-task module of each sample; a skill not learned yet uses the newest module (zero-shot)."""
        return task.clamp(max=n_modules - 1) if n_modules > 1 else torch.zeros_like(task)

    @property
    def device(self) -> torch.device:
        return self.obs_center.device


class FlatPolicy(Policy):
    """Observation (+ task one-hot) -> raw action in [-1, 1]."""

    kind = "flat"

    def __init__(self, cfg, obs_dim, act_dim, n_tasks, obs_center=None, obs_scale=None):
        super().__init__(cfg, obs_dim, act_dim, n_tasks, obs_center, obs_scale)
        hidden = list(cfg["hidden"])
        self.trunk = mlp([self.in_dim, *hidden], layer_norm=cfg["layer_norm"])
        self.trunk.append(nn.ReLU())
        self.heads = nn.ModuleList()
        self.hidden_out = hidden[-1]
        if not cfg["per_task_modules"]:
            self.heads.append(MaskedLinear(self.hidden_out, act_dim))

    def _grow(self, task):
        if self.cfg["per_task_modules"]:
            self.heads.append(MaskedLinear(self.hidden_out, self.act_dim).to(self.device))

    def _forward(self, obs: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        h = self.trunk(self.inputs(obs, task))
        idx = self.module_index(task, len(self.heads))
        if len(self.heads) == 1:
            return torch.tanh(self.heads[0](h))
        out = torch.stack([head(h) for head in self.heads], dim=1)  # (B, heads, act)
        return torch.tanh(out[torch.arange(len(idx), device=idx.device), idx])

    def dataset(self, demos: DemoSet, task: int) -> dict[str, dict[str, torch.Tensor]]:
        """Training tensors: one row per control step (``episode`` lets memories keep whole episodes)."""
        n = len(demos.obs)
        return {
            "steps": {
                "obs": torch.as_tensor(demos.obs),
                "action": torch.as_tensor(demos.actions),
                "task": torch.full((n,), task, dtype=torch.long),
                "episode": torch.as_tensor(demos.episode).long(),
            }
        }

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        b = batch["steps"]
        pred = self.forward(b["obs"], b["task"])
        if self.action_sizes is None:
            loss = nn.functional.mse_loss(pred, b["action"])
        else:  # padded entries are nobody's target: mean over each sample's own entries only
            m = self.action_mask[b["task"]]
            loss = (((pred - b["action"]) ** 2) * m).sum() / m.sum()
        return loss, {"action_mse": float(loss.detach())}

    def outputs(self, batch: Batch) -> dict[str, dict[str, torch.Tensor]]:
        """Network outputs per data group (used by distillation, MAS and DER)."""
        return {"steps": {"action": self.forward(batch["steps"]["obs"], batch["steps"]["task"])}}

    @torch.no_grad()
    def act(self, obs: np.ndarray, task: int | None) -> np.ndarray:
        """The action for one observation (``task`` None for a task-agnostic policy)."""
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None]
        return self.forward(o, self.acting_task(o, task))[0].cpu().numpy()


class BehaviourModule(nn.Module):
    """Chooses a primitive (logits) and its parameters from trunk features and the raw input.

    Parameters also get a linear path from the (normalised) input: most of them are object
    positions plus offsets, which a linear map expresses exactly.
    """

    def __init__(self, feat_dim: int, in_dim: int, hidden: list[int]) -> None:
        super().__init__()
        n = len(PRIMITIVE_NAMES)
        self.body = mlp([feat_dim, *hidden])
        self.body.append(nn.ReLU())
        self.logits = MaskedLinear(hidden[-1], n)
        self.params = MaskedLinear(hidden[-1], n * MAX_PARAMS)
        self.params_linear = MaskedLinear(in_dim, n * MAX_PARAMS)

    def forward(self, feat: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(feat)
        params = (self.params(h) + self.params_linear(x)).view(-1, len(PRIMITIVE_NAMES), MAX_PARAMS)
        return self.logits(h), params


class LowLevelNet(nn.Module):
    """Learned primitive controller: primitive id and goal-relative tool state -> normalised command."""

    in_dim = len(PRIMITIVE_NAMES) + 9

    def __init__(self, hidden: list[int]) -> None:
        super().__init__()
        # Shared by the skills; its layers are task-masked like the rest, so PackNet can keep each
        # skill's low-level weights (a LearnedPrimitive runs in its skill's task view).
        self.net = mlp([self.in_dim, *hidden, 5])
        # Near the goal the controllers' commands are linear in the goal-relative features: a linear
        # path lets the network match them precisely, so learned primitives converge like the originals.
        self.linear = MaskedLinear(self.in_dim, 5)

    @staticmethod
    def features(prim: torch.Tensor, goal: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        """prim (B,), goal (B, 6) from :func:`robot_cl.demos.goal_features`, obs (B, 29)."""
        pos, yaw = obs[:, 0:3], torch.atan2(obs[:, 3], obs[:, 4])
        has_pos = torch.isfinite(goal[:, 0:1]).to(obs.dtype)
        has_yaw = torch.isfinite(goal[:, 3:4]).to(obs.dtype)
        dpos = torch.nan_to_num(goal[:, 0:3] - pos) / 0.05
        dyaw = torch.nan_to_num(wrap_angle(goal[:, 3] - yaw))[:, None]
        rest = torch.stack([obs[:, 5], goal[:, 4], goal[:, 5]], dim=1)
        onehot = nn.functional.one_hot(prim.long(), len(PRIMITIVE_NAMES)).to(obs.dtype)
        return torch.cat([onehot, dpos.clamp(-3, 3), dyaw, has_pos, has_yaw, rest], dim=1)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(feats) + self.linear(feats))


class HierarchicalPolicy(Policy):
    """Shared trunk + per-skill behaviour modules over motion primitives (see the module docstring)."""

    kind = "hierarchical"
    route_group = "calls"  # it acts at decision points

    def __init__(self, cfg, obs_dim, act_dim, n_tasks, obs_center=None, obs_scale=None):
        super().__init__(cfg, obs_dim, act_dim, n_tasks, obs_center, obs_scale)
        trunk = list(cfg["trunk"])
        self.module_hidden = list(cfg["module_hidden"])
        self.trunk = mlp([self.in_dim, *trunk], layer_norm=cfg["layer_norm"])
        self.trunk.append(nn.ReLU())
        self.feat_dim = trunk[-1]
        self.behaviours = nn.ModuleList()
        if not cfg["per_task_modules"]:
            self.behaviours.append(BehaviourModule(self.feat_dim, self.in_dim, self.module_hidden))
        self.param_weight = float(cfg["param_loss_weight"])
        self.register_buffer("scales", param_scales())
        self.register_buffer("mask", param_mask())
        self.low_level = LowLevelNet(list(cfg["low_level_hidden"])) if cfg["learned_primitives"] else None

    def _grow(self, task):
        if self.cfg["per_task_modules"]:
            self.behaviours.append(BehaviourModule(self.feat_dim, self.in_dim, self.module_hidden).to(self.device))

    def _forward(self, obs: torch.Tensor, task: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Primitive logits (B, P) and normalised parameters (B, P, MAX_PARAMS)."""
        x = self.inputs(obs, task)
        feat = self.trunk(x)
        if len(self.behaviours) == 1:
            return self.behaviours[0](feat, x)
        idx = self.module_index(task, len(self.behaviours))
        logits = torch.zeros(len(idx), len(PRIMITIVE_NAMES), device=obs.device)
        params = torch.zeros(len(idx), len(PRIMITIVE_NAMES), MAX_PARAMS, device=obs.device)
        for m in torch.unique(idx).tolist():  # each sample goes through its own skill's module
            sel = idx == m
            logits[sel], params[sel] = self.behaviours[m](feat[sel], x[sel])
        return logits, params

    def dataset(self, demos: DemoSet, task: int) -> dict[str, dict[str, torch.Tensor]]:
        keep = demos.call_steps > 0  # calls that finished at once (e.g. opening an open gripper) teach nothing
        n = int(keep.sum())
        data = {
            "calls": {
                "obs": torch.as_tensor(demos.call_obs[keep]),
                "prim": torch.as_tensor(demos.call_prim[keep]).long(),
                "params": torch.as_tensor(demos.call_params[keep]),
                "task": torch.full((n,), task, dtype=torch.long),
                "episode": torch.as_tensor(demos.call_episode[keep]).long(),
            }
        }
        if self.low_level is not None:
            data["steps"] = {
                "obs": torch.as_tensor(demos.obs),
                "goal": torch.as_tensor(demos.step_goal),
                "prim": torch.as_tensor(demos.call_prim[demos.step_call]).long(),
                "action": torch.as_tensor(demos.actions),
                "task": torch.full((len(demos.obs),), task, dtype=torch.long),
                "episode": torch.as_tensor(demos.episode).long(),
            }
        return data

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        b = batch["calls"]
        logits, params = self.forward(b["obs"], b["task"])
        ce = nn.functional.cross_entropy(logits, b["prim"])
        rows = torch.arange(len(b["prim"]), device=logits.device)
        chosen = params[rows, b["prim"]]
        target = b["params"] / self.scales[b["prim"]]
        mse = (((chosen - target) ** 2) * self.mask[b["prim"]]).sum(1).mean()
        loss = ce + self.param_weight * mse
        info = {"primitive_ce": float(ce.detach()), "param_mse": float(mse.detach())}
        if self.low_level is not None and "steps" in batch:
            s = batch["steps"]
            pred = self.low_level_commands(LowLevelNet.features(s["prim"], s["goal"], s["obs"]), s["task"])
            ll = nn.functional.mse_loss(pred, s["action"])
            loss = loss + ll
            info["low_level_mse"] = float(ll.detach())
        return loss, info

    def outputs(self, batch: Batch) -> dict[str, dict[str, torch.Tensor]]:
        """Network outputs per data group: primitive logits and parameters, low-level commands."""
        logits, params = self.forward(batch["calls"]["obs"], batch["calls"]["task"])
        out = {"calls": {"logits": logits, "params": params}}
        if self.low_level is not None and "steps" in batch:
            s = batch["steps"]
            out["steps"] = {"low_level": self.low_level_commands(LowLevelNet.features(s["prim"], s["goal"], s["obs"]), s["task"])}
        return out

    def low_level_commands(self, feats: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        """The learned low-level network's commands, each sample in its skill's task view."""
        return self.in_task_views(self.low_level, task, feats)

    @torch.no_grad()
    def decide(self, obs: np.ndarray, task: int | None) -> Primitive:
        """The next primitive (with its parameters) for this observation (``task`` None: task-agnostic)."""
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None]
        t = self.acting_task(o, task)
        task = int(t[0])
        logits, params = self.forward(o, t)
        k = int(logits[0].argmax())
        values = (params[0, k] * self.scales[k]).cpu().numpy()
        prim = make_primitive(PRIMITIVE_NAMES[k], values)
        return LearnedPrimitive(prim, self, k, task) if self.low_level is not None else prim


class LearnedPrimitive(Primitive):
    """An analytic primitive whose per-step commands come from :class:`LowLevelNet`.

    Termination, budget and the achieved report stay those of the wrapped primitive.
    """

    def __init__(self, inner: Primitive, policy: HierarchicalPolicy, index: int, task: int) -> None:
        self.inner, self.policy, self.index = inner, policy, index
        self.device = policy.device
        self.task = torch.tensor([task], device=self.device)
        self.name, self.param_names, self.params = inner.name, inner.param_names, inner.params
        self.max_steps = inner.max_steps

    def start(self, ee, s: EEState, held_grip: float) -> None:
        self.inner.start(ee, s, held_grip)
        self.ee, self.start_state, self.held_grip = ee, s, self.inner.held_grip
        self.goal = torch.as_tensor(goal_features(self.inner))[None]  # fixed once the primitive has started

    @property
    def steps(self) -> int:
        return self.inner.steps

    @torch.no_grad()
    def command(self, s: EEState) -> Command:
        self.inner.command(s)  # keeps the wrapped primitive's step count and progress tracking
        obs = torch.zeros(1, 6)
        obs[0, :3] = torch.as_tensor(s.pos)
        obs[0, 3], obs[0, 4], obs[0, 5] = math.sin(s.yaw), math.cos(s.yaw), s.opening
        feats = LowLevelNet.features(torch.tensor([self.index]), self.goal, obs)
        out = self.policy.low_level_commands(feats.to(self.device), self.task)[0].cpu().numpy()
        return Command(out[:3].astype(float), float(out[3]), float(out[4]))

    def finished(self, s: EEState) -> bool:
        return self.inner.finished(s)

    def achieved(self, s: EEState) -> bool:
        return self.inner.achieved(s)


POLICIES: Registry = Registry("policy")
register_policy = POLICIES.register  # ``register_policy(cls, name="...")``: make a policy class available as ``policy.name``
register_policy(FlatPolicy, name="flat")
register_policy(HierarchicalPolicy, name="hierarchical")


def build_policy(spec: dict[str, Any]) -> Policy:
    """Rebuild a policy from :meth:`Policy.spec` (weights are loaded separately)."""
    policy = POLICIES[spec["cfg"].get("name")](
        spec["cfg"], spec["obs_dim"], spec["act_dim"], spec["n_tasks"], spec.get("obs_center"), spec.get("obs_scale")
    )
    if spec.get("action_sizes") is not None:
        policy.set_action_sizes(spec["action_sizes"])
    for t in range(spec.get("tasks_added", 0)):
        policy.add_task(t)
    return policy


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = [
    "POLICIES",
    "BehaviourModule",
    "FlatPolicy",
    "HierarchicalPolicy",
    "LowLevelNet",
    "Policy",
    "build_policy",
    "count_params",
    "register_policy",
]
