"""Run logging: a CSV file and TensorBoard scalars (when TensorBoard is installed)."""

from __future__ import annotations

import csv
import time
from pathlib import Path


class RunLogger:
    """Appends ``(time, kind, stage, skill, step, key, value)`` rows to ``log.csv`` and TensorBoard."""

    FIELDS = ("time", "kind", "stage", "skill", "step", "key", "value")

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / "log.csv"
        new = not self.path.exists()
        self._file = open(self.path, "a", newline="")  # noqa: SIM115 -- kept open for the whole run, closed by close()
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(self.FIELDS)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))
            except ImportError:  # TensorBoard is optional at run time
                self._tb = None

    def scalar(self, kind: str, key: str, value: float, step: int, stage: int | None = None, skill: str = "") -> None:
        self._csv.writerow((f"{time.time():.3f}", kind, "" if stage is None else stage, skill, step, key, f"{value:.6g}"))
        if self._tb is not None:
            tag = f"{kind}/{key}" + (f"/{skill}" if skill and kind == "eval" else "")
            self._tb.add_scalar(tag, value, step)

    def flush(self) -> None:
        self._file.flush()
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()
        if self._tb is not None:
            self._tb.close()
