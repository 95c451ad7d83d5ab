"""Learning-rate schedule: linear warm-up then cosine decay, a pure function of the step.

Being stateless (lr = f(step)) makes resuming exact: the trainer only has to restore the step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class WarmupCosine:
    start_lr: float
    peak_lr: float
    final_lr: float
    warmup_steps: int
    total_steps: int

    def __post_init__(self):
        if self.total_steps <= 0:
            raise ValueError(f"total_steps must be positive, got {self.total_steps}")
        if not 0 <= self.warmup_steps <= self.total_steps:
            raise ValueError(f"warmup_steps must be in [0, total_steps], got {self.warmup_steps}")
        if min(self.start_lr, self.peak_lr, self.final_lr) < 0:
            raise ValueError("learning rates must be non-negative")

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.start_lr + (self.peak_lr - self.start_lr) * step / self.warmup_steps
        decay_steps = self.total_steps - self.warmup_steps
        if decay_steps == 0:
            return self.peak_lr
        progress = min((step - self.warmup_steps) / decay_steps, 1.0)
        return self.final_lr + 0.5 * (self.peak_lr - self.final_lr) * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
