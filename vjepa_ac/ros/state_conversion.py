"""ROS pose / joint messages <-> the core's 7-D end-effector state (xyz, extrinsic xyz Euler, closedness).

Quaternions go through scipy, whose lowercase "xyz" is the extrinsic convention the world model was
trained with; composing a planned delta uses the core's `integrate_actions` so the node and the
planner agree on what a delta means.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = [
    "StateInputError",
    "pose_msg_to_pose6",
    "gripper_closedness",
    "fingers_from_closedness",
    "state_to_pose_msg",
    "apply_delta",
    "delta_between",
]


class StateInputError(ValueError):
    """A pose or joint-state message cannot be used as robot state; the text says why."""


def pose_msg_to_pose6(pose, quaternion_tolerance: float = 0.1) -> np.ndarray:
    """geometry_msgs/Pose -> [x, y, z, roll, pitch, yaw] (extrinsic xyz); rejects NaN and quaternions whose
    norm is more than `quaternion_tolerance` from 1."""
    p, q = pose.position, pose.orientation
    values = np.array([p.x, p.y, p.z, q.x, q.y, q.z, q.w], dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise StateInputError(f"pose contains NaN or inf: position {values[:3]}, quaternion {values[3:]}")
    norm = float(np.linalg.norm(values[3:]))
    if abs(norm - 1.0) > quaternion_tolerance:
        raise StateInputError(f"pose quaternion is not unit length (norm {norm:.4g}, tolerance {quaternion_tolerance:g})")
    euler = Rotation.from_quat(values[3:] / norm).as_euler("xyz")
    return np.concatenate([values[:3], euler])


def gripper_closedness(joint_state, open_width: float, joint_names=(), finger_range=None,
                       finger_count: int | None = None) -> float:
    """Closedness 0 (open) .. 1 (closed) from the finger joint positions of a sensor_msgs/JointState.

    The opening is the sum of the finger positions (franka_gripper reports each finger's travel, up to
    0.04 m), compared with `open_width`. With `finger_range` (min, max) a finger outside it is refused
    rather than clipped; with `finger_count` fewer or more fingers than that are refused.
    """
    names = list(joint_state.name)
    positions = list(joint_state.position)
    if len(names) != len(positions):
        raise StateInputError(f"JointState has {len(names)} names but {len(positions)} positions")
    wanted = list(joint_names)
    if wanted:
        missing = [n for n in wanted if n not in names]
        if missing:
            raise StateInputError(f"JointState lacks finger joints {missing}; has {names}")
        fingers = [positions[names.index(n)] for n in wanted]
    else:
        fingers = [pos for name, pos in zip(names, positions) if "finger_joint" in name]
        if not fingers:
            raise StateInputError(f"no joint named '*finger_joint*' in JointState {names}")
    if not all(math.isfinite(f) for f in fingers):
        raise StateInputError(f"finger positions contain NaN or inf: {fingers}")
    if finger_count is not None and len(fingers) != finger_count:
        raise StateInputError(f"JointState has {len(fingers)} finger joint(s) {names}, expected {finger_count}: "
                              "every finger is required")
    if finger_range is not None:
        low, high = finger_range
        outside = [f for f in fingers if not low <= f <= high]
        if outside:
            raise StateInputError(f"finger position(s) {outside} m outside the gripper's range {low:g}..{high:g} m")
    width = float(sum(fingers))
    return float(np.clip(1.0 - width / open_width, 0.0, 1.0))


def fingers_from_closedness(closedness: float, open_width: float, count: int = 2) -> list[float]:
    """Per-finger positions that `gripper_closedness` maps back to `closedness`."""
    width = (1.0 - float(np.clip(closedness, 0.0, 1.0))) * open_width
    return [width / count] * count


def state_to_pose_msg(state):
    """The first 6 entries of a state (xyz + extrinsic xyz Euler) as a geometry_msgs/Pose."""
    from geometry_msgs.msg import Pose

    state = np.asarray(state, dtype=np.float64)
    qx, qy, qz, qw = Rotation.from_euler("xyz", state[3:6]).as_quat()
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in state[:3])
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = (
        float(qx), float(qy), float(qz), float(qw)
    )
    return pose


def apply_delta(state, delta) -> np.ndarray:
    """State after executing a 7-D action from `state` (same rule as the planner's rollouts)."""
    import torch

    from vjepa_ac.poses import integrate_actions

    s = torch.as_tensor(np.asarray(state, dtype=np.float64))
    a = torch.as_tensor(np.asarray(delta, dtype=np.float64))
    return integrate_actions(s, a).numpy()


def delta_between(start, end) -> np.ndarray:
    """The 7-D action that takes `start` to `end`."""
    import torch

    from vjepa_ac.poses import poses_to_actions

    s = torch.as_tensor(np.asarray(start, dtype=np.float64))
    e = torch.as_tensor(np.asarray(end, dtype=np.float64))
    return poses_to_actions(s, e).numpy()
