"""Panda forward kinematics and Jacobian read from the pybullet URDF, shared by both engines.

Doing kinematics in numpy (instead of asking an engine) keeps IK identical across MuJoCo and PyBullet
and lets render_goal solve IK without touching any simulator state.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import xml.etree.ElementTree as ET

import numpy as np
from scipy.spatial.transform import Rotation

ARM_JOINTS = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINTS = ("panda_finger_joint1", "panda_finger_joint2")
FINGER_MAX_OPENING = 0.04  # metres per finger (URDF limit)
TCP_OFFSET = 0.1034  # tool centre point below the hand frame origin (between the finger pads)


def pybullet_franka_dir() -> str:
    import pybullet_data

    return os.path.join(pybullet_data.getDataPath(), "franka_panda")


def rpy_matrix(rpy) -> np.ndarray:
    """URDF rpy is fixed-axis roll-pitch-yaw, i.e. scipy's extrinsic "xyz"."""
    return Rotation.from_euler("xyz", rpy).as_matrix()


def homogeneous(rotation: np.ndarray, translation) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = rotation
    T[:3, 3] = translation
    return T


def _axis_rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' formula for a unit axis."""
    x, y, z = axis
    c, s = np.cos(angle), np.sin(angle)
    C = 1.0 - c
    return np.array([
        [c + x * x * C, x * y * C - z * s, x * z * C + y * s],
        [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
        [z * x * C - y * s, z * y * C + x * s, c + z * z * C],
    ])


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.cross costs ~50 us per call through its generic axis handling; IK calls it thousands of times."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def rotation_error(R_target: np.ndarray, R_current: np.ndarray) -> np.ndarray:
    """World-frame rotation vector taking R_current to R_target."""
    return Rotation.from_matrix(R_target @ R_current.T).as_rotvec()


@dataclasses.dataclass(frozen=True)
class URDFJoint:
    name: str
    kind: str
    parent: str
    child: str
    origin: np.ndarray  # 4x4
    axis: np.ndarray
    lower: float
    upper: float


def parse_urdf_joints(urdf_path: str) -> dict[str, URDFJoint]:
    joints = {}
    for j in ET.parse(urdf_path).getroot().iter("joint"):
        origin = j.find("origin")
        xyz = [float(v) for v in origin.get("xyz", "0 0 0").split()] if origin is not None else [0, 0, 0]
        rpy = [float(v) for v in origin.get("rpy", "0 0 0").split()] if origin is not None else [0, 0, 0]
        axis_el = j.find("axis")
        axis = np.array([float(v) for v in axis_el.get("xyz").split()]) if axis_el is not None else np.zeros(3)
        limit = j.find("limit")
        lower = float(limit.get("lower")) if limit is not None else 0.0
        upper = float(limit.get("upper")) if limit is not None else 0.0
        joints[j.get("name")] = URDFJoint(j.get("name"), j.get("type"), j.find("parent").get("link"),
                                          j.find("child").get("link"), homogeneous(rpy_matrix(rpy), xyz),
                                          axis, lower, upper)
    return joints


class PandaKinematics:
    """Serial chain panda_link0 -> panda_hand, plus the tool centre point between the fingers."""

    def __init__(self, urdf_path: str):
        self.urdf_path = urdf_path
        joints = parse_urdf_joints(urdf_path)
        self.joints = joints
        self.arm = [joints[n] for n in ARM_JOINTS]
        # Fixed transforms after joint 7 up to the hand: link7 -> link8 -> hand.
        self.flange_to_hand = joints["panda_joint8"].origin @ joints["panda_hand_joint"].origin
        self.hand_to_tcp = homogeneous(np.eye(3), [0.0, 0.0, TCP_OFFSET])
        self.lower = np.array([j.lower for j in self.arm])
        self.upper = np.array([j.upper for j in self.arm])

    @classmethod
    @functools.cache
    def from_pybullet_data(cls) -> PandaKinematics:
        return cls(os.path.join(pybullet_franka_dir(), "panda.urdf"))

    def link_frames(self, q: np.ndarray) -> list[np.ndarray]:
        """World transforms of link1..link7 (each after its joint rotation)."""
        T = np.eye(4)
        frames = []
        for joint, angle in zip(self.arm, q, strict=True):
            T = T @ joint.origin
            T = T.copy()
            T[:3, :3] = T[:3, :3] @ _axis_rotation(joint.axis, angle)
            frames.append(T)
        return frames

    def tcp_transform(self, q: np.ndarray) -> np.ndarray:
        return self.link_frames(q)[-1] @ self.flange_to_hand @ self.hand_to_tcp

    def ee_pose7(self, q: np.ndarray) -> np.ndarray:
        """[x, y, z, roll, pitch, yaw] (extrinsic xyz Euler) of the tool centre point."""
        T = self.tcp_transform(q)
        return np.concatenate([T[:3, 3], Rotation.from_matrix(T[:3, :3]).as_euler("xyz")])

    def tcp_and_jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TCP transform and the 6x7 geometric Jacobian (linear rows first, world frame)."""
        frames = self.link_frames(q)
        T = frames[-1] @ self.flange_to_hand @ self.hand_to_tcp
        p = T[:3, 3]
        J = np.zeros((6, 7))
        for i, (joint, F) in enumerate(zip(self.arm, frames, strict=True)):
            z = F[:3, :3] @ joint.axis
            J[:3, i] = _cross(z, p - F[:3, 3])
            J[3:, i] = z
        return T, J

    @staticmethod
    def fingers_from_closedness(closedness: float) -> np.ndarray:
        opening = (1.0 - float(np.clip(closedness, 0.0, 1.0))) * FINGER_MAX_OPENING
        return np.array([opening, opening])
