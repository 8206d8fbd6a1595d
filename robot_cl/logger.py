"""Run logging: a CSV file and TensorBoard scalars (when TensorBoard is installed)."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from robot_cl.cache import atomic_write


def _csv_bytes(rows) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode()


class RunLogger:
    """Appends ``(time, kind, stage, skill, step, key, value)`` rows to ``log.csv`` and TensorBoard."""

    FIELDS = ("time", "kind", "stage", "skill", "step", "key", "value")

    def __init__(self, run_dir: Path, tensorboard: bool = True, first_stage: int = 0, first_update: int | None = None) -> None:
        """``first_stage``: the stage a resumed run trains next, ``first_update``: the learner's update
        count when it starts (``None``: unknown, TensorBoard keeps everything); rows an interrupted
        run wrote from there on are dropped (they are written again), so the log equals an
        uninterrupted run's.

        TensorBoard gets two writers because its steps are on two scales: ``tensorboard/updates``
        (training and learning-curve scalars, step = updates) and ``tensorboard/stages`` (evaluation,
        step = stage). A resumed run opens them with ``purge_step``, which tells TensorBoard to drop
        the interrupted run's events from that step on, so a redone stage is shown once."""
        self.path = Path(run_dir) / "log.csv"
        kept = self._rows_before(first_stage)
        atomic_write(self.path, lambda f: f.write(_csv_bytes([self.FIELDS, *kept])))
        self._file = open(self.path, "a", newline="")  # noqa: SIM115 -- kept open for the whole run, closed by close()
        self._csv = csv.writer(self._file)
        self._tb: dict[str, Any] = {}
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # TensorBoard is optional at run time
                return
            # A stage's training rows have steps after the update count it starts from (the finished
            # stages' last row is at that count), its evaluation rows the stage's own index.
            resumed = first_stage > 0 and first_update is not None
            purge = {"updates": first_update + 1, "stages": first_stage} if resumed else {}
            for scale in ("updates", "stages"):
                self._tb[scale] = SummaryWriter(str(Path(run_dir) / "tensorboard" / scale), purge_step=purge.get(scale))

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
        if self._tb:
            tag = f"{kind}/{key}" + (f"/{skill}" if skill and kind == "eval" else "")
            self._tb["stages" if kind == "eval" else "updates"].add_scalar(tag, value, step)

    def flush(self) -> None:
        self._file.flush()
        for writer in self._tb.values():
            writer.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()
        for writer in self._tb.values():
            writer.close()
