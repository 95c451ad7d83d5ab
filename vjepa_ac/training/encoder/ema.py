"""Exponential-moving-average target encoder (V-JEPA's stop-gradient teacher)."""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_target(online: nn.Module) -> nn.Module:
    """A frozen copy: no parameter requires grad, so the loss can never reach it."""
    target = copy.deepcopy(online)
    for p in target.parameters():
        p.requires_grad_(False)
    return target.eval()


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """target <- m * target + (1 - m) * online, parameter by parameter (buffers copied)."""
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"EMA momentum must be in [0, 1], got {momentum}")
    target_params = dict(target.named_parameters())
    online_params = dict(online.named_parameters())
    if target_params.keys() != online_params.keys():
        raise ValueError("target and online modules have different parameters")
    for name, p in online_params.items():
        target_params[name].mul_(momentum).add_(p.detach().to(target_params[name].dtype), alpha=1.0 - momentum)
    target_buffers = dict(target.named_buffers())
    for name, b in online.named_buffers():
        target_buffers[name].copy_(b)


def momentum_at(step: int, total_steps: int, start: float = 0.998, end: float = 1.0) -> float:
    """Linear momentum ramp from `start` to `end` over training (V-JEPA's schedule)."""
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    fraction = min(max(step / total_steps, 0.0), 1.0)
    return start + (end - start) * fraction
