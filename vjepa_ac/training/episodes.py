"""Episode files written by data collection: one `.npz` per episode.

Layout (docs/architecture.md): `frames` uint8 [T, S, S, 3], `states` float32 [T, 7], `seed` (int),
`engine` (str), and optionally `cube_positions` float32 [T, 3] (simulation ground truth, used only to find
the steps where the arm moved the cube). Kept deliberately flat so numpy alone can read an episode anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STATE_DIM = 7


class EpisodeFormatError(ValueError):
    """An episode file or array does not follow the documented layout."""


@dataclass(frozen=True)
class Episode:
    frames: np.ndarray  # uint8 [T, S, S, 3]
    states: np.ndarray  # float32 [T, 7]
    seed: int
    engine: str

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def validate_trajectory_arrays(frames: np.ndarray, states: np.ndarray, where: str = "trajectory") -> None:
    """Raise EpisodeFormatError unless frames/states are a consistent RGB video + 7-D state track."""
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        raise EpisodeFormatError(f"{where}: frames must be a uint8 numpy array, got {getattr(frames, 'dtype', type(frames))}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise EpisodeFormatError(f"{where}: frames must have shape [T, H, W, 3], got {frames.shape}")
    if not isinstance(states, np.ndarray) or states.ndim != 2 or states.shape[1] != STATE_DIM:
        raise EpisodeFormatError(f"{where}: states must have shape [T, {STATE_DIM}], got {getattr(states, 'shape', None)}")
    if frames.shape[0] != states.shape[0]:
        raise EpisodeFormatError(f"{where}: {frames.shape[0]} frames but {states.shape[0]} states")
    if frames.shape[0] < 1:
        raise EpisodeFormatError(f"{where}: empty trajectory")
    if not np.all(np.isfinite(states)):
        raise EpisodeFormatError(f"{where}: states contain non-finite values")


def save_episode(path: str | os.PathLike, frames: np.ndarray, states: np.ndarray, seed: int, engine: str,
                 cube_positions: np.ndarray | None = None) -> Path:
    """Write one episode atomically (temp file + rename) so an interrupted collection never leaves a torn file."""
    frames = np.asarray(frames)
    states = np.asarray(states, dtype=np.float32)
    validate_trajectory_arrays(frames, states, where=str(path))
    extra = {}
    if cube_positions is not None:
        cube_positions = np.asarray(cube_positions, dtype=np.float32)
        if cube_positions.shape != (len(states), 3) or not np.all(np.isfinite(cube_positions)):
            raise EpisodeFormatError(f"{path}: cube_positions must be finite [{len(states)}, 3], "
                                     f"got {cube_positions.shape}")
        extra["cube_positions"] = cube_positions
    if frames.shape[1] != frames.shape[2]:
        raise EpisodeFormatError(f"{path}: episode frames must be square, got {frames.shape[1:3]}")
    path = Path(path)
    if path.suffix != ".npz":
        raise EpisodeFormatError(f"{path}: episode files must end in .npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, frames=frames, states=states, seed=np.int64(seed), engine=np.str_(engine), **extra)
    os.replace(tmp, path)
    return path


def load_episode(path: str | os.PathLike) -> Episode:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"episode file not found: {path}")
    with np.load(path, allow_pickle=False) as data:
        missing = {"frames", "states", "seed", "engine"} - set(data.files)
        if missing:
            raise EpisodeFormatError(f"{path}: not an episode file, missing {sorted(missing)}")
        frames = data["frames"]
        states = data["states"].astype(np.float32, copy=False)
        seed = int(data["seed"])
        engine = str(data["engine"])
    validate_trajectory_arrays(frames, states, where=str(path))
    return Episode(frames=frames, states=states, seed=seed, engine=engine)


def load_cube_positions(path: str | os.PathLike) -> np.ndarray | None:
    """The episode's cube positions [T, 3], or None for episodes recorded without them."""
    with np.load(path, allow_pickle=False) as data:
        return data["cube_positions"].astype(np.float32) if "cube_positions" in data.files else None


def is_episode_file(path: str | os.PathLike) -> bool:
    """True for an `.npz` whose keys are the episode layout (cheap: reads the zip directory only)."""
    path = Path(path)
    if path.suffix != ".npz" or not path.is_file():
        return False
    with np.load(path, allow_pickle=False) as data:
        return {"frames", "states", "seed", "engine"} <= set(data.files)


def list_episode_files(directory: str | os.PathLike) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"episode directory not found: {directory}")
    return sorted(p for p in directory.glob("*.npz") if not p.name.endswith(".tmp.npz"))
