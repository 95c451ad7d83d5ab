"""V-JEPA 2 video encoder: a RoPE ViT over 3D tubelets, under the reference parameter names.

`patch_embed.proj` (Conv3d, kernel = stride = tubelet x patch x patch), `blocks.{i}.…`, `norm`; no
class token and no learned position embedding (RoPE carries positions).
"""

from __future__ import annotations

import torch
from torch import nn

from vjepa_ac.models.presets import EncoderConfig
from vjepa_ac.models.rope import grid_positions, rope_tables
from vjepa_ac.models.transformer_block import TransformerBlock

__all__ = ["VisionEncoder", "PatchEmbed"]


class PatchEmbed(nn.Module):
    """Tubelet embedding; its own module so the weight is named `patch_embed.proj` as in the reference."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        kernel = (config.tubelet_size, config.patch_size, config.patch_size)
        self.proj = nn.Conv3d(config.in_channels, config.embed_dim, kernel_size=kernel, stride=kernel)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.proj(clip)


class VisionEncoder(nn.Module):
    """`forward(clip[B, 3, T, H, W])` (normalised pixels) -> final-normed tokens `[B, T/2 * H/p * W/p, D]`.

    Positions are raw integer (frame, row, col) indices, so any H, W that are multiples of the patch
    size work; `config.image_size` is the size the weights were trained at.
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        if not isinstance(config, EncoderConfig):
            raise TypeError(f"VisionEncoder needs an EncoderConfig, got {type(config).__name__}")
        self.config = config
        dim = config.embed_dim
        self.patch_embed = PatchEmbed(config)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, config.num_heads, config.mlp_hidden_dim, config.qkv_bias, config.layer_norm_eps)
            for _ in range(config.depth)
        )
        self.norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self._rope_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def _check_clip(self, clip: torch.Tensor) -> None:
        cfg = self.config
        if not isinstance(clip, torch.Tensor):
            raise TypeError(f"clip must be a torch tensor, got {type(clip).__name__}")
        if clip.ndim != 5 or clip.shape[1] != cfg.in_channels:
            raise ValueError(f"clip must be [B, {cfg.in_channels}, T, H, W], got shape {tuple(clip.shape)}")
        _, _, frames, height, width = clip.shape
        if frames == 0 or frames % cfg.tubelet_size:
            raise ValueError(f"clip has {frames} frames, not a positive multiple of the tubelet size {cfg.tubelet_size}")
        if height == 0 or width == 0 or height % cfg.patch_size or width % cfg.patch_size:
            raise ValueError(f"clip size {height}x{width} is not a multiple of the patch size {cfg.patch_size}")
        if not clip.is_floating_point():
            raise TypeError(f"clip must be a normalised float tensor, got {clip.dtype}")

    def rope(self, frames: int, height: int, width: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin tables for a `frames x height x width` token grid, cached per grid/device/dtype."""
        key = (frames, height, width, str(device), dtype)
        if key not in self._rope_cache:
            frame, row, col = grid_positions(frames, height, width, device=device)
            self._rope_cache[key] = rope_tables(frame, row, col, self.config.head_dim, dtype)
        return self._rope_cache[key]

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        self._check_clip(clip)
        x = self.patch_embed(clip.to(self.patch_embed.proj.weight.dtype))
        _, _, frames, height, width = x.shape
        x = x.flatten(2).transpose(1, 2)
        cos, sin = self.rope(frames, height, width, x.device, x.dtype)
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.norm(x)

    def encode_frames(self, frames: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """Normalised still frames `[B, 3, H, W]` -> tokens `[B, HW, D]`, each frame as its own 2-frame clip.

        `batch_size` bounds how many clips go through at once (memory), without changing results.
        """
        if not isinstance(frames, torch.Tensor) or frames.ndim != 4:
            raise ValueError(f"frames must be a [B, 3, H, W] tensor, got {getattr(frames, 'shape', type(frames))}")
        if batch_size is not None and batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        step = batch_size or max(1, frames.shape[0])
        outputs = []
        for start in range(0, frames.shape[0], step):
            chunk = frames[start : start + step]
            clip = chunk.unsqueeze(2).expand(-1, -1, self.config.tubelet_size, -1, -1)
            outputs.append(self(clip))
        return torch.cat(outputs, dim=0)
