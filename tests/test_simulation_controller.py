"""Engine-free parts: URDF kinematics (Jacobian vs finite differences), DLS IK, action limits, layouts."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vjepa_ac.simulation import TaskOptions, WorkspaceBounds
from vjepa_ac.simulation.cartesian_controller import REST_POSTURE, CartesianController, limit_tilt
from vjepa_ac.simulation.panda_kinematics import PandaKinematics
from vjepa_ac.simulation.scene_layout import sample_layout


@pytest.fixture(scope="module")
def kin():
    return PandaKinematics.from_pybullet_data()


@pytest.fixture(scope="module")
def ctrl(kin):
    return CartesianController(kin, WorkspaceBounds())


def test_jacobian_matches_finite_differences(kin):
    rng = np.random.default_rng(1)
    q = rng.uniform(kin.lower + 0.2, kin.upper - 0.2)
    T, J = kin.tcp_and_jacobian(q)
    eps = 1e-6
    for i in range(7):
        dq = np.zeros(7)
        dq[i] = eps
        T2 = kin.tcp_transform(q + dq)
        np.testing.assert_allclose((T2[:3, 3] - T[:3, 3]) / eps, J[:3, i], atol=1e-5)
        omega = Rotation.from_matrix(T2[:3, :3] @ T[:3, :3].T).as_rotvec() / eps
        np.testing.assert_allclose(omega, J[3:, i], atol=1e-5)


def test_ik_reaches_forward_kinematics_targets(kin, ctrl):
    rng = np.random.default_rng(2)
    for _ in range(10):
        # Targets produced by FK of a posture near the rest pose are reachable by construction.
        q_true = np.clip(REST_POSTURE + rng.uniform(-0.4, 0.4, 7), ctrl.q_low, ctrl.q_high)
        target = kin.ee_pose7(q_true)
        q = ctrl.solve_ik(REST_POSTURE, target)
        reached = kin.ee_pose7(q)
        assert np.linalg.norm(reached[:3] - target[:3]) < 1e-4
        angle = (Rotation.from_euler("xyz", reached[3:]) * Rotation.from_euler("xyz", target[3:]).inv()).magnitude()
        assert angle < 1e-3
        assert np.all(q >= ctrl.q_low - 1e-12) and np.all(q <= ctrl.q_high + 1e-12)


def test_ik_for_unreachable_target_stays_in_joint_limits(ctrl):
    q = ctrl.solve_ik(REST_POSTURE, np.array([2.0, 0.0, 1.5, np.pi, 0, 0]))
    assert np.all(np.isfinite(q))
    assert np.all(q >= ctrl.q_low - 1e-12) and np.all(q <= ctrl.q_high + 1e-12)


def test_target_from_action_limits(ctrl):
    state = np.array([0.5, 0.0, 0.2, np.pi, 0.0, 0.0, 0.3])
    target, grip = ctrl.target_from_action(state, np.array([0.3, 0.4, 0.0, 0, 0, 0, 0.9]))
    step = target[:3] - state[:3]
    assert np.linalg.norm(step) == pytest.approx(ctrl.max_translation)
    np.testing.assert_allclose(step / np.linalg.norm(step), [0.6, 0.8, 0.0], atol=1e-12)  # direction kept
    assert grip == 1.0
    _, grip = ctrl.target_from_action(state, np.array([0, 0, 0, 0, 0, 0, -0.1]))
    assert grip == pytest.approx(0.2)
    low = np.array([0.5, 0.0, 0.02, np.pi, 0, 0, 0])
    target, _ = ctrl.target_from_action(low, np.array([0, 0, -0.05, 0, 0, 0, 0]))
    assert target[2] == ctrl.bounds.low[2]
    target, _ = ctrl.target_from_action(state, np.array([0, 0, 0, 0, 0, 2.0, 0]))
    angle = (Rotation.from_euler("xyz", target[3:]) * Rotation.from_euler("xyz", state[3:6]).inv()).magnitude()
    assert angle == pytest.approx(ctrl.max_rotation)


def test_limit_tilt():
    tilted = Rotation.from_euler("xyz", [np.pi - np.radians(80), 0, 0]).as_matrix()
    limited = limit_tilt(tilted, np.radians(60))
    assert np.degrees(np.arccos(-limited[2, 2])) == pytest.approx(60.0, abs=1e-6)
    down = Rotation.from_euler("xyz", [np.pi, 0, 0.3]).as_matrix()
    np.testing.assert_array_equal(limit_tilt(down, np.radians(60)), down)


def test_layouts_are_seeded_and_valid():
    a = sample_layout(np.random.default_rng(5), TaskOptions())
    b = sample_layout(np.random.default_rng(5), TaskOptions())
    np.testing.assert_array_equal(a.cube_pose, b.cube_pose)
    for seed in range(200):
        layout = sample_layout(np.random.default_rng(seed), TaskOptions())
        d = np.linalg.norm(layout.cube_pose[:2] - layout.target_xy)
        assert 0.15 <= d <= 0.30
        assert np.linalg.norm(layout.cup_pose[:2] - layout.cube_pose[:2]) >= 0.12
        assert np.linalg.norm(layout.cup_pose[:2] - layout.target_xy) >= 0.12
