"""The planner's input limits without a node: image caps, plausibility, stamps (issue 21)."""

from __future__ import annotations

import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest
from geometry_msgs.msg import Pose
from sensor_msgs.msg import Image, JointState

from vjepa_ac.ros.image_conversion import image_msg_to_rgb, rgb_to_image_msg
from vjepa_ac.ros.image_limits import ImageLimits, ImageTooLargeError, check_image_file, check_image_msg
from vjepa_ac.ros.plausibility import PlausibilityLimits, limit_target, position_problem
from vjepa_ac.ros.state_conversion import StateInputError, gripper_closedness, pose_msg_to_pose6
from vjepa_ac.sensing import SensorSample, freshness_problem, future_stamp_problem

LIMITS = ImageLimits(1920, 1080)
BOX = PlausibilityLimits((0.2, -0.4, 0.0), (0.8, 0.4, 0.6), (-0.001, 0.041), 2, 0.01, 0.1)


def huge_step_image() -> Image:
    msg = Image()
    msg.height, msg.width, msg.encoding, msg.step = 1, 1, "rgb8", 2**32 - 1
    msg.data = b"\x01\x02\x03"
    return msg


def test_three_bytes_declaring_4_gib_are_refused_and_never_allocated():
    with pytest.raises(ImageTooLargeError, match="too large: step\\*height = 4294967295\\*1"):
        check_image_msg(huge_step_image(), LIMITS)
    tracemalloc.start()
    rgb = image_msg_to_rgb(huge_step_image())  # even without the cap, no padding up to step*height
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rgb.tolist() == [[[1, 2, 3]]] and peak < 2**20


def test_image_cap_on_width_height_and_bytes():
    frame = np.zeros((1081, 100, 3), np.uint8)
    with pytest.raises(ImageTooLargeError, match="image 100x1081 is too large: the largest allowed is 1920x1080"):
        check_image_msg(rgb_to_image_msg(frame), LIMITS)
    check_image_msg(rgb_to_image_msg(np.zeros((1080, 1920, 3), np.uint8)), LIMITS)  # the largest camera passes
    padded = rgb_to_image_msg(np.zeros((1080, 1920, 3), np.uint8))
    padded.step = 1920 * 4 + 1  # declared rows wider than an rgba8 row of the largest camera
    with pytest.raises(ImageTooLargeError, match="step\\*height"):
        check_image_msg(padded, LIMITS)


def test_goal_file_cap_reads_only_the_header(tmp_path):
    from PIL import Image as PILImage

    path = tmp_path / "big.png"
    PILImage.new("1", (12000, 12000)).save(path)
    tracemalloc.start()
    with pytest.raises(ValueError, match="image 12000x12000 is too large"):
        check_image_file(path, LIMITS)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2**20
    bomb = tmp_path / "bomb.png"
    PILImage.new("1", (20000, 20000)).save(bomb)  # past PIL's own limit: still "too large"
    with pytest.raises(ValueError, match="too large"):
        check_image_file(bomb, LIMITS)
    with pytest.raises(ValueError, match="not found"):
        check_image_file(tmp_path / "missing.png", LIMITS)


def test_workspace_box_for_poses_and_targets():
    assert position_problem([0.45, 0.0, 0.3], BOX) is None
    assert "outside the workspace" in position_problem([100.0, 0.0, 0.3], BOX)
    target = np.array([0.79, 0.0, 0.3, np.pi, 0, 0, 0.5])
    same, note = limit_target(target, BOX)
    assert note is None and np.array_equal(same, target)
    clamped, note = limit_target(target + [0.05, 0, -0.4, 0, 0, 0, 0], BOX)
    assert "clamped to (0.800, 0.000, 0.000)" in note and np.allclose(clamped[:3], [0.8, 0.0, 0.0])
    refusing = PlausibilityLimits(BOX.workspace_min, BOX.workspace_max, BOX.finger_range, 2, 0.01, 0.1, "refuse")
    refused, note = limit_target(target + [0.05, 0, 0, 0, 0, 0, 0], refusing)
    assert refused is None and note.endswith("refused")
    with pytest.raises(ValueError, match="below workspace_max"):
        PlausibilityLimits((0.8, 0, 0), (0.2, 1, 1), (0.0, 0.04), 2, 0.01, 0.1)


def joints(names, positions) -> JointState:
    msg = JointState()
    msg.name, msg.position = list(names), [float(p) for p in positions]
    return msg


def test_fingers_in_range_and_both_required():
    names = ["panda_finger_joint1", "panda_finger_joint2"]
    assert gripper_closedness(joints(names, [0.02, 0.02]), 0.08, (), BOX.finger_range, 2) == pytest.approx(0.5)
    for positions, match in (([-5, -5], "outside the gripper's range"), ([5, 5], "outside the gripper's range")):
        with pytest.raises(StateInputError, match=match):
            gripper_closedness(joints(names, positions), 0.08, (), BOX.finger_range, 2)
    with pytest.raises(StateInputError, match="expected 2: every finger is required"):
        gripper_closedness(joints(names[:1], [0.04]), 0.08, (), BOX.finger_range, 2)
    # Without the limits (callers that predate them) the old clipping stays.
    assert gripper_closedness(joints(names, [5, 5]), 0.08) == 0.0


def test_quaternion_tolerance():
    pose = Pose()
    pose.orientation.x, pose.orientation.w = 1.05, 0.0
    with pytest.raises(StateInputError, match="not unit length"):
        pose_msg_to_pose6(pose, quaternion_tolerance=0.01)
    pose.orientation.x = 1.0 + 1e-4
    assert pose_msg_to_pose6(pose, quaternion_tolerance=0.01)[3] == pytest.approx(np.pi)


def test_future_stamps_and_ages():
    now = 5000.0
    assert future_stamp_problem(now + 0.05, now, 0.1) is None
    assert "1000.000 s in the future" in future_stamp_problem(now + 1000, now, 0.1)
    sample = SensorSample(value=None, stamp_s=now + 0.05, received_s=now)
    assert sample.age_s(now) == 0.0  # a stamp slightly ahead never gives a negative age
    assert freshness_problem("EE pose", None, now, 0.5) == "waiting for EE pose"
    old = SensorSample(value=None, stamp_s=0.0, received_s=now - 0.6)
    assert "EE pose is stale: 0.60 s old" in freshness_problem("EE pose", old, now, 0.5)


def test_settings_give_the_limits():
    settings = SimpleNamespace(workspace_min=[0.2, -0.5, 0.02], workspace_max=[0.8, 0.5, 0.8],
                               finger_position_range=[-0.001, 0.041], gripper_finger_count=2,
                               quaternion_tolerance=0.01, max_future_stamp_s=0.05, workspace_action="refuse")
    limits = PlausibilityLimits.from_settings(settings)
    assert limits.workspace_action == "refuse" and limits.describe_box() == "x 0.2..0.8, y -0.5..0.5, z 0.02..0.8 m"
