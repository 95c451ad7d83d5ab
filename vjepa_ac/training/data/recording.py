"""Episodes recorded from a running robot: synchronised fixed-rate steps, checks, and an atomic save.

The ROS-free core of the `episode_recorder` node. The node hands in the newest sensor samples at every
tick; this module pairs a camera frame with the EE pose and gripper state taken closest to it, checks
freshness (the planner's rule: age by header stamp and by arrival, whichever is older), and writes an
episode that `vjepa-ac-train-predictor --episodes` reads (episodes.py layout) plus what a recording
must say about itself:

- `frames` uint8 [T, S, S, 3] (cropped and resized as the planner crops live frames), `states` float32
  [T, 7] (x, y, z in the base frame; roll, pitch, yaw as scipy's lowercase "xyz", i.e. extrinsic, in
  radians; gripper closedness 0 open .. 1 closed), `seed` (the scene seed, -1 on a real robot),
  `engine` ("ros");
- `orientations_xyzw` float64 [T, 4], the quaternions exactly as received (so a checker can verify the
  Euler convention), `stamps` float64 [T] (seconds since the first step), and `metadata`, a JSON string.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from vjepa_ac.framing import fit_to_square
from vjepa_ac.sensing import SensorSample
from vjepa_ac.training.data.episodes import EpisodeFormatError, validate_trajectory_arrays

__all__ = [
    "EULER_CONVENTION",
    "RECORDED_ENGINE",
    "RecorderSettings",
    "EpisodeRecording",
    "EpisodeSaveError",
    "next_episode_path",
    "save_recording",
    "read_metadata",
]

EULER_CONVENTION = "xyz"  # scipy lowercase = extrinsic rotations about the base axes, radians (DROID's)
RECORDED_ENGINE = "ros"
METADATA_FORMAT = "vjepa_ac.recorded_episode"
STATE_LAYOUT = ("x", "y", "z", "roll", "pitch", "yaw", "gripper_closedness")
_EPISODE_NAME = re.compile(r"^episode_(\d+)\.npz$")


class EpisodeSaveError(RuntimeError):
    """The episode was not written; the text says why. Nothing partial is left behind."""


@dataclass(frozen=True)
class RecorderSettings:
    rate_hz: float = 4.0
    image_size: int = 256
    image_crop: str = "center"
    max_sensor_age_s: float = 0.5
    max_sync_skew_s: float = 0.05
    max_gap_factor: float = 2.0  # a step later than this many periods after the previous one is a gap
    min_steps: int = 4
    max_steps: int = 2400
    robot: str = "franka_panda"
    base_frame: str = ""
    gripper_joint_names: tuple[str, ...] = ()
    gripper_open_width: float = 0.08
    require_gripper_state: bool = True

    def __post_init__(self):
        if not (self.rate_hz > 0 and self.image_size >= 16 and self.max_sensor_age_s > 0
                and self.max_sync_skew_s >= 0 and self.max_gap_factor > 1 and 2 <= self.min_steps <= self.max_steps):
            raise ValueError(f"invalid recorder settings: {self}")

    @property
    def period_s(self) -> float:
        return 1.0 / self.rate_hz


def _nearest(samples, taken_s: float):
    return min(samples, key=lambda s: abs(s.taken_s - taken_s), default=None)


@dataclass
class EpisodeRecording:
    """Steps of one episode in memory, with every reason it may not be saved."""

    settings: RecorderSettings
    seed: int = -1
    frames: list = field(default_factory=list)
    states: list = field(default_factory=list)
    orientations: list = field(default_factory=list)
    times: list = field(default_factory=list)  # tick times (s, node clock)
    camera_times: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    camera_frame_id: str | None = None
    pose_frame_id: str | None = None
    source_size: tuple[int, int] | None = None  # (width, height) of the camera images
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def full(self) -> bool:
        return len(self.frames) >= self.settings.max_steps

    def note_problem(self, text: str) -> None:
        """A reason not to save (a rejected message, a dropped input...), tagged with the step it hit."""
        self.problems.append(f"step {len(self.frames)}: {text}")

    def record_step(self, now_s: float, cameras, poses, grippers) -> str | None:
        """Take one step from the newest samples of each input (sequences, oldest first).

        The camera frame is the newest one that has a pose (and gripper state) taken within
        `max_sync_skew_s` of it. Returns None for a clean step, else the problem (also kept; a step after
        a gap is still recorded).
        """
        s = self.settings
        gap = None
        if self.times and now_s - self.times[-1] > s.max_gap_factor * s.period_s:
            gap = self._fail(f"gap: {now_s - self.times[-1]:.3f} s since the previous step "
                             f"(rate_hz {s.rate_hz:g} allows {s.max_gap_factor * s.period_s:.3f} s)")
        cameras, poses, grippers = list(cameras), list(poses), list(grippers)
        for name, samples, needed in (("camera image", cameras, True), ("EE pose", poses, True),
                                      ("gripper state", grippers, s.require_gripper_state)):
            if needed and not samples:
                return self._fail(f"no {name} received")
            if needed and samples[-1].age_s(now_s) > s.max_sensor_age_s:
                return self._fail(f"stale {name}: {samples[-1].age_s(now_s):.2f} s old "
                                  f"(max_sensor_age_s {s.max_sensor_age_s:g})")
        match = None
        for camera in reversed(cameras):
            pose = _nearest(poses, camera.taken_s)
            gripper = _nearest(grippers, camera.taken_s)
            if abs(pose.taken_s - camera.taken_s) > s.max_sync_skew_s:
                continue
            if s.require_gripper_state and abs(gripper.taken_s - camera.taken_s) > s.max_sync_skew_s:
                continue
            match = camera, pose, gripper
            break
        if match is None:
            return self._fail(f"no EE pose and gripper state within max_sync_skew_s {s.max_sync_skew_s:g} s "
                              f"of any recent camera frame")
        camera, pose, gripper = match
        if camera.age_s(now_s) > s.max_sensor_age_s:
            return self._fail(f"stale camera image: the newest synchronised frame is {camera.age_s(now_s):.2f} s old")
        if self.camera_times and camera.taken_s <= self.camera_times[-1]:
            return self._fail("stale frame: no camera frame newer than the previous step's "
                              "(camera dropped, or slower than rate_hz)")
        problem = self._check_frames(camera, pose)
        if problem:
            return self._fail(problem)
        rgb = camera.value
        pose6, quaternion = pose.value
        closedness = float(gripper.value) if gripper is not None else 0.0
        state = np.concatenate([np.asarray(pose6, dtype=np.float64), [closedness]])
        if not np.all(np.isfinite(state)):
            return self._fail(f"state is not finite: {state.tolist()}")
        self.frames.append(fit_to_square(rgb, s.image_size, s.image_crop))
        self.states.append(state)
        self.orientations.append(np.asarray(quaternion, dtype=np.float64))
        self.times.append(now_s)
        self.camera_times.append(camera.taken_s)
        return gap

    def _fail(self, text: str) -> str:
        self.note_problem(text)
        return text

    def _check_frames(self, camera: SensorSample, pose: SensorSample) -> str | None:
        size = (int(camera.value.shape[1]), int(camera.value.shape[0]))
        if self.camera_frame_id is None:
            self.camera_frame_id, self.pose_frame_id, self.source_size = camera.frame_id, pose.frame_id, size
            return None
        if camera.frame_id != self.camera_frame_id:
            return f"camera frame_id changed from '{self.camera_frame_id}' to '{camera.frame_id}'"
        if pose.frame_id != self.pose_frame_id:
            return f"EE pose frame_id changed from '{self.pose_frame_id}' to '{pose.frame_id}'"
        if size != self.source_size:
            return f"camera image size changed from {self.source_size} to {size}"
        return None

    def reasons_not_to_save(self) -> list[str]:
        reasons = list(self.problems)
        if len(self.frames) < self.settings.min_steps:
            reasons.append(f"only {len(self.frames)} steps recorded (min_steps {self.settings.min_steps})")
        if self.states and not np.all(np.isfinite(np.asarray(self.states))):
            reasons.append("states contain NaN or inf")
        return reasons

    def metadata(self) -> dict:
        s = self.settings
        return {
            "format": METADATA_FORMAT,
            "format_version": 1,
            "robot": s.robot,
            "camera_frame_id": self.camera_frame_id,
            "base_frame_id": s.base_frame or self.pose_frame_id,
            "image_size": [s.image_size, s.image_size],
            "source_image_size": list(self.source_size) if self.source_size else None,  # width, height
            "image_crop": s.image_crop,
            "rate_hz": s.rate_hz,
            "state_layout": list(STATE_LAYOUT),
            "euler_convention": EULER_CONVENTION,
            "euler_extrinsic": True,
            "angle_unit": "rad",
            "gripper_joint_names": list(s.gripper_joint_names),
            "gripper_open_width_m": s.gripper_open_width,
            "gripper_closedness": "0 open .. 1 closed",
            "steps": len(self.frames),
            "started_at": self.started_at,
            "duration_s": (self.times[-1] - self.times[0]) if self.times else 0.0,
            "seed": self.seed,
        }


def next_episode_path(directory: str | os.PathLike) -> Path:
    """`episode_NNNNNN.npz` numbered after the highest episode already there (file order = recording order)."""
    directory = Path(directory)
    numbers = [int(m.group(1)) for p in directory.glob("episode_*.npz") if (m := _EPISODE_NAME.match(p.name))]
    return directory / f"episode_{max(numbers, default=0) + 1:06d}.npz"


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_recording(recording: EpisodeRecording, directory: str | os.PathLike,
                   open_file: Callable = open) -> Path:
    """Write the episode to `directory` atomically and return its path.

    Raises EpisodeSaveError (nothing written) when the episode fails its checks or the write fails;
    a hidden temporary file is written, synced and renamed, so a crash or a full disk never leaves a
    torn episode and never touches the episodes already there. `open_file` is the file opener (tests
    pass one that fails like a full disk).
    """
    reasons = recording.reasons_not_to_save()
    if reasons:
        raise EpisodeSaveError("episode not saved: " + "; ".join(reasons))
    frames = np.stack(recording.frames)
    states = np.stack(recording.states).astype(np.float32)
    try:
        validate_trajectory_arrays(frames, states, where="recorded episode")
    except EpisodeFormatError as exc:
        raise EpisodeSaveError(f"episode not saved: {exc}") from exc
    directory = Path(directory).expanduser()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EpisodeSaveError(f"episode not saved: cannot create {directory}: {exc}") from exc
    path = next_episode_path(directory)
    tmp = directory / f".{path.name}.partial"
    times = np.asarray(recording.times, dtype=np.float64)
    arrays = {
        "frames": frames,
        "states": states,
        "seed": np.int64(recording.seed),
        "engine": np.str_(RECORDED_ENGINE),
        "orientations_xyzw": np.stack(recording.orientations),
        "stamps": times - times[0],
        "metadata": np.str_(json.dumps(recording.metadata())),
    }
    try:
        with open_file(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        reason = "disk full" if exc.errno == errno.ENOSPC else "write failed"
        raise EpisodeSaveError(f"episode not saved ({reason}): {exc}") from exc
    _fsync_directory(directory)
    return path


def read_metadata(path: str | os.PathLike) -> dict | None:
    """The recording metadata of an episode file, or None for episodes written without it."""
    with np.load(path, allow_pickle=False) as data:
        if "metadata" not in data.files:
            return None
        text = str(data["metadata"])
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EpisodeFormatError(f"{path}: metadata is not JSON: {exc}") from exc
    if not isinstance(metadata, dict):
        raise EpisodeFormatError(f"{path}: metadata is not a JSON object")
    return metadata
