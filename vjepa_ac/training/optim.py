"""Optimiser and mixed-precision helpers shared by both trainers."""

from __future__ import annotations

import contextlib

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
