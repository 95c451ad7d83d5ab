"""Optimiser, learning-rate schedule and mixed precision, shared by both trainers.

The schedule is a pure function of the step (lr = f(step)), so resuming only has to restore the step.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn


def build_adamw(module: nn.Module | list[nn.Module], lr: float, weight_decay: float,
                betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.AdamW:
    """AdamW with no weight decay on biases and norm gains (1-D tensors), as the reference trains."""
    modules = module if isinstance(module, list) else [module]
    decay, no_decay = [], []
    for m in modules:
        for p in m.parameters():
            if p.requires_grad:
                (no_decay if p.ndim <= 1 else decay).append(p)
    if not decay and not no_decay:
        raise ValueError("nothing to optimise: no parameter requires grad")
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=betas)


def autocast_context(device: torch.device, precision: str):
    """bf16 autocast on CUDA by default ("auto"); on CPU only when asked for ("bf16")."""
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    if not use_bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


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
