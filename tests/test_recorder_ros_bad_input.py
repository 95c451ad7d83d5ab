"""Episode recorder node over DDS: bad input gets a clear refusal, no file, and earlier episodes stay intact."""

from __future__ import annotations

import errno
import hashlib
import math
import time

import numpy as np
import pytest
import rclpy
from rclpy.node import Node
from ros_test_support import (
    SensorFeeder,
    Spinner,
    call_service,
    parameter_overrides,
    synthetic_frame,
    wait_for,
)
from std_srvs.srv import Trigger

from vjepa_ac.ros.episode_recorder import EpisodeRecorderNode
from vjepa_ac.training.data.episodes import load_episode

RATE_HZ = 5.0
PANDA_FINGERS = ["panda_finger_joint1", "panda_finger_joint2"]


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


class Disk:
    """Opens files normally until `full` is set; then writes 256 bytes and fails as a full disk (ENOSPC)."""

    def __init__(self):
        self.full = False
        self.failures = 0

    def __call__(self, path, mode):
        handle = open(path, mode)  # noqa: SIM115 - the writer closes it
        if not self.full:
            return handle
        disk = self
        real_write = handle.write

        class Full:
            def write(self, data):
                disk.failures += 1
                real_write(bytes(data)[:256])
                raise OSError(errno.ENOSPC, "No space left on device")

            def __getattr__(self, name):
                return getattr(handle, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                handle.close()

        return Full()


class Rig:
    def __init__(self, tmp_path, **params):
        self.dir = tmp_path / "episodes"
        self.disk = Disk()
        self.feeder = SensorFeeder(rate_hz=30.0)
        values = {"output_dir": str(self.dir), "rate_hz": RATE_HZ, "image_size": 32, "min_steps": 3,
                  "gripper_joint_names": PANDA_FINGERS, **params}
        self.recorder = EpisodeRecorderNode(parameter_overrides=parameter_overrides(values), open_file=self.disk)
        self.caller = Node("test_recorder_caller")
        self.spinner = Spinner(self.feeder, self.recorder, self.caller)

    def __enter__(self):
        self.spinner.start()
        assert wait_for(self.recorder.inputs_ready, 10), "recorder never received fresh inputs"
        return self

    def __exit__(self, *exc):
        self.spinner.stop()
        for node in (self.caller, self.recorder, self.feeder):
            node.destroy_node()

    def call(self, name: str):
        response = call_service(self.caller, Trigger, f"/vjepa_ac_episode_recorder/{name}", Trigger.Request())
        assert response is not None, f"~/{name} did not answer"
        return response

    def record(self, seconds: float = 1.0):
        assert self.call("start").success
        time.sleep(seconds)
        return self.call("stop_and_save")

    def files(self) -> list[str]:
        return sorted(p.name for p in self.dir.iterdir()) if self.dir.is_dir() else []


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def moving_image(feeder):
    """Each published frame differs, as a live camera's do."""
    counter = {"k": 0}

    def hook(msg):
        counter["k"] += 1
        from vjepa_ac.ros.image_conversion import rgb_to_image_msg

        moved = rgb_to_image_msg(synthetic_frame(64, counter["k"]), msg.header.frame_id, msg.header.stamp)
        return moved

    feeder.image_msg_hook = hook


def inject(rig, fault: str):
    feeder = rig.feeder
    if fault == "dropped camera":
        image, feeder.image = feeder.image, None
        time.sleep(0.8)
        feeder.image = image
    elif fault == "NaN pose":
        pose, feeder.pose_xyzq = feeder.pose_xyzq, (0.45, math.nan, 0.3, 1.0, 0.0, 0.0, 0.0)
        time.sleep(0.3)
        feeder.pose_xyzq = pose
    elif fault == "missing joint names":
        feeder.finger_names = ["fr3_finger_joint1", "fr3_finger_joint2"]
        time.sleep(0.3)
        feeder.finger_names = list(PANDA_FINGERS)


@pytest.mark.parametrize(("fault", "reasons"), [
    ("dropped camera", ("stale",)),
    ("NaN pose", ("EE pose rejected: pose contains NaN",)),
    ("missing joint names", ("gripper state rejected: JointState lacks finger joints",
                             "panda_finger_joint1")),
    ("disk full", ("disk full", "No space left on device")),
])
def test_bad_input_refuses_the_episode_and_keeps_earlier_ones(tmp_path, fault, reasons):
    with Rig(tmp_path) as rig:
        moving_image(rig.feeder)
        first = rig.record()
        assert first.success, first.message
        assert rig.files() == ["episode_000001.npz"]
        earlier = rig.dir / "episode_000001.npz"
        before = digest(earlier)
        assert rig.call("start").success
        time.sleep(0.6)
        if fault == "disk full":
            rig.disk.full = True
        else:
            inject(rig, fault)
        time.sleep(0.6)
        refused = rig.call("stop_and_save")
        assert not refused.success
        for reason in reasons:
            assert reason in refused.message, refused.message
        if fault == "disk full":
            assert rig.disk.failures >= 1  # the write really was attempted and failed
        # No episode, no temporary file; the earlier episode byte for byte as it was and still loadable.
        assert rig.files() == ["episode_000001.npz"]
        assert not list(rig.dir.glob(".*")), list(rig.dir.iterdir())
        assert digest(earlier) == before and len(load_episode(earlier)) >= 3
        # After the fault the recorder records again.
        rig.disk.full = False
        again = rig.record()
        assert again.success, again.message
        assert rig.files() == ["episode_000001.npz", "episode_000002.npz"]


def test_services_refuse_out_of_order_calls(tmp_path):
    with Rig(tmp_path) as rig:
        assert "not recording" in rig.call("stop_and_save").message
        assert not rig.call("discard").success
        assert rig.call("start").success
        assert "already recording" in rig.call("start").message
        time.sleep(0.5)
        discarded = rig.call("discard")
        assert discarded.success and "discarded" in discarded.message
        assert rig.files() == []


def test_recorded_steps_follow_the_rate_and_the_published_pose(tmp_path):
    with Rig(tmp_path) as rig:
        moving_image(rig.feeder)
        rig.feeder.pose_xyzq = (0.5, 0.1, 0.25, 1.0, 0.0, 0.0, 0.0)
        rig.feeder.fingers = (0.01, 0.01)
        time.sleep(0.3)
        saved = rig.record(1.6)
        assert saved.success, saved.message
        episode = load_episode(rig.dir / "episode_000001.npz")
        with np.load(rig.dir / "episode_000001.npz") as data:
            stamps = data["stamps"]
        assert 6 <= len(episode) <= 10  # 1.6 s at 5 Hz
        np.testing.assert_allclose(np.diff(stamps), 1 / RATE_HZ, atol=0.08)
        np.testing.assert_allclose(episode.states[:, :3], [[0.5, 0.1, 0.25]] * len(episode), atol=1e-6)
        np.testing.assert_allclose(np.abs(episode.states[:, 3:6]), [[np.pi, 0.0, 0.0]] * len(episode), atol=1e-6)
        np.testing.assert_allclose(episode.states[:, 6], 0.75, atol=1e-6)  # 2 cm of 8 cm open


def test_recorder_yaml_keys_reach_the_node_through_rcl():
    import yaml
    from ros_test_support import REPO_ROOT

    from vjepa_ac.ros.episode_recorder import RECORDER_PARAMETERS

    path = REPO_ROOT / "config" / "recorder.yaml"
    values = yaml.safe_load(path.read_text())["/**"]["ros__parameters"]
    assert set(values) == {spec.name for spec in RECORDER_PARAMETERS}
    node = EpisodeRecorderNode(cli_args=["--ros-args", "--params-file", str(path)])
    try:
        for key, value in values.items():
            assert getattr(node.settings, key) == value, key
        assert node.recorder_settings.rate_hz == 4.0 and node.recorder_settings.image_size == 256
    finally:
        node.destroy_node()
