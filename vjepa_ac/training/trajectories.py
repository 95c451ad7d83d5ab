"""Trajectories (RGB frames + 7-D end-effector states) from any supported source.

Sources, picked by `load_trajectories(path)`:
- our simulator episodes (`episodes.py`): an `.npz` with `frames`/`states`/`seed`/`engine`, or a
  directory of them;
- reference-style npz (like `franka_example_traj.npz`): `observations` uint8 [N, T, H, W, 3] and
  `states` float [N, T, 7], one trajectory per leading index;
- DROID-style episode directories (`droid_dataset.py`), or a directory holding several of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vjepa_ac.training.episodes import (
    EpisodeFormatError,
    is_episode_file,
    list_episode_files,
    load_episode,
    validate_trajectory_arrays,
)


@dataclass(frozen=True)
class Trajectory:
    frames: np.ndarray  # uint8 [T, S, S, 3]
    states: np.ndarray  # float32 [T, 7]
    name: str

    def __post_init__(self) -> None:
        validate_trajectory_arrays(self.frames, self.states, where=self.name)

    def __len__(self) -> int:
        return int(self.frames.shape[0])


class LazyTrajectory:
    """States up front, frames read from disk on every `.frames` access (nothing kept).

    Building a token cache needs one trajectory's frames at a time; a DROID-scale dataset would not fit
    in memory otherwise.
    """

    def __init__(self, name: str, states: np.ndarray, load_frames):
        self.name = name
        self.states = np.asarray(states, dtype=np.float32)
        self._load_frames = load_frames

    def __len__(self) -> int:
        return int(self.states.shape[0])

    @property
    def frames(self) -> np.ndarray:
        frames = self._load_frames()
        validate_trajectory_arrays(frames, self.states, where=self.name)
        return frames

    def materialize(self) -> Trajectory:
        return Trajectory(frames=self.frames, states=self.states, name=self.name)


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square, then resize to `size`×`size` (no-op when already that size)."""
    from PIL import Image

    if size <= 0:
        raise ValueError(f"image size must be positive, got {size}")
    t, h, w, _ = frames.shape
    if h == w == size:
        return frames
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    out = np.empty((t, size, size, 3), dtype=np.uint8)
    for i in range(t):
        crop = frames[i, top : top + side, left : left + side]
        out[i] = np.asarray(Image.fromarray(crop).resize((size, size), Image.BILINEAR))
    return out


def load_reference_npz(path: str | os.PathLike, image_size: int | None = None) -> list[Trajectory]:
    path = Path(path)
    with np.load(path, allow_pickle=False) as data:
        if not {"observations", "states"} <= set(data.files):
            raise EpisodeFormatError(f"{path}: expected 'observations' and 'states' arrays, found {data.files}")
        observations, states = data["observations"], data["states"].astype(np.float32)
    if observations.ndim == 4:
        observations, states = observations[None], states[None]
    if observations.ndim != 5 or states.ndim != 3 or observations.shape[:2] != states.shape[:2]:
        raise EpisodeFormatError(
            f"{path}: observations {observations.shape} / states {states.shape} are not [N, T, H, W, 3] / [N, T, 7]"
        )
    out = []
    for i in range(observations.shape[0]):
        frames = observations[i] if image_size is None else resize_frames(observations[i], image_size)
        out.append(Trajectory(frames=frames, states=states[i], name=f"{path.name}[{i}]"))
    return out


def load_trajectories(path: str | os.PathLike, image_size: int | None = None, lazy: bool = False) -> list:
    """Every trajectory found at `path` (file or directory), frames resized to `image_size` if given.

    With `lazy`, episode files and DROID-style directories come back as `LazyTrajectory` objects.
    """
    from vjepa_ac.training.droid_dataset import (
        is_droid_episode_dir,
        list_droid_episode_dirs,
        load_droid_episode,
    )

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such data path: {path}")
    if path.is_file():
        if path.suffix != ".npz":
            raise EpisodeFormatError(f"{path}: unsupported data file (expected .npz or a directory)")
        if is_episode_file(path):
            if lazy:
                with np.load(path, allow_pickle=False) as data:
                    states = data["states"]
                return [LazyTrajectory(path.name, states, lambda: load_trajectories(path, image_size)[0].frames)]
            ep = load_episode(path)
            frames = ep.frames if image_size is None else resize_frames(ep.frames, image_size)
            return [Trajectory(frames=frames, states=ep.states, name=path.name)]
        return load_reference_npz(path, image_size)
    if is_droid_episode_dir(path):
        if lazy:
            states = np.load(path / "states.npy", allow_pickle=False)
            return [LazyTrajectory(path.name, states, lambda: load_droid_episode(path, image_size).frames)]
        return [load_droid_episode(path, image_size)]
    trajectories: list = []
    for file in list_episode_files(path):
        trajectories.extend(load_trajectories(file, image_size, lazy))
    for episode_dir in list_droid_episode_dirs(path):
        trajectories.extend(load_trajectories(episode_dir, image_size, lazy))
    if not trajectories:
        raise EpisodeFormatError(f"{path}: no episodes (.npz) or DROID-style episode directories found")
    return trajectories


def load_many(paths, image_size: int | None = None, lazy: bool = False) -> list:
    out: list = []
    for p in paths:
        out.extend(load_trajectories(p, image_size, lazy))
    return out
