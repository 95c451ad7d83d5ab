"""V-JEPA multi-block spatio-temporal masks on the (tubelet, row, col) token grid.

A mask is the union of `num_blocks` boxes, each with a sampled spatial area fraction and aspect ratio
and (by default) the full temporal extent, so a masked location stays masked in every frame: the
model cannot copy a patch from a neighbouring frame. Masks live on the tubelet grid, hence they are
identical for the frames inside one tubelet by construction. Masked tokens are prediction targets;
the rest is the context the context encoder sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class BlockMaskSpec:
    num_blocks: int = 8
    spatial_scale: tuple[float, float] = (0.15, 0.15)  # block area as a fraction of one frame's grid
    aspect_ratio: tuple[float, float] = (0.75, 1.5)  # height / width, sampled log-uniformly
    temporal_scale: tuple[float, float] = (1.0, 1.0)  # block duration as a fraction of the clip

    def __post_init__(self):
        if self.num_blocks < 1:
            raise ValueError(f"num_blocks must be >= 1, got {self.num_blocks}")
        for name, (lo, hi) in (("spatial_scale", self.spatial_scale), ("temporal_scale", self.temporal_scale)):
            if not 0.0 < lo <= hi <= 1.0:
                raise ValueError(f"{name} must satisfy 0 < min <= max <= 1, got {(lo, hi)}")
        lo, hi = self.aspect_ratio
        if not 0.0 < lo <= hi:
            raise ValueError(f"aspect_ratio must satisfy 0 < min <= max, got {(lo, hi)}")


SHORT_RANGE = BlockMaskSpec(num_blocks=8, spatial_scale=(0.15, 0.15))
LONG_RANGE = BlockMaskSpec(num_blocks=2, spatial_scale=(0.7, 0.7))


def _uniform(lo: float, hi: float, generator: torch.Generator) -> float:
    return lo + (hi - lo) * torch.rand((), generator=generator).item()


def _randint(high_inclusive: int, generator: torch.Generator) -> int:
    return int(torch.randint(0, high_inclusive + 1, (), generator=generator).item())


class MultiBlockMasker:
    """Samples per-clip masks for a `frames x height x width` token grid (raster token order)."""

    def __init__(self, grid: tuple[int, int, int], spec: BlockMaskSpec, min_context: int = 1, max_tries: int = 50):
        if len(grid) != 3 or min(grid) < 1:
            raise ValueError(f"grid must be (frames, height, width) of positive ints, got {grid}")
        self.grid = tuple(int(g) for g in grid)
        self.spec = spec
        self.min_context = min_context
        self.max_tries = max_tries
        if min_context >= math.prod(self.grid):
            raise ValueError(f"min_context {min_context} leaves no token to mask on a {self.grid} grid")

    def block_size(self, generator: torch.Generator) -> tuple[int, int, int]:
        frames, height, width = self.grid
        spec = self.spec
        area = _uniform(*spec.spatial_scale, generator) * height * width
        log_lo, log_hi = math.log(spec.aspect_ratio[0]), math.log(spec.aspect_ratio[1])
        aspect = math.exp(_uniform(log_lo, log_hi, generator))
        h = min(height, max(1, round(math.sqrt(area * aspect))))
        w = min(width, max(1, round(math.sqrt(area / aspect))))
        d = min(frames, max(1, round(_uniform(*spec.temporal_scale, generator) * frames)))
        return d, h, w

    def sample(self, generator: torch.Generator) -> torch.Tensor:
        """Boolean [frames, height, width], True = masked (a prediction target)."""
        frames, height, width = self.grid
        for _ in range(self.max_tries):
            mask = torch.zeros(self.grid, dtype=torch.bool)
            for _ in range(self.spec.num_blocks):
                d, h, w = self.block_size(generator)
                t0, r0, c0 = _randint(frames - d, generator), _randint(height - h, generator), _randint(width - w, generator)
                mask[t0 : t0 + d, r0 : r0 + h, c0 : c0 + w] = True
            if (~mask).sum() >= self.min_context:
                return mask
        raise RuntimeError(
            f"could not sample a mask leaving {self.min_context} context tokens in {self.max_tries} tries; "
            f"lower spatial_scale or num_blocks ({self.spec})"
        )

    def sample_batch(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(context_index [B, Kc], target_index [B, Kt]), sorted token indices.

        Counts differ between clips, so each clip keeps a random subset of the batch minimum (as the
        reference collator does) to make rectangular index tensors.
        """
        masks = [self.sample(generator).flatten() for _ in range(batch_size)]
        context = [torch.nonzero(~m).flatten() for m in masks]
        target = [torch.nonzero(m).flatten() for m in masks]
        keep_c = min(len(c) for c in context)
        keep_t = min(len(t) for t in target)

        def subset(idx: torch.Tensor, keep: int) -> torch.Tensor:
            if len(idx) == keep:
                return idx
            chosen = torch.randperm(len(idx), generator=generator)[:keep]
            return idx[chosen].sort().values

        return (
            torch.stack([subset(c, keep_c) for c in context]),
            torch.stack([subset(t, keep_t) for t in target]),
        )
