"""Learning from one stream of demonstrations whose boundaries nobody announces (``stream.enabled=true``).

The curriculum's skills still come one after another, but as a single stream of minibatches whose
skill mix drifts (:class:`Mixture`: near each true boundary the share of the next skill rises
linearly over ``stream.blend`` of a stage). The learner is never told the skill or the boundary:
every sample carries the learner's own *segment* index, and :class:`BoundaryDetector` opens a new
segment when the incoming observations stop fitting the current segment's Gaussian (a
distribution-shift detector; task-free continual learning in the sense of Aljundi, Kelchtermans &
Tuytelaars, "Task-Free Continual Learning", CVPR 2019, who detect shifts from loss plateaus). At a
detected boundary the strategies get their usual boundary hooks (``after_training_task`` of the
segment that ended, ``before_training_task`` of the new one) with a short window of the ended
segment's most recent samples — what an online learner has at hand — instead of a whole task's
dataset. The segment Gaussians are the policy's :class:`~robot_cl.routing.TaskRouter`, so acting
routes to segments without a task id, too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from robot_cl.routing import TaskRouter
from robot_cl.strategies.base import Data, concat, rows, tensor_bytes, to_device


class Mixture:
    """The skill shares of the stream at each global update (``T`` stages of ``updates`` each)."""

    def __init__(self, n_skills: int, updates: int, blend: float) -> None:
        self.T, self.U, self.width = n_skills, updates, blend * updates

    @property
    def boundaries(self) -> list[int]:
        """The true boundaries: the updates at which two skills are mixed half and half."""
        return [k * self.U for k in range(1, self.T)]

    def shares(self, u: int) -> np.ndarray:
        """Probability of each skill for a sample of update ``u`` (0-based)."""
        p = np.zeros(self.T)
        k = min(u // self.U, self.T - 1)
        p[k] = 1.0
        for b, new in ((k * self.U, k), ((k + 1) * self.U, k + 1)):  # the fades around this stage's two ends
            if 0 < new < self.T and self.width > 0 and abs(u + 0.5 - b) < self.width / 2:
                f = (u + 0.5 - (b - self.width / 2)) / self.width  # the new skill's share
                p[:] = 0.0
                p[new - 1], p[new] = 1.0 - f, f
        return p


class BoundaryDetector:
    """Opens a new segment when the stream's observations leave the current segment's Gaussian.

    After a boundary the detector spends ``warmup`` updates estimating the new segment's Gaussian
    (from the samples that do not fit the previous one) and sets its outlier distance to ``margin``
    times the ``quantile`` of those samples' squared Mahalanobis distances. From then on every
    sample beyond it is an outlier; when the outlier fraction averaged over the last ``smoothing``
    updates exceeds ``threshold``, a boundary is detected (with a linear fade, about where the next
    skill makes up that share). Inliers keep refining the segment's statistics.
    """

    def __init__(self, router: TaskRouter, warmup: int, smoothing: int, threshold: float, quantile: float, margin: float) -> None:
        self.router = router
        self.warmup, self.smoothing, self.threshold = warmup, smoothing, threshold
        self.quantile, self.margin = quantile, margin
        self.segment, self.since = 0, 0
        self.limits: list[float] = []  # per segment: its outlier distance
        self.recent: list[float] = []
        self.warm: list[torch.Tensor] = []

    def observe(self, x: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """One update's (normalised) observations: which of them belong to the current segment, and
        whether a boundary was detected (the caller then starts segment ``self.segment``)."""
        if len(self.limits) <= self.segment:
            return self._warm_up(x), False
        d = self.router.distance(x, self.segment)
        inlier = d <= self.limits[self.segment]
        self.router.update(self.segment, x[inlier])
        self.recent = (self.recent + [1.0 - float(inlier.double().mean())])[-self.smoothing :]
        if len(self.recent) == self.smoothing and float(np.mean(self.recent)) > self.threshold:
            self.segment, self.since, self.recent = self.segment + 1, 0, []
            return inlier, True
        return inlier, False

    def _warm_up(self, x: torch.Tensor) -> torch.Tensor:
        keep = torch.ones(len(x), dtype=torch.bool, device=x.device)
        if self.segment > 0:  # the tail of the previous segment's skill is not this segment's
            keep = self.router.distance(x, self.segment - 1) > self.limits[self.segment - 1]
        self.router.update(self.segment, x[keep])
        self.warm.append(x[keep].detach().cpu())
        self.since += 1
        seen = torch.cat(self.warm)
        if self.since >= self.warmup and len(seen) > 2 * self.router.dim:  # enough samples for a covariance
            d = self.router.distance(seen, self.segment)
            self.limits.append(self.margin * float(torch.quantile(d, self.quantile)))
            self.warm = []
        return keep

    def state_dict(self) -> dict[str, Any]:
        return {"segment": self.segment, "since": self.since, "limits": self.limits, "recent": self.recent, "warm": self.warm}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.segment, self.since = int(s["segment"]), int(s["since"])
        self.limits, self.recent, self.warm = list(s["limits"]), list(s["recent"]), list(s["warm"])


class Stream:
    """Trains a learner on the stream, stage by stage of the true schedule (so the runner can
    evaluate and checkpoint where it always does); boundaries come from the detector only."""

    def __init__(self, cfg: dict, learner, datasets: list[Data], updates: int) -> None:
        policy = learner.policy
        self.learner, self.policy, self.U = learner, policy, updates
        self.group = policy.route_group
        self.data = [to_device({self.group: d[self.group]}, learner.device) for d in datasets]
        self.mixture = Mixture(len(datasets), updates, float(cfg["blend"]))
        det = cfg["detector"]
        self.detector = BoundaryDetector(
            policy.router, int(det["warmup"]), int(det["smoothing"]), float(det["threshold"]), float(det["quantile"]), float(det["margin"])
        )
        self.capacity = int(cfg["window"])
        self.window: Data | None = None  # the current segment's most recent samples (for the boundary hooks)
        self.detections: list[int] = []  # global updates at which a boundary was detected
        self.ignored: list[int] = []  # detections beyond the policy's task capacity (counted, not acted on)
        self.u = 0  # global updates so far

    def batch(self, gen: torch.Generator) -> Data:
        """One minibatch of the stream at the current update, labelled with the learner's segment."""
        p = torch.as_tensor(self.mixture.shares(self.u))
        skills = torch.multinomial(p, self.learner.batch_size, replacement=True, generator=gen)
        parts = []
        for s in torch.unique(skills).tolist():
            group = self.data[s][self.group]
            n = len(next(iter(group.values())))
            idx = torch.randint(n, (int((skills == s).sum()),), generator=gen).to(self.learner.device)
            parts.append({self.group: {k: v[idx] for k, v in group.items()}})
        out = concat(parts)
        out[self.group]["task"] = torch.full_like(out[self.group]["task"], self.detector.segment)
        return out

    def begin(self) -> None:
        """The first segment starts (a fresh run only; a resumed one is past it)."""
        self.policy.add_task(0)
        for p in self.learner.plugins:
            p.before_training_task(self.learner, 0, self.window or {})

    def train_stage(
        self, index: int, seed: int, on_update: Callable[[int, dict], None] | None = None, checkpoints: dict[int, Callable] | None = None
    ) -> None:
        """The stream's updates of true stage ``index`` (the learner does not know where it is)."""
        gen = torch.Generator().manual_seed(seed)
        self.policy.train()
        for local in range(1, self.U + 1):
            batch = self.batch(gen)
            x = self.policy.normalise(batch[self.group]["obs"])
            mine, detected = self.detector.observe(x)
            self._keep(rows(batch, {self.group: mine}))
            if detected:
                self._boundary(rows(batch, {self.group: ~mine}))
                batch[self.group]["task"].fill_(min(self.detector.segment, self.policy.n_tasks - 1))
            info = self.learner.update(batch)  # the learner's own update, with every plugin hook
            self.u += 1
            if on_update is not None:
                on_update(local, info)
            if checkpoints and local in checkpoints:
                self.policy.eval()
                checkpoints[local](local)
                self.policy.train()
        self.policy.eval()

    def _keep(self, part: Data) -> None:
        self.window = part if self.window is None else concat([self.window, part])
        g = self.window[self.group]
        n = len(g["obs"])
        if n > self.capacity:
            self.window = {self.group: {k: v[n - self.capacity :] for k, v in g.items()}}

    def _boundary(self, first: Data) -> None:
        """A detected boundary: close the segment that ended, open the next one."""
        self.detections.append(self.u)
        seg = self.detector.segment
        if seg >= self.policy.n_tasks:  # more segments than the policy has task slots: keep learning in the last
            self.ignored.append(self.u)
            self.detector.segment = self.policy.n_tasks - 1
            return
        self.end_segment(seg - 1)
        self.window = None
        self._keep(first)
        self.policy.add_task(seg)
        if self.learner.cfg["reset_optimizer"]:
            self.learner.optimizer = self.learner.make_optimizer()
        for p in self.learner.plugins:
            p.before_training_task(self.learner, seg, self.window)
        self.policy.train()

    def end_segment(self, seg: int) -> None:
        """The strategies' end-of-task hooks for segment ``seg``, on its recent samples."""
        self.policy.eval()
        for p in self.learner.plugins:
            p.after_training_task(self.learner, seg, self.window or {})

    def end(self) -> None:
        """The end of the stream is a boundary everyone knows: close the last segment."""
        self.end_segment(self.detector.segment)

    def boundary_metrics(self, tolerance: float) -> dict[str, Any]:
        """Detected vs true boundaries: each true boundary matched to the nearest unmatched detection
        within ``tolerance`` of a stage; the delays (updates, negative = early), misses, false alarms."""
        tol = tolerance * self.U
        free = list(self.detections)
        delays: list[int | None] = []
        for b in self.mixture.boundaries:
            near = [d for d in free if abs(d - b) <= tol]
            hit = min(near, key=lambda d: abs(d - b)) if near else None
            if hit is not None:
                free.remove(hit)
            delays.append(None if hit is None else hit - b)
        found = [d for d in delays if d is not None]
        return {
            "true": self.mixture.boundaries,
            "detected": list(self.detections),
            "delays": delays,
            "within_tolerance": len(found) / max(1, len(delays)),
            "false_alarms": len(free),
            "missed": len(delays) - len(found),
            "tolerance_updates": tol,
            "mean_abs_delay": float(np.mean(np.abs(found))) if found else None,
        }

    def memory_bytes(self) -> int:
        """Bytes of the recent-samples window (the detector's statistics live in the policy's router)."""
        return 0 if self.window is None else tensor_bytes(self.window)

    def state_dict(self) -> dict[str, Any]:
        window = None if self.window is None else {g: {k: v.cpu() for k, v in d.items()} for g, d in self.window.items()}
        det = self.detector.state_dict()
        return {"detector": det, "window": window, "detections": self.detections, "ignored": self.ignored, "u": self.u}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.detector.load_state_dict(s["detector"])
        self.window = None if s["window"] is None else to_device(s["window"], self.learner.device)
        self.detections, self.ignored, self.u = list(s["detections"]), list(s["ignored"]), int(s["u"])
