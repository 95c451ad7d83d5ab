"""Pose math against the reference fixture and scipy's extrinsic "xyz" convention."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vjepa_ac.poses import euler_xyz_to_matrix, integrate_actions, matrix_to_euler_xyz, poses_to_actions


@pytest.fixture(scope="module")
def pose_fixture(shared_dir):
    return torch.load(shared_dir / "fixtures/vjepa2/pose_vectors.pt", weights_only=True)


def test_integrate_actions_matches_reference(pose_fixture):
    ref = pose_fixture["compute_new_pose"]
    out = integrate_actions(ref["poses"], ref["actions"])
    assert out.dtype == torch.float64
    assert (out - ref["new_poses"]).abs().max() < 1e-10


def test_poses_to_actions_matches_reference(pose_fixture):
    ref = pose_fixture["poses_to_diff"]
    assert (poses_to_actions(ref["start"], ref["end"]) - ref["diff"]).abs().max() < 1e-10


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_euler_is_extrinsic_xyz_like_scipy(dtype):
    euler = torch.rand(500, 3, dtype=torch.float64) * 2 - 1
    euler[:, 1] *= 1.4
    expected = Rotation.from_euler("xyz", euler.numpy()).as_matrix()
    got = euler_xyz_to_matrix(euler.to(dtype))
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    assert np.abs(got.double().numpy() - expected).max() < tol
    # the intrinsic "XYZ" convention differs, which is the classic bug this guards against
    assert np.abs(Rotation.from_euler("XYZ", euler.numpy()).as_matrix() - expected).max() > 0.1
    back = matrix_to_euler_xyz(got)
    assert (back.double() - euler).abs().max() < 10 * tol


def test_round_trip_actions_batched_broadcast():
    gen = torch.Generator().manual_seed(0)
    start = torch.rand(8, 5, 7, generator=gen, dtype=torch.float64) * 0.8
    end = torch.rand(8, 5, 7, generator=gen, dtype=torch.float64) * 0.8
    actions = poses_to_actions(start, end)
    assert (integrate_actions(start, actions) - end).abs().max() < 1e-12
    one_pose = start[:1, :1]
    assert integrate_actions(one_pose, actions).shape == (8, 5, 7)


def test_gripper_is_clipped_and_gimbal_lock_is_finite():
    pose = torch.tensor([0.0, 0.0, 0.0, 0.1, np.pi / 2, 0.3, 0.9], dtype=torch.float64)
    action = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5], dtype=torch.float64)
    out = integrate_actions(pose, action)
    assert out[6] == 1.0
    assert torch.isfinite(out).all()
    same = euler_xyz_to_matrix(out[3:6])
    assert (same - euler_xyz_to_matrix(pose[3:6])).abs().max() < 1e-9


def test_wrong_shapes_raise():
    with pytest.raises(ValueError, match="last dimension 7"):
        integrate_actions(torch.zeros(3, 6), torch.zeros(3, 7))
    with pytest.raises(ValueError, match="trailing shape"):
        matrix_to_euler_xyz(torch.zeros(2, 3))
