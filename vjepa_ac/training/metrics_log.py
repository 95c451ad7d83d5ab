"""Training metrics to CSV (always) and TensorBoard (only if `tensorboard` is installed).

On resume the CSV is truncated to the rows at or before the resumed step, so a resumed run's file
reads exactly like an uninterrupted one.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path


class MetricsLogger:
    def __init__(self, path: str | os.PathLike, fields: list[str], resume_step: int | None = None,
                 tensorboard_dir: str | os.PathLike | None = None, enabled: bool = True):
        self.path = Path(path)
        self.fields = ["step", *[f for f in fields if f != "step"]]
        self.enabled = enabled
        self._writer = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[dict] = []
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="") as f:
                kept = [row for row in csv.DictReader(f) if int(row["step"]) <= resume_step]
        with open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.fields)
            writer.writeheader()
            for row in kept:
                writer.writerow({k: row.get(k, "") for k in self.fields})
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                SummaryWriter = None
            if SummaryWriter is not None:
                self._writer = SummaryWriter(str(tensorboard_dir))

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        unknown = set(metrics) - set(self.fields)
        if unknown:
            raise KeyError(f"metrics {sorted(unknown)} were not declared for {self.path}")
        row = {"step": step, **{k: f"{float(v):.8g}" for k, v in metrics.items()}}
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.fields).writerow(row)
        if self._writer is not None:
            for k, v in metrics.items():
                self._writer.add_scalar(k, float(v), step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def read_metrics(path: str | os.PathLike) -> list[dict[str, float]]:
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]
