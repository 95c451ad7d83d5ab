"""DROID-style episode directories.

One directory per episode holding `states.npy` (float [T, 7]: xyz, extrinsic "xyz" Euler, gripper
closedness, as DROID's `cartesian_position` + `gripper_position`) and the frames of one camera as either
- a video file (`<camera>.mp4`, default: the only / first `.mp4` in the directory, or under
  `recordings/MP4/`), decoded with imageio — this needs the optional `imageio-ffmpeg` package; or
- a directory `frames/` of PNG (or JPEG) images, one per state, in file-name order.
The PNG layout works with no extra packages (convert a DROID mp4 with `ffmpeg -i left.mp4 frames/%06d.png`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vjepa_ac.training.episodes import EpisodeFormatError

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


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


def load_droid_episode(path: str | os.PathLike, image_size: int | None = None, camera: str | None = None):
    """Read one DROID-style episode into a Trajectory (frames resized to `image_size` if given)."""
    from vjepa_ac.training.trajectories import Trajectory, resize_frames

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
    return Trajectory(frames=frames, states=states, name=path.name)
