"""The recorder's ROS-free core: step pairing, freshness and gap checks, and the saved episode layout."""

from __future__ import annotations

import errno
import hashlib
import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vjepa_ac.sensing import SensorSample
from vjepa_ac.training.data.episodes import load_episode, load_episodes
from vjepa_ac.training.data.recording import (
    EpisodeRecording,
    EpisodeSaveError,
    RecorderSettings,
    read_metadata,
    save_recording,
)

PERIOD = 0.25
SETTINGS = RecorderSettings(rate_hz=1 / PERIOD, image_size=32, min_steps=3, max_sync_skew_s=0.05)


def frame(k: int) -> np.ndarray:
    image = np.zeros((48, 64, 3), np.uint8)  # not square: the recorder crops like the planner
    image[10:20, 20 + k : 30 + k] = 255
    return image


def samples(t: float, k: int, x: float = 0.4, camera_dt: float = 0.0):
    quat = Rotation.from_euler("xyz", [np.pi, 0.0, 0.1 * k]).as_quat()
    pose6 = np.r_[x + 0.01 * k, 0.0, 0.3, Rotation.from_quat(quat).as_euler("xyz")]
    return (SensorSample(frame(k), t + camera_dt, t, "cam"), SensorSample((pose6, quat), t, t, "base"),
            SensorSample(0.25, t, t))


def record(recording: EpisodeRecording, steps: int, start: float = 100.0, dt: float = PERIOD):
    cams, poses, grippers = [], [], []
    for k in range(steps):
        t = start + k * dt
        c, p, g = samples(t - 0.01, k)
        cams.append(c), poses.append(p), grippers.append(g)
        assert recording.record_step(t, cams, poses, grippers) is None, recording.problems
    return recording


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_saved_episode_is_training_format_with_metadata(tmp_path):
    path = save_recording(record(EpisodeRecording(SETTINGS, seed=90001), 5), tmp_path)
    assert path.name == "episode_000001.npz"
    episode = load_episode(path)
    assert episode.frames.shape == (5, 32, 32, 3) and episode.states.shape == (5, 7)
    assert episode.seed == 90001 and episode.engine == "ros"
    np.testing.assert_allclose(episode.states[:, 0], 0.4 + 0.01 * np.arange(5), atol=1e-6)
    np.testing.assert_allclose(episode.states[:, 6], 0.25)
    with np.load(path) as data:
        quats, stamps = data["orientations_xyzw"], data["stamps"]
    # The states' angles are the quaternions in extrinsic xyz radians.
    angle = (Rotation.from_quat(quats).inv() * Rotation.from_euler("xyz", episode.states[:, 3:6])).magnitude()
    assert np.degrees(angle).max() < 1e-3
    np.testing.assert_allclose(stamps, PERIOD * np.arange(5), atol=1e-9)
    meta = read_metadata(path)
    assert meta["euler_convention"] == "xyz" and meta["euler_extrinsic"] and meta["angle_unit"] == "rad"
    assert meta["camera_frame_id"] == "cam" and meta["base_frame_id"] == "base"
    assert meta["source_image_size"] == [64, 48] and meta["image_size"] == [32, 32] and meta["rate_hz"] == 4.0
    # What vjepa-ac-train-predictor --episodes reads.
    (trajectory,) = load_episodes(tmp_path, image_size=16)
    assert trajectory.frames.shape == (5, 16, 16, 3)


def test_pairs_each_frame_with_the_pose_taken_closest_to_it(tmp_path):
    recording = EpisodeRecording(SETTINGS)
    poses, grippers = [], []
    for k in range(4):
        _, p, g = samples(10.0 + 0.01 * k, k)
        poses.append(p), grippers.append(g)
    camera = SensorSample(frame(0), 10.021, 10.03, "cam")  # taken between the poses of k=2 and k=3
    assert recording.record_step(10.05, [camera], poses, grippers) is None
    assert recording.states[0][0] == pytest.approx(0.42)


@pytest.mark.parametrize(("fault", "reason"), [
    ("gap", "gap: 0.750 s since the previous step"),
    ("repeated_frame", "stale frame: no camera frame newer"),
    ("old_camera", "stale camera image"),
    ("unsynchronised", "no EE pose and gripper state within max_sync_skew_s"),
    ("no_gripper", "no gripper state received"),
])
def test_faults_are_kept_and_refuse_the_save(tmp_path, fault, reason):
    earlier = save_recording(record(EpisodeRecording(SETTINGS), 3), tmp_path)
    before = digest(earlier)
    recording = record(EpisodeRecording(SETTINGS), 3)
    t = 100.0 + 3 * PERIOD
    c, p, g = samples(t - 0.01, 3)
    if fault == "gap":
        t += 2 * PERIOD
        c, p, g = samples(t - 0.01, 3)
    elif fault == "repeated_frame":
        c = SensorSample(frame(2), 100.0 + 2 * PERIOD - 0.01, t - 0.01, "cam")
        p = SensorSample(p.value, c.stamp_s, t)
        g = SensorSample(g.value, c.stamp_s, t)
    elif fault == "old_camera":
        c, p, g = samples(t - 0.8, 3)
    elif fault == "unsynchronised":
        c, p, g = samples(t - 0.01, 3, camera_dt=0.2)
    problem = recording.record_step(t, [c], [p], [] if fault == "no_gripper" else [g])
    assert reason in problem
    with pytest.raises(EpisodeSaveError, match="episode not saved") as info:
        save_recording(recording, tmp_path)
    assert reason in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [earlier.name] and digest(earlier) == before


def test_too_short_an_episode_is_refused(tmp_path):
    with pytest.raises(EpisodeSaveError, match=r"only 2 steps recorded \(min_steps 3\)"):
        save_recording(record(EpisodeRecording(SETTINGS), 2), tmp_path)
    assert list(tmp_path.iterdir()) == []


class FullDisk:
    """A file that takes `room` bytes, then fails as a full disk does (ENOSPC)."""

    def __init__(self, path, mode, room: int = 512):
        self._file = open(path, mode)  # noqa: SIM115 - closed in __exit__
        self.room = room

    def write(self, data):
        if len(data) > self.room:
            self._file.write(bytes(data)[: self.room])
            self._file.flush()
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


def test_write_error_leaves_no_file_and_earlier_episodes_intact(tmp_path):
    earlier = save_recording(record(EpisodeRecording(SETTINGS), 3), tmp_path)
    before = digest(earlier)
    with pytest.raises(EpisodeSaveError, match=r"disk full.*No space left on device"):
        save_recording(record(EpisodeRecording(SETTINGS), 4), tmp_path, open_file=FullDisk)
    assert sorted(p.name for p in tmp_path.iterdir()) == [earlier.name] and digest(earlier) == before
    # The next good episode is numbered on from the last saved one.
    assert save_recording(record(EpisodeRecording(SETTINGS), 3), tmp_path).name == "episode_000002.npz"


def test_metadata_is_json_the_checker_can_read(tmp_path):
    path = save_recording(record(EpisodeRecording(SETTINGS), 3), tmp_path)
    with np.load(path) as data:
        assert json.loads(str(data["metadata"]))["state_layout"][3:6] == ["roll", "pitch", "yaw"]
