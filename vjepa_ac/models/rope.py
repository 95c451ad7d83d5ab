"""3D rotary position embedding shared by the V-JEPA 2 encoder and the AC predictor.

Each head splits into a temporal, a row and a column segment of `s = 2 * ((head_dim // 3) // 2)`
channels; the remaining `head_dim - 3s` channels stay unrotated. Two reference quirks are kept
because the pretrained weights depend on them: angles within a segment are *tiled* (channel c uses
angle theta_{c mod s/2}), and rotation pairs adjacent channels (2i, 2i+1).

A token that must not be rotated along some axis gets position 0 on that axis: rotating by angle 0
is the identity exactly (cos 0 = 1, sin 0 = 0), which is how the predictor's action/state tokens
carry only a temporal position, and the tail channels get cos 1 / sin 0.

Angles are formed in float32 (float64 for float64 models) as `position * omega`, the same single
rounding the reference performs, so tables agree with it bit for bit in float32.
"""

from __future__ import annotations

import torch

__all__ = ["ROPE_BASE", "rope_segment_size", "rope_frequencies", "rope_tables", "apply_rope", "grid_positions"]

ROPE_BASE = 10000.0


def rope_segment_size(head_dim: int) -> int:
    """Channels per axis segment; head dims below 6 leave no room for a 3D rotation."""
    size = 2 * ((head_dim // 3) // 2)
    if size <= 0:
        raise ValueError(f"head_dim {head_dim} is too small for 3D RoPE (need at least 6 channels per head)")
    return size


def _angle_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def rope_frequencies(segment: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """omega_j = 10000^(-j / (s/2)), j < s/2, computed as the reference does (arange / (s/2), then 1/10000^x)."""
    half = segment // 2
    exponent = torch.arange(half, dtype=dtype, device=device) / (segment / 2.0)
    return 1.0 / ROPE_BASE**exponent


def _segment_angles(positions: torch.Tensor, segment: int) -> torch.Tensor:
    omega = rope_frequencies(segment, positions.dtype, positions.device)
    theta = positions[:, None] * omega[None, :]
    return torch.cat([theta, theta], dim=-1)  # tiled, not interleaved: the compatibility quirk


def rope_tables(
    frame: torch.Tensor, row: torch.Tensor, col: torch.Tensor, head_dim: int, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables `[N, head_dim]` for tokens at (frame, row, col) (float positions allowed).

    For an odd head_dim the tables cover only the `3s` rotated channels.
    """
    if not (frame.shape == row.shape == col.shape) or frame.ndim != 1:
        raise ValueError("frame, row and col positions must be 1-D tensors of equal length")
    size = rope_segment_size(head_dim)
    angle_dtype = _angle_dtype(dtype)
    # Even head dims: full-width tables (tail gets angle 0) so rotation is one fused expression.
    width = head_dim if head_dim % 2 == 0 else 3 * size
    angles = torch.zeros(frame.shape[0], width, dtype=angle_dtype, device=frame.device)
    for index, positions in enumerate((frame, row, col)):
        angles[:, index * size : (index + 1) * size] = _segment_angles(positions.to(angle_dtype), size)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate `x[..., N, head_dim]` pairwise: out = x*cos + r(x)*sin, r(x)_{2i} = -x_{2i+1}, r(x)_{2i+1} = x_{2i}.

    Tables narrower than the head (odd head dims) rotate the leading channels and pass the rest.
    """
    width = cos.shape[-1]
    if width != x.shape[-1]:
        return torch.cat([_rotate_pairs(x[..., :width], cos, sin), x[..., width:]], dim=-1)
    return _rotate_pairs(x, cos, sin)


def _rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # r(x) * sin == swap_pairs(x) * (sin with even channels negated): negation is exact, so this is
    # the reference arithmetic with one pass fewer over x (the sign goes on the small table).
    signed_sin = sin * _pair_signs(sin.shape[-1], sin.dtype, sin.device)
    swapped = torch.stack((x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)  # (flip is slow on CPU)
    return torch.addcmul(x * cos, swapped, signed_sin)


def _pair_signs(width: int, dtype: torch.dtype, device) -> torch.Tensor:
    signs = torch.ones(width, dtype=dtype, device=device)
    signs[0::2] = -1.0
    return signs


def grid_positions(
    frames: int, height: int, width: int, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(frame, row, col) float32 positions of a `frames x height x width` token grid in raster order."""
    index = torch.arange(frames * height * width, device=device)
    per_frame = height * width
    frame = index // per_frame
    row = (index - frame * per_frame) // width
    col = index - frame * per_frame - row * width
    return frame.float(), row.float(), col.float()
