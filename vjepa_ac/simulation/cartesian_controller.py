"""Cartesian delta actions -> joint targets: per-step limits, workspace box, damped-least-squares IK."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

from vjepa_ac.simulation.panda_kinematics import PandaKinematics, rotation_error

# A comfortable elbow-up posture with the hand pointing down; IK's null space is pulled towards it so the
# redundant seventh degree of freedom does not wander over an episode.
REST_POSTURE = np.array([0.0, -0.25, 0.0, -2.3, 0.0, 2.05, np.pi / 4])
POINTING_DOWN = np.array([np.pi, 0.0, 0.0])


@dataclasses.dataclass(frozen=True)
class WorkspaceBounds:
    """Box above the table (robot base frame, metres) the tool centre point is kept inside."""

    low: tuple[float, float, float] = (0.25, -0.35, 0.012)
    high: tuple[float, float, float] = (0.75, 0.35, 0.55)

    def clip_position(self, xyz) -> np.ndarray:
        return np.clip(np.asarray(xyz, dtype=np.float64), self.low, self.high)

    def clip_pose(self, pose) -> np.ndarray:
        pose = np.array(pose, dtype=np.float64)
        pose[:3] = self.clip_position(pose[:3])
        return pose

    def contains(self, xyz, tol: float = 1e-9) -> bool:
        xyz = np.asarray(xyz)
        return bool(np.all(xyz >= np.asarray(self.low) - tol) and np.all(xyz <= np.asarray(self.high) + tol))


def limit_tilt(R: np.ndarray, max_tilt: float) -> np.ndarray:
    """Rotate R minimally so its tool axis stays within max_tilt of pointing straight down."""
    z = R[:, 2]
    down = np.array([0.0, 0.0, -1.0])
    tilt = float(np.arccos(np.clip(z @ down, -1.0, 1.0)))
    if tilt <= max_tilt:
        return R
    axis = np.cross(z, down)
    norm = np.linalg.norm(axis)
    axis = np.array([1.0, 0.0, 0.0]) if norm < 1e-9 else axis / norm
    return Rotation.from_rotvec(axis * (tilt - max_tilt)).as_matrix() @ R


class CartesianController:
    def __init__(self, kinematics: PandaKinematics, bounds: WorkspaceBounds, max_translation: float = 0.10,
                 max_rotation: float = 0.5, max_tilt: float = np.deg2rad(60.0), damping: float = 0.02,
                 nullspace_gain: float = 0.1, joint_margin: float = 0.03):
        self.kin = kinematics
        self.bounds = bounds
        self.max_translation = float(max_translation)
        self.max_rotation = float(max_rotation)
        self.max_tilt = float(max_tilt)
        self.damping = float(damping)
        self.nullspace_gain = float(nullspace_gain)
        self.q_low = kinematics.lower + joint_margin
        self.q_high = kinematics.upper - joint_margin

    def target_from_action(self, state: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, float]:
        """Integrate a delta action on the state with the per-step and workspace limits applied.

        Returns the 6-D target pose (xyz, extrinsic xyz Euler) and the gripper closedness target.
        """
        dp = np.array(action[:3], dtype=np.float64)
        norm = np.linalg.norm(dp)
        if norm > self.max_translation:
            dp *= self.max_translation / norm
        rotvec = Rotation.from_euler("xyz", action[3:6]).as_rotvec()
        angle = np.linalg.norm(rotvec)
        if angle > self.max_rotation:
            rotvec *= self.max_rotation / angle
        R = Rotation.from_rotvec(rotvec).as_matrix() @ Rotation.from_euler("xyz", state[3:6]).as_matrix()
        R = limit_tilt(R, self.max_tilt)
        position = self.bounds.clip_position(state[:3] + dp)
        target = np.concatenate([position, Rotation.from_matrix(R).as_euler("xyz")])
        gripper = float(np.clip(state[6] + action[6], 0.0, 1.0))
        return target, gripper

    def solve_ik(self, q_seed: np.ndarray, target_pose6: np.ndarray, iterations: int = 100,
                 tol_pos: float = 1e-5, tol_rot: float = 1e-4) -> np.ndarray:
        """Damped least squares with a null-space pull to REST_POSTURE, inside the joint limits."""
        q = np.clip(np.array(q_seed, dtype=np.float64), self.q_low, self.q_high)
        p_t = np.asarray(target_pose6[:3], dtype=np.float64)
        R_t = Rotation.from_euler("xyz", target_pose6[3:6]).as_matrix()
        lam2 = self.damping ** 2
        for _ in range(iterations):
            T, J = self.kin.tcp_and_jacobian(q)
            err = np.concatenate([p_t - T[:3, 3], rotation_error(R_t, T[:3, :3])])
            if np.linalg.norm(err[:3]) < tol_pos and np.linalg.norm(err[3:]) < tol_rot:
                break
            JJt = J @ J.T + lam2 * np.eye(6)
            dq = J.T @ np.linalg.solve(JJt, err)
            J_pinv = J.T @ np.linalg.inv(J @ J.T + 1e-6 * np.eye(6))
            dq += (np.eye(7) - J_pinv @ J) @ (self.nullspace_gain * (REST_POSTURE - q))
            step = np.max(np.abs(dq))
            if step > 0.3:
                dq *= 0.3 / step
            q = np.clip(q + dq, self.q_low, self.q_high)
        return q

    def home_joint_positions(self, ee_pose6: np.ndarray) -> np.ndarray:
        return self.solve_ik(REST_POSTURE, ee_pose6, iterations=300)
