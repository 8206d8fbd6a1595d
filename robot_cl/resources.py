"""How many CPU cores a job may use, alone or as one of a sweep's parallel jobs.

A sweep through Hydra's joblib launcher runs ``hydra.launcher.n_jobs`` jobs at once on this machine;
a Slurm job (submitit) sees only the cores Slurm allocated to it. ``workers: auto`` gives each job
its share, so that jobs x processes never exceeds the cores. Training itself uses ``threads`` torch
threads (default 1: torch's CPU kernels split reductions by thread count, so the number of threads
changes the floating-point results; it is part of a run's configuration, not of the machine).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf


def cpu_count() -> int:
    """Cores this process may run on (its CPU affinity: what a container or Slurm grants)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def launcher_config() -> dict[str, Any] | None:
    """The Hydra launcher's config when this process runs a job of a multirun, else None."""
    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return None
    return OmegaConf.to_container(hc.launcher, resolve=True)


def concurrent_jobs(launcher: dict[str, Any] | None, cores: int) -> int:
    """How many jobs share this machine's cores at once, from the launcher's config."""
    if not launcher:
        return 1
    n_jobs = launcher.get("n_jobs")  # joblib
    if n_jobs is not None:
        n = int(n_jobs)
        return cores if n < 0 else max(1, n)  # joblib: -1 means one job per core
    return 1


def job_cores(launcher: dict[str, Any] | None = None) -> int:
    """This job's share of the cores (at least one)."""
    cores = cpu_count()
    if launcher and launcher.get("cpus_per_task"):  # submitit: the cores asked for per job
        return max(1, min(cores, int(launcher["cpus_per_task"])))
    if launcher and "ray" in launcher:  # Ray schedules each job on the CPUs it reserves for it (default 1)
        return max(1, int((launcher["ray"].get("remote") or {}).get("num_cpus") or 1))
    return max(1, cores // concurrent_jobs(launcher, cores))


def resolve_workers(value: Any, launcher: dict[str, Any] | None = None) -> Any:
    """``workers: auto`` -> this job's share of the cores; any other value is returned for validation."""
    return job_cores(launcher) if value == "auto" else value


def die_with_parent(parent_pid: int) -> None:
    """In a worker process: be killed when ``parent_pid`` (the process that started it) dies, whatever
    the signal, even ``kill -9`` (Linux ``PR_SET_PDEATHSIG``); exit at once if it is already gone."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)
