"""3D RoPE against a per-channel transcription of the reference rules (tiling quirk included)."""

import math

import pytest
import torch

from vjepa_ac.models.rope import apply_rope, grid_positions, rope_segment_size, rope_tables


def spec_rope(x, frame, row, col):
    """Channel by channel: segment k of size s rotates channel c by pos_k * 10000^(-(c mod s/2)/(s/2))."""
    head_dim = x.shape[-1]
    s = 2 * ((head_dim // 3) // 2)
    half = s // 2
    out = x.clone()
    for n in range(x.shape[-2]):
        positions = (frame[n].item(), row[n].item(), col[n].item())
        for segment, pos in enumerate(positions):
            for local in range(s):
                c = segment * s + local
                angle = pos * 10000.0 ** (-(local % half) / half)
                partner = x[..., n, c + 1] * -1.0 if local % 2 == 0 else x[..., n, c - 1]
                out[..., n, c] = x[..., n, c] * math.cos(angle) + partner * math.sin(angle)
    return out


@pytest.mark.parametrize("head_dim,segment", [(64, 20), (24, 8), (16, 4), (6, 2), (80, 26)])
def test_segment_size(head_dim, segment):
    assert rope_segment_size(head_dim) == segment


def test_segment_size_refuses_tiny_heads():
    with pytest.raises(ValueError, match="too small"):
        rope_segment_size(5)


@pytest.mark.parametrize("head_dim", [64, 24, 16])
def test_matches_per_channel_rules(head_dim):
    torch.manual_seed(0)
    frame, row, col = grid_positions(2, 3, 4)
    x = torch.randn(2, len(frame), head_dim, dtype=torch.float64)
    cos, sin = rope_tables(frame, row, col, head_dim, torch.float64)
    torch.testing.assert_close(apply_rope(x, cos, sin), spec_rope(x, frame, row, col), rtol=0, atol=1e-12)


def test_unrotated_channels_and_zero_positions_are_identity():
    x = torch.randn(5, 64, dtype=torch.float64)
    zeros = torch.zeros(5)
    cos, sin = rope_tables(zeros, zeros, zeros, 64, torch.float64)
    assert torch.equal(apply_rope(x, cos, sin), x)
    frame, row, col = torch.arange(5.0), torch.arange(5.0), torch.arange(5.0)
    cos, sin = rope_tables(frame, row, col, 64, torch.float64)
    assert torch.equal(apply_rope(x, cos, sin)[:, 60:], x[:, 60:])  # 3 * 20 rotated, 4 left alone
    assert not torch.allclose(apply_rope(x, cos, sin)[1:, :60], x[1:, :60])


def test_grid_positions_are_raster_order():
    frame, row, col = grid_positions(2, 2, 3)
    assert frame.tolist() == [0] * 6 + [1] * 6
    assert row.tolist() == [0, 0, 0, 1, 1, 1] * 2
    assert col.tolist() == [0, 1, 2] * 4
