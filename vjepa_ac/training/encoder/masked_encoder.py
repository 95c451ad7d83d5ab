"""Run a `VisionEncoder` on a subset of its tokens (the V-JEPA context encoder).

The models package's encoder always sees the whole clip; pre-training needs it to see only the
unmasked tokens, each keeping its true 3D RoPE position. This reuses the encoder's own submodules
(patch_embed, blocks, norm) and the models' positions-aware `rope_tables`, so the weights and
numerics are exactly the encoder's: with every token kept, the output equals `encoder(clip)`.
"""

from __future__ import annotations

import torch

from vjepa_ac.models.image_preprocessing import images_to_frames
from vjepa_ac.models.rope import grid_positions, rope_tables


def subset_rope(grid: tuple[int, int, int], index: torch.Tensor, head_dim: int, dtype: torch.dtype):
    """cos/sin `[B, 1, K, head_dim]` for the tokens `index` [B, K] of a raster-ordered (frames, rows, cols) grid."""
    frame, row, col = grid_positions(*grid, device=index.device)
    flat = index.reshape(-1)
    cos, sin = rope_tables(frame[flat], row[flat], col[flat], head_dim, dtype)
    shape = (index.shape[0], 1, index.shape[1], head_dim)
    return cos.reshape(shape), sin.reshape(shape)


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """tokens [B, N, D], index [B, K] -> [B, K, D]."""
    return torch.gather(tokens, 1, index[..., None].expand(-1, -1, tokens.shape[-1]))


def token_grid(encoder, clip: torch.Tensor) -> tuple[int, int, int]:
    cfg = encoder.config
    _, _, frames, height, width = clip.shape
    return frames // cfg.tubelet_size, height // cfg.patch_size, width // cfg.patch_size


def encode_token_subset(encoder, clip: torch.Tensor, keep_index: torch.Tensor) -> torch.Tensor:
    """Final-normed encoder outputs `[B, K, D]` for the tokens `keep_index` [B, K] of `clip` [B, 3, T, H, W]."""
    if keep_index.ndim != 2 or keep_index.shape[0] != clip.shape[0]:
        raise ValueError(f"keep_index must be [B, K] with B = {clip.shape[0]}, got {tuple(keep_index.shape)}")
    x = encoder.patch_embed.proj(clip.to(encoder.patch_embed.proj.weight.dtype))
    grid = tuple(x.shape[2:])
    x = gather_tokens(x.flatten(2).transpose(1, 2), keep_index)
    head_dim = encoder.config.embed_dim // encoder.config.num_heads
    cos, sin = subset_rope(grid, keep_index, head_dim, x.dtype)
    for block in encoder.blocks:
        x = block(x, cos, sin)
    return encoder.norm(x)


def video_to_clip(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 video `[B, T, H, W, 3]` -> normalised encoder input `[B, 3, T, size, size]`.

    Frame by frame through the models' own still-image preprocessing, so pre-training sees pixels
    exactly as the world model's `encode` does.
    """
    if frames.dtype != torch.uint8 or frames.ndim != 5 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 [B, T, H, W, 3], got {frames.dtype} {tuple(frames.shape)}")
    b, t = frames.shape[:2]
    pixels = images_to_frames(frames.reshape(b * t, *frames.shape[2:]), size)
    return pixels.reshape(b, t, 3, size, size).transpose(1, 2).contiguous()
