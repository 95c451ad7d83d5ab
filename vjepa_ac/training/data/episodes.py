"""Episodes (RGB frames + 7-D end-effector states) and the files they come from.

Our episode file: one `.npz` with `frames` uint8 [T, S, S, 3], `states` float32 [T, 7], `seed` (int),
`engine` (str), and optionally `cube_positions` float32 [T, 3] (simulation ground truth). Kept flat so
numpy alone can read it anywhere (docs/architecture.md).

`load_episodes(path)` also reads reference-style npz (like `franka_example_traj.npz`: `observations` uint8
[N, T, H, W, 3] and `states` [N, T, 7], one episode per leading index) and DROID-style episode
directories, or a directory holding any of these. A DROID-style directory holds `states.npy` (float
[T, 7]: xyz, extrinsic "xyz" Euler, gripper closedness, as DROID's `cartesian_position` +
`gripper_position`) and one camera's frames as either a video (`<camera>.mp4`, default the first `.mp4` in
the directory or under `recordings/MP4/`; needs the optional `imageio-ffmpeg` package) or a `frames/`
directory of PNG/JPEG images, one per state, in file-name order (`ffmpeg -i left.mp4 frames/%06d.png`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

STATE_DIM = 7
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


class EpisodeFormatError(ValueError):
    """An episode file or array does not follow the documented layout."""


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


class Episode:
    """Frames uint8 [T, S, S, 3] and states float32 [T, 7] of one trajectory, from any source.

    `frames` is an array or a zero-argument function that reads them; a function is called on every
    `.frames` access and nothing is kept, so a DROID-scale token cache holds one episode's frames at a time.
    """

    def __init__(self, frames: np.ndarray | Callable[[], np.ndarray], states: np.ndarray, name: str = "episode",
                 seed: int = -1, engine: str = ""):
        self.name, self.seed, self.engine = name, int(seed), engine
        self._frames = frames
        if callable(frames):
            self.states = np.asarray(states, dtype=np.float32)
        else:
            self.states = states
            validate_trajectory_arrays(frames, states, where=name)

    def __len__(self) -> int:
        return int(self.states.shape[0])

    @property
    def lazy(self) -> bool:
        return callable(self._frames)

    @property
    def frames(self) -> np.ndarray:
        if not self.lazy:
            return self._frames
        frames = self._frames()
        validate_trajectory_arrays(frames, self.states, where=self.name)
        return frames

    def materialize(self) -> Episode:
        """This episode with its frames in memory."""
        return Episode(self.frames, self.states, self.name, self.seed, self.engine) if self.lazy else self


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
    return Episode(frames, states, name=path.name, seed=seed, engine=engine)


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


def load_reference_npz(path: str | os.PathLike, image_size: int | None = None) -> list[Episode]:
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
        out.append(Episode(frames, states[i], name=f"{path.name}[{i}]"))
    return out


def ffmpeg_available() -> bool:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def is_droid_episode_dir(path: str | os.PathLike) -> bool:
    path = Path(path)
    return path.is_dir() and (path / "states.npy").is_file()


def list_droid_episode_dirs(root: str | os.PathLike) -> list[Path]:
    root = Path(root)
    return sorted(p for p in root.iterdir() if is_droid_episode_dir(p))


def _video_file(path: Path, camera: str | None) -> Path | None:
    for folder in (path, path / "recordings" / "MP4"):
        if camera is not None and (folder / f"{camera}.mp4").is_file():
            return folder / f"{camera}.mp4"
        videos = sorted(folder.glob("*.mp4")) if folder.is_dir() else []
        if camera is None and videos:
            return videos[0]
    return None


def _read_video(video: Path) -> np.ndarray:
    if not ffmpeg_available():
        raise EpisodeFormatError(
            f"{video}: reading mp4 needs the 'imageio-ffmpeg' package; install it or provide a frames/ "
            "directory of PNG images instead"
        )
    import imageio.v2 as imageio

    reader = imageio.get_reader(str(video), format="ffmpeg")
    try:
        frames = [np.asarray(f, dtype=np.uint8)[..., :3] for f in reader]
    finally:
        reader.close()
    return np.stack(frames)


def _read_frame_dir(folder: Path) -> np.ndarray:
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
    if not files:
        raise EpisodeFormatError(f"{folder}: no PNG/JPEG frames")
    frames = [np.asarray(Image.open(f).convert("RGB"), dtype=np.uint8) for f in files]
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise EpisodeFormatError(f"{folder}: frames have different sizes {sorted(shapes)}")
    return np.stack(frames)


def load_droid_episode(path: str | os.PathLike, image_size: int | None = None, camera: str | None = None) -> Episode:
    """Read one DROID-style episode (frames resized to `image_size` if given)."""
    path = Path(path)
    if not is_droid_episode_dir(path):
        raise EpisodeFormatError(f"{path}: not a DROID-style episode directory (missing states.npy)")
    states = np.load(path / "states.npy", allow_pickle=False).astype(np.float32)
    if (path / "frames").is_dir():
        frames = _read_frame_dir(path / "frames")
    else:
        video = _video_file(path, camera)
        if video is None:
            raise EpisodeFormatError(f"{path}: neither a frames/ directory nor an .mp4 video found")
        frames = _read_video(video)
    if len(frames) != len(states):
        raise EpisodeFormatError(f"{path}: {len(frames)} frames but {len(states)} states")
    if image_size is not None:
        frames = resize_frames(frames, image_size)
    return Episode(frames, states, name=path.name)


def load_episodes(path: str | os.PathLike, image_size: int | None = None, lazy: bool = False) -> list[Episode]:
    """Every episode found at `path` (file or directory), frames resized to `image_size` if given.

    With `lazy`, episode files and DROID-style directories come back with frames read on access.
    """

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
                return [Episode(lambda: load_episodes(path, image_size)[0].frames, states, name=path.name)]
            ep = load_episode(path)
            frames = ep.frames if image_size is None else resize_frames(ep.frames, image_size)
            return [Episode(frames, ep.states, name=path.name, seed=ep.seed, engine=ep.engine)]
        return load_reference_npz(path, image_size)
    if is_droid_episode_dir(path):
        if lazy:
            states = np.load(path / "states.npy", allow_pickle=False)
            return [Episode(lambda: load_droid_episode(path, image_size).frames, states, name=path.name)]
        return [load_droid_episode(path, image_size)]
    episodes: list[Episode] = []
    for file in list_episode_files(path):
        episodes.extend(load_episodes(file, image_size, lazy))
    for episode_dir in list_droid_episode_dirs(path):
        episodes.extend(load_episodes(episode_dir, image_size, lazy))
    if not episodes:
        raise EpisodeFormatError(f"{path}: no episodes (.npz) or DROID-style episode directories found")
    return episodes


def load_many(paths, image_size: int | None = None, lazy: bool = False) -> list[Episode]:
    out: list[Episode] = []
    for p in paths:
        out.extend(load_episodes(p, image_size, lazy))
    return out
