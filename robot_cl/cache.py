"""Cache entries that parallel jobs share safely: computed once, never half-read, never mistaken for done.

Demonstrations and single-skill reference runs are shared by every job of a sweep. An entry is one
file, written under a temporary name and renamed into place (a reader sees the whole file or none),
and computed while holding an OS-level lock on ``<entry>.lock`` (``filelock``, i.e. ``flock``): a
second job that needs the same entry waits for the first and then reads its result instead of
computing it again. A killed job's lock is released by the operating system and its temporary file
never carries the entry's name, so a later job recomputes the entry; temporaries left by dead jobs
are removed by the next job that takes the lock.

:func:`create_all` spreads the work: a job first computes the missing entries nobody else is
computing (non-blocking lock attempts), and only then waits for the ones another job holds, so two
jobs that start together split the entries between them instead of queueing behind each other.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from filelock import FileLock, Timeout


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def temp_path(path: Path) -> Path:
    """Where an entry is written before it is renamed into place (unique per process)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_stale_temps(path: Path) -> int:
    """Delete temporaries of ``path`` left by killed writers (call only while holding its lock)."""
    n = 0
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            n += 1
    return n


@contextlib.contextmanager
def locked(path: Path, blocking: bool = True) -> Iterator[bool]:
    """Hold the lock of entry ``path``; yields False (without the lock) if ``blocking`` is off and it is taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path(path)))
    try:
        lock.acquire(timeout=-1 if blocking else 0)
    except Timeout:
        yield False
        return
    try:
        remove_stale_temps(path)
        yield True
    finally:
        lock.release()


def create_all(
    paths: dict[str, Path],
    create: Callable[[list[str]], None],
    batch: int = 1,
) -> dict[str, str]:
    """Make sure every entry in ``paths`` exists, computing each missing one exactly once across processes.

    ``create(keys)`` computes and atomically writes the entries of ``keys``; it is called with the
    locks of those entries held, on at most ``batch`` entries at a time (the ones it may compute in
    parallel), so that other processes can claim the rest meanwhile. Returns how each entry was
    obtained: ``"hit"`` (already there), ``"created"`` (by this call) or ``"waited"`` (another
    process computed it meanwhile).
    """
    how = {k: "hit" for k, p in paths.items() if p.exists()}
    while True:  # claim what nobody else is computing, a batch at a time
        with contextlib.ExitStack() as held:
            mine = []
            for k in paths:
                if k in how or len(mine) == batch:
                    continue
                if held.enter_context(locked(paths[k], blocking=False)):
                    if paths[k].exists():
                        how[k] = "waited"  # finished by another process between our check and the lock
                    else:
                        mine.append(k)
            if not mine:
                break
            create(mine)
            how.update({k: "created" for k in mine})
    for k in paths:  # then wait for the entries other processes hold
        if k in how:
            continue
        with locked(paths[k]):
            if paths[k].exists():
                how[k] = "waited"
            else:  # its owner died before finishing: compute it here
                create([k])
                how[k] = "created"
    return how


def atomic_write(path: Path, write: Callable[[BinaryIO], None], durable: bool = False) -> Path:
    """Write a file under a temporary name and rename it into place: a reader (or a crash) never sees
    part of it under its final name. ``durable`` also fsyncs before the rename (checkpoints)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # only left when writing failed (a full disk, an exception)
    return path


def write_json(path: Path, obj: Any) -> Path:
    """Atomically write ``obj`` as JSON; non-finite floats become ``null`` (strict JSON readers accept it)."""

    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        if isinstance(o, np.generic):
            return o.item()
        return o

    data = json.dumps(clean(obj), indent=1).encode()
    return atomic_write(path, lambda f: f.write(data))
