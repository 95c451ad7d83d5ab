"""Fixed-length clips cut from trajectories, with actions = state differences between clip frames.

A clip of `frames_per_clip` frames takes every `stride`-th frame of a trajectory (stride 4 on 15 fps
DROID video gives the reference's ~4 fps); the action between clip frames k and k+1 is
`poses_to_actions(state_k, state_k+1)`, so a strided clip's actions span the skipped frames too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vjepa_ac.poses import poses_to_actions


def clip_windows(lengths: Sequence[int], frames_per_clip: int, stride: int, window_step: int = 1):
    """(trajectory index, start frame) of every clip that fits; raises if none does."""
    if frames_per_clip < 2:
        raise ValueError(f"frames_per_clip must be >= 2 (a clip needs at least one action), got {frames_per_clip}")
    if stride < 1 or window_step < 1:
        raise ValueError(f"stride and window_step must be >= 1, got {stride}, {window_step}")
    span = (frames_per_clip - 1) * stride + 1
    windows = [(i, s) for i, n in enumerate(lengths) for s in range(0, n - span + 1, window_step)]
    if not windows:
        raise ValueError(
            f"no trajectory is long enough for {frames_per_clip} frames at stride {stride} "
            f"(needs {span} frames; longest has {max(lengths, default=0)})"
        )
    return windows


def split_indices(count: int, val_fraction: float) -> tuple[list[int], list[int]]:
    """Training and validation episode indices: the last ceil(fraction x count) episodes validate."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    held_out = int(np.ceil(val_fraction * count)) if val_fraction > 0 else 0
    if held_out >= count:
        raise ValueError(f"--val-fraction {val_fraction} leaves no training trajectory out of {count}")
    return list(range(count - held_out)), list(range(count - held_out, count))


def clip_actions(states: torch.Tensor) -> torch.Tensor:
    """Actions [T-1, 7] between consecutive rows of `states` [T, 7], computed in float64."""
    s = states.to(torch.float64)
    return poses_to_actions(s[:-1], s[1:]).to(torch.float32)


class ClipDataset(Dataset):
    """Items: `frames` uint8 [T, S, S, 3], `states` float32 [T, 7], `actions` float32 [T-1, 7]."""

    def __init__(self, trajectories, frames_per_clip: int = 8, stride: int = 1, window_step: int = 1):
        if not trajectories:
            raise ValueError("ClipDataset needs at least one trajectory")
        sizes = {t.frames.shape[1:] for t in trajectories}
        if len(sizes) != 1:
            raise ValueError(f"trajectories have different frame sizes {sorted(sizes)}; load them with one image_size")
        self.trajectories = list(trajectories)
        self.frames_per_clip = frames_per_clip
        self.stride = stride
        self.windows = clip_windows([len(t) for t in self.trajectories], frames_per_clip, stride, window_step)

    def __len__(self) -> int:
        return len(self.windows)

    def frame_indices(self, index: int) -> tuple[int, np.ndarray]:
        traj, start = self.windows[index]
        return traj, start + self.stride * np.arange(self.frames_per_clip)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        traj, rows = self.frame_indices(index)
        t = self.trajectories[traj]
        states = torch.from_numpy(np.ascontiguousarray(t.states[rows], dtype=np.float32))
        return {
            "frames": torch.from_numpy(np.ascontiguousarray(t.frames[rows])),
            "states": states,
            "actions": clip_actions(states),
        }
