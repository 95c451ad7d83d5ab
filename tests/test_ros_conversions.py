"""sensor_msgs/Image and pose/joint conversions without cv_bridge / tf2."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from geometry_msgs.msg import Pose
from sensor_msgs.msg import Image, JointState

from vjepa_ac.framing import fit_to_square
from vjepa_ac.poses import euler_xyz_to_matrix
from vjepa_ac.ros.image_conversion import ImageConversionError, image_msg_to_rgb, rgb_to_image_msg
from vjepa_ac.ros.state_conversion import (
    StateInputError,
    apply_delta,
    delta_between,
    fingers_from_closedness,
    gripper_closedness,
    pose_msg_to_pose6,
    state_to_pose_msg,
)

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def _msg(pixels: np.ndarray, encoding: str, pad: int = 0) -> Image:
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    padded = np.concatenate([rows, np.full((height, pad), 7, np.uint8)], axis=1)
    return Image(height=height, width=width, encoding=encoding, step=padded.shape[1], data=padded.tobytes())


@pytest.mark.parametrize(
    ("encoding", "pixels"),
    [
        ("rgb8", RGB),
        ("bgr8", RGB[:, :, ::-1]),
        ("rgba8", np.concatenate([RGB, np.full((5, 7, 1), 9, np.uint8)], axis=2)),
        ("bgra8", np.concatenate([RGB[:, :, ::-1], np.full((5, 7, 1), 9, np.uint8)], axis=2)),
    ],
)
@pytest.mark.parametrize("pad", [0, 3])
def test_colour_encodings_give_rgb(encoding, pixels, pad):
    out = image_msg_to_rgb(_msg(np.ascontiguousarray(pixels), encoding, pad))
    assert out.dtype == np.uint8 and out.flags.c_contiguous and out.flags.writeable
    np.testing.assert_array_equal(out, RGB)


def test_mono8_is_replicated_to_three_channels():
    grey = RGB[:, :, 0].copy()
    out = image_msg_to_rgb(_msg(grey[:, :, None], "mono8", pad=1))
    np.testing.assert_array_equal(out, np.repeat(grey[:, :, None], 3, axis=2))


def test_padded_last_row_may_be_trimmed():
    msg = _msg(RGB, "rgb8", pad=4)
    msg.data = bytes(msg.data)[:-4]
    np.testing.assert_array_equal(image_msg_to_rgb(msg), RGB)


def test_round_trip_through_rgb8_message():
    msg = rgb_to_image_msg(RGB, "cam")
    assert (msg.encoding, msg.step, msg.header.frame_id) == ("rgb8", 21, "cam")
    np.testing.assert_array_equal(image_msg_to_rgb(msg), RGB)


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"encoding": "16UC1"}, "unsupported image encoding"),
        ({"step": 20}, "step 20 is smaller than width"),
        ({"height": 9}, "truncated"),
        ({"width": 0}, "outside"),
    ],
)
def test_inconsistent_messages_are_rejected(change, text):
    msg = rgb_to_image_msg(RGB)
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ImageConversionError, match=text):
        image_msg_to_rgb(msg)


def test_fit_to_square_center_crops_then_resizes():
    wide = np.zeros((40, 80, 3), np.uint8)
    wide[:, 20:60] = 255  # the centre square is white, the sides black
    out = fit_to_square(wide, 16, "center")
    assert out.shape == (16, 16, 3) and out.min() == 255
    assert fit_to_square(wide, 16, "none").min() == 0


def test_pose_conversion_matches_core_euler_convention():
    state = np.array([0.4, -0.1, 0.3, 2.9, 0.2, -0.7, 0.5])
    pose = state_to_pose_msg(state)
    back = pose_msg_to_pose6(pose)
    np.testing.assert_allclose(back[:3], state[:3])
    np.testing.assert_allclose(euler_xyz_to_matrix(torch.tensor(back[3:])).numpy(),
                               euler_xyz_to_matrix(torch.tensor(state[3:6])).numpy(), atol=1e-9)


def test_invalid_poses_are_rejected():
    with pytest.raises(StateInputError, match="not unit length"):
        zero = Pose()
        zero.orientation.w = 0.0  # all-zero quaternion
        pose_msg_to_pose6(zero)
    pose = state_to_pose_msg(np.zeros(7))
    pose.position.z = float("inf")
    with pytest.raises(StateInputError, match="NaN or inf"):
        pose_msg_to_pose6(pose)


def test_gripper_closedness_from_franka_fingers():
    state = JointState(name=["fr3_finger_joint1", "fr3_finger_joint2"], position=[0.04, 0.04])
    assert gripper_closedness(state, 0.08) == 0.0
    state.position = [0.01, 0.01]
    assert gripper_closedness(state, 0.08) == pytest.approx(0.75)
    state.position = fingers_from_closedness(0.3, 0.08)
    assert gripper_closedness(state, 0.08) == pytest.approx(0.3)
    with pytest.raises(StateInputError, match="lacks finger joints"):
        gripper_closedness(state, 0.08, ["panda_finger_joint1"])


def test_apply_delta_and_delta_between_are_inverse():
    state = np.array([0.45, 0.0, 0.3, np.pi, 0.0, 0.0, 0.2])
    delta = np.array([0.02, -0.01, 0.03, 0.1, -0.05, 0.2, 0.3])
    target = apply_delta(state, delta)
    np.testing.assert_allclose(target[:3], state[:3] + delta[:3])
    np.testing.assert_allclose(delta_between(state, target), delta, atol=1e-9)
