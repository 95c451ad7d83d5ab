"""The narrow mask-denoising predictor of V-JEPA pre-training (not the action-conditioned one).

It embeds the context encoder's tokens into a narrower width, appends one learned mask token per
target position, runs RoPE transformer blocks where every token carries its true (frame, row, col)
position (that is all that tells mask tokens apart), and projects the mask tokens back to the
encoder width as predictions of the target encoder's features there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from vjepa_ac.models.transformer_block import TransformerBlock
from vjepa_ac.training.encoder.masked_encoder import subset_rope


@dataclass(frozen=True)
class MaskPredictorConfig:
    encoder_dim: int
    embed_dim: int = 96
    depth: int = 2
    num_heads: int = 4
    mlp_hidden_dim: int = 384
    layer_norm_eps: float = 1e-6

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name != "layer_norm_eps" and (not isinstance(value, int) or value <= 0):
                raise ValueError(f"MaskPredictorConfig.{f.name} must be a positive int, got {value!r}")
        if self.embed_dim % self.num_heads or (self.embed_dim // self.num_heads) < 6:
            raise ValueError(f"embed_dim {self.embed_dim} / {self.num_heads} heads must give head_dim >= 6")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class MaskDenoisingPredictor(nn.Module):
    def __init__(self, config: MaskPredictorConfig):
        super().__init__()
        self.config = config
        dim = config.embed_dim
        self.predictor_embed = nn.Linear(config.encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.predictor_blocks = nn.ModuleList(
            TransformerBlock(dim, config.num_heads, config.mlp_hidden_dim, True, config.layer_norm_eps)
            for _ in range(config.depth)
        )
        self.predictor_norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.predictor_proj = nn.Linear(dim, config.encoder_dim)
        nn.init.trunc_normal_(self.mask_token, std=0.02)

    def forward(self, context: torch.Tensor, context_index: torch.Tensor, target_index: torch.Tensor,
                grid: tuple[int, int, int]) -> torch.Tensor:
        """context [B, Kc, D_enc] at `context_index` [B, Kc] -> predictions [B, Kt, D_enc] at `target_index`."""
        batch, kc, _ = context.shape
        x = self.predictor_embed(context)
        masks = self.mask_token.to(x.dtype).expand(batch, target_index.shape[1], -1)
        x = torch.cat([x, masks], dim=1)
        index = torch.cat([context_index, target_index], dim=1)
        cos, sin = subset_rope(grid, index, self.config.embed_dim // self.config.num_heads, x.dtype)
        for block in self.predictor_blocks:
            x = block(x, cos, sin)
        return self.predictor_proj(self.predictor_norm(x[:, kc:]))
