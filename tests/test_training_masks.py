"""Multi-block spatio-temporal masks: advertised coverage, temporal consistency, context/target split."""

from __future__ import annotations

import pytest
import torch

from vjepa_ac.training.encoder.masks import LONG_RANGE, SHORT_RANGE, BlockMaskSpec, MultiBlockMasker


def test_single_block_covers_its_scale():
    masker = MultiBlockMasker((4, 16, 16), BlockMaskSpec(num_blocks=1, spatial_scale=(0.25, 0.25),
                                                         aspect_ratio=(1.0, 1.0)))
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        mask = masker.sample(g)
        assert mask[0].sum().item() == 64  # 8 x 8 block = 25% of a 16 x 16 frame
        assert mask.float().mean().item() == pytest.approx(0.25)


def expected_union_ratio(size: int, side: int, num_blocks: int) -> float:
    """Exact expected coverage of `num_blocks` uniformly placed side x side squares on a size x size grid."""
    places = size - side + 1
    # Fraction of placements covering coordinate i along one axis.
    axis = [sum(1 for start in range(places) if start <= i < start + side) / places for i in range(size)]
    return sum(1 - (1 - pr * pc) ** num_blocks for pr in axis for pc in axis) / size**2


@pytest.mark.parametrize("num_blocks,side", [(8, 6), (2, 13), (4, 4)])
def test_union_of_blocks_matches_advertised_ratio(num_blocks, side):
    scale = side**2 / 256  # exact square blocks on a 16 x 16 grid (0.14 / 0.66 / 0.06 of a frame)
    spec = BlockMaskSpec(num_blocks=num_blocks, spatial_scale=(scale, scale), aspect_ratio=(1.0, 1.0))
    masker = MultiBlockMasker((2, 16, 16), spec)
    g = torch.Generator().manual_seed(1)
    ratios = torch.tensor([masker.sample(g).float().mean().item() for _ in range(400)])
    expected = expected_union_ratio(16, side, num_blocks)
    standard_error = ratios.std().item() / 20
    assert abs(ratios.mean().item() - expected) < 4 * standard_error + 1e-3
    # Overlaps make the union smaller than independent uniform coverage would.
    assert ratios.mean().item() <= 1 - (1 - scale) ** num_blocks + 0.01


def test_vjepa_default_masks_ratio_band():
    """V-JEPA's short-range (8 x 15%) and long-range (2 x 70%) masks on a 16 x 16 grid with aspect jitter."""
    g = torch.Generator().manual_seed(5)
    for spec, low, high in ((SHORT_RANGE, 0.55, 0.75), (LONG_RANGE, 0.8, 0.95)):
        masker = MultiBlockMasker((8, 16, 16), spec)
        mean = sum(masker.sample(g).float().mean().item() for _ in range(200)) / 200
        assert low < mean < high, (spec, mean)


def test_masks_identical_over_time_and_split_context_from_targets():
    masker = MultiBlockMasker((4, 8, 8), BlockMaskSpec(num_blocks=3, spatial_scale=(0.1, 0.3)))
    g = torch.Generator().manual_seed(2)
    mask = masker.sample(g)
    for t in range(1, 4):
        assert torch.equal(mask[t], mask[0])
    context, target = masker.sample_batch(5, g)
    assert context.shape[0] == target.shape[0] == 5
    for c, t in zip(context, target, strict=True):
        assert len(set(c.tolist()) & set(t.tolist())) == 0
        assert torch.all(c[1:] > c[:-1]) and torch.all(t[1:] > t[:-1])
        assert c.max() < 4 * 64 and t.max() < 4 * 64


def test_temporal_scale_limits_block_duration():
    spec = BlockMaskSpec(num_blocks=1, spatial_scale=(0.2, 0.2), temporal_scale=(0.5, 0.5))
    masker = MultiBlockMasker((4, 8, 8), spec)
    mask = masker.sample(torch.Generator().manual_seed(3))
    assert mask.any(dim=(1, 2)).sum().item() == 2


def test_bad_specs_are_rejected():
    with pytest.raises(ValueError, match="spatial_scale"):
        BlockMaskSpec(spatial_scale=(0.0, 0.5))
    with pytest.raises(ValueError, match="num_blocks"):
        BlockMaskSpec(num_blocks=0)
    with pytest.raises(RuntimeError, match="context tokens"):
        spec = BlockMaskSpec(num_blocks=1, spatial_scale=(1.0, 1.0), aspect_ratio=(1.0, 1.0))
        MultiBlockMasker((1, 4, 4), spec, min_context=1).sample(
            torch.Generator().manual_seed(0))
