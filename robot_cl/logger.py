"""Run logging: a CSV file and TensorBoard scalars (when TensorBoard is installed)."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

from robot_cl.cache import atomic_write


def _csv_bytes(rows) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode()


class RunLogger:
    """Appends ``(time, kind, stage, skill, step, key, value)`` rows to ``log.csv`` and TensorBoard."""

    FIELDS = ("time", "kind", "stage", "skill", "step", "key", "value")

    def __init__(self, run_dir: Path, tensorboard: bool = True, first_stage: int = 0) -> None:
        """``first_stage``: the stage a resumed run trains next; rows an interrupted run wrote from that
        stage on are dropped (they are written again), so the log equals an uninterrupted run's."""
        self.path = Path(run_dir) / "log.csv"
        kept = self._rows_before(first_stage)
        atomic_write(self.path, lambda f: f.write(_csv_bytes([self.FIELDS, *kept])))
        self._file = open(self.path, "a", newline="")  # noqa: SIM115 -- kept open for the whole run, closed by close()
        self._csv = csv.writer(self._file)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))
            except ImportError:  # TensorBoard is optional at run time
                self._tb = None

    def _rows_before(self, first_stage: int) -> list[list[str]]:
        """Rows of an earlier process for the stages before ``first_stage`` (and, if any stage is kept,
        the rows written before the first stage)."""
        if first_stage == 0 or not self.path.exists():
            return []
        with open(self.path, newline="") as f:
            rows = [r for r in csv.reader(f) if len(r) == len(self.FIELDS) and r[0] != "time"]
        return [r for r in rows if (int(r[2]) < first_stage if r[2].isdigit() else True)]

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
