"""send_goal_image CLI: transient-local goal that a late-joining subscriber still receives."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
from PIL import Image as PILImage
from ros_test_support import REPO_ROOT, RUN_ENV, Recorder, Spinner, synthetic_frame, wait_for
from sensor_msgs.msg import Image

from vjepa_ac.ros.image_conversion import image_msg_to_rgb
from vjepa_ac.ros.qos import GOAL_QOS


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


def _sender(*args):
    return [sys.executable, "-m", "vjepa_ac.ros.send_goal_image", *args]


def test_late_subscriber_receives_goal_sent_earlier(tmp_path):
    frame = synthetic_frame(size=80, shift=12)
    path = tmp_path / "goal.png"
    PILImage.fromarray(frame).save(path)
    sender = subprocess.Popen(_sender(str(path), "--wait", "20", "--linger", "5"), cwd=REPO_ROOT, env=RUN_ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3.0)  # the goal is published before anybody listens
        recorder = Recorder().record(Image, "goal_image", GOAL_QOS)
        with Spinner(recorder):
            assert wait_for(lambda: recorder.count("goal_image") == 1, 20)
        received = image_msg_to_rgb(recorder.latest("goal_image"))
        assert np.array_equal(received, frame)  # PNG is lossless: bit-exact over DDS
        recorder.destroy_node()
        assert sender.wait(timeout=30) == 0, sender.communicate()[1]
    finally:
        if sender.poll() is None:
            sender.kill()


def test_unreadable_file_exits_with_message(tmp_path):
    bad = tmp_path / "not_an_image.png"
    bad.write_text("hello")
    result = subprocess.run(_sender(str(bad)), cwd=REPO_ROOT, env=RUN_ENV, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "cannot read image" in result.stderr
    result = subprocess.run(_sender(str(tmp_path / "missing.png")), cwd=REPO_ROOT, env=RUN_ENV,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not found" in result.stderr
