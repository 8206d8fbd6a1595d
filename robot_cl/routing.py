"""Task inference from the observation: which learned behaviour fits what the robot sees.

:class:`TaskRouter` keeps, per task, the sufficient statistics of the (normalised) observations it
was trained on — a count, a sum and a sum of outer products — and routes an observation to the task
under whose Gaussian it is most likely (a generative classifier, as in streaming LDA/QDA: Hayes &
Kanan, "Lifelong Machine Learning with Deep Streaming Linear Discriminant Analysis", CVPR-W 2020).
Statistics are only ever added to, per task, so routing to an earlier skill cannot be forgotten,
and the router stores no samples (``D + D**2`` numbers per task). It serves both task-agnostic
evaluation (``policy.task_id=false``) and the boundary detector of stream training
(:mod:`robot_cl.stream`), which asks how far a sample lies from the current segment's Gaussian.
"""

from __future__ import annotations

import torch
from torch import nn


class TaskRouter(nn.Module):
    """Per-task Gaussians over ``dim``-dimensional inputs; :meth:`route` picks the most likely task."""

    def __init__(self, dim: int, n_tasks: int, shrinkage: float = 0.1, var_floor: float = 1e-4) -> None:
        super().__init__()
        self.dim, self.n_tasks = dim, n_tasks
        self.shrinkage, self.var_floor = shrinkage, var_floor
        # float64: sums of many samples; buffers, so they travel with state_dict() (checkpoints, eval workers)
        self.register_buffer("count", torch.zeros(n_tasks, dtype=torch.float64))
        self.register_buffer("total", torch.zeros(n_tasks, dim, dtype=torch.float64))
        self.register_buffer("outer", torch.zeros(n_tasks, dim, dim, dtype=torch.float64))
        self._cache: tuple | None = None

    def update(self, task: int, x: torch.Tensor) -> None:
        """Add samples ``x`` (N, dim) to ``task``'s statistics."""
        if len(x) == 0:
            return
        x = x.detach().to(self.total.device, torch.float64)
        self.count[task] += len(x)
        self.total[task] += x.sum(0)
        self.outer[task] += x.T @ x
        self._cache = None

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._cache = None

    @property
    def fitted(self) -> list[int]:
        """Tasks with enough samples to route to."""
        return [t for t in range(self.n_tasks) if self.count[t] > 1]

    def gaussian(self, task: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and covariance of ``task``: shrunk towards its diagonal, with a variance floor
        (dimensions constant within a skill, such as an empty entity slot, would be singular)."""
        n = self.count[task]
        mean = self.total[task] / n
        cov = self.outer[task] / n - torch.outer(mean, mean)
        diag = torch.diag(torch.diag(cov))
        cov = (1 - self.shrinkage) * cov + self.shrinkage * diag
        return mean, cov + self.var_floor * torch.eye(self.dim, dtype=cov.dtype, device=cov.device)

    def _fitted_params(self):
        if self._cache is None:
            tasks = self.fitted
            means, precisions, logdets = [], [], []
            for t in tasks:
                mean, cov = self.gaussian(t)
                chol = torch.linalg.cholesky(cov)
                means.append(mean)
                precisions.append(torch.cholesky_inverse(chol))
                logdets.append(2 * torch.log(torch.diagonal(chol)).sum())
            self._cache = (tasks, means, precisions, logdets)
        return self._cache

    def distance(self, x: torch.Tensor, task: int) -> torch.Tensor:
        """Squared Mahalanobis distance of each sample (N, dim) from ``task``'s Gaussian."""
        tasks, means, precisions, _ = self._fitted_params()
        if task not in tasks:
            raise ValueError(f"task {task} has no statistics yet")
        i = tasks.index(task)
        d = x.detach().to(torch.float64) - means[i]
        return ((d @ precisions[i]) * d).sum(1)

    def log_likelihood(self, x: torch.Tensor) -> tuple[list[int], torch.Tensor]:
        """The fitted tasks and each sample's Gaussian log-likelihood under them (N, len(tasks)), up to a constant."""
        tasks, means, precisions, logdets = self._fitted_params()
        x = x.detach().to(torch.float64)
        cols = [-0.5 * ((((x - m) @ p) * (x - m)).sum(1) + ld) for m, p, ld in zip(means, precisions, logdets)]
        return tasks, torch.stack(cols, dim=1) if cols else torch.zeros(len(x), 0, dtype=torch.float64)

    def route(self, x: torch.Tensor) -> torch.Tensor:
        """The most likely task of each sample (task 0 before any task has statistics)."""
        tasks, ll = self.log_likelihood(x)
        if not tasks:
            return torch.zeros(len(x), dtype=torch.long, device=x.device)
        return torch.tensor(tasks, device=x.device)[ll.argmax(1).to(x.device)]
