"""Fresh weights for training from scratch, following the reference recipe.

Truncated-normal (std 0.02) linear/conv weights, zero biases, unit LayerNorms, and each block's
output projections (`attn.proj`, `mlp.fc2`) divided by sqrt(2 * layer index) so deep stacks start
near the identity. Loading a checkpoint never goes through here.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vjepa_ac.models.transformer_block import TransformerBlock

__all__ = ["initialize_weights"]


@torch.no_grad()
def initialize_weights(module: nn.Module, std: float = 0.02, generator: torch.Generator | None = None) -> nn.Module:
    """Re-initialise `module` (an encoder or predictor) in place; pass a seeded generator to reproduce."""
    for sub in module.modules():
        if isinstance(sub, (nn.Linear, nn.Conv3d)):
            nn.init.trunc_normal_(sub.weight, std=std, a=-2 * std, b=2 * std, generator=generator)
            if sub.bias is not None:
                sub.bias.zero_()
        elif isinstance(sub, nn.LayerNorm):
            sub.weight.fill_(1.0)
            sub.bias.zero_()
    blocks = [sub for sub in module.modules() if isinstance(sub, TransformerBlock)]
    for layer, block in enumerate(blocks, start=1):
        block.attn.proj.weight.div_(math.sqrt(2.0 * layer))
        block.mlp.fc2.weight.div_(math.sqrt(2.0 * layer))
    return module
