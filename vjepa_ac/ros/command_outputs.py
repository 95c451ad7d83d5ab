"""What the planner sends a robot: the gripper command (Float64 or JointState) and, with `command_mode: twist`,
a geometry_msgs/TwistStamped stream (what MoveIt Servo listens to) that drives the end effector to each
planned target at a fixed rate within a speed limit.

The twist stream never stops on its own: every period it sends the velocity toward the current target,
or a zero twist when there is none, when the target is reached, when planning was stopped, or when a
sensor is stale or rejected. So after the last pose message a zero twist follows within
max_sensor_age_s plus one period.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from geometry_msgs.msg import PoseStamped, TwistStamped
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, Float64MultiArray, MultiArrayDimension

from vjepa_ac.ros.callback_guard import guard_subscription
from vjepa_ac.ros.qos import COMMAND_QOS
from vjepa_ac.ros.state_conversion import apply_delta, fingers_from_closedness, state_to_pose_msg

__all__ = ["COMMAND_MODES", "GRIPPER_COMMAND_TYPES", "TwistLimits", "twist_toward", "GripperOutput",
           "PoseCommander", "TwistCommander"]

COMMAND_MODES = ("pose", "twist")
GRIPPER_COMMAND_TYPES = ("float64", "joint_state")
ACTION_LABELS = "dx,dy,dz,droll,dpitch,dyaw,dgripper"


@dataclass(frozen=True)
class TwistLimits:
    max_linear_speed: float  # m/s, norm of the linear part
    max_angular_speed: float  # rad/s, norm of the angular part
    gain: float  # 1/s: speed per unit of remaining error, below the limits
    position_tolerance: float  # m: the target counts as reached within this distance...
    angle_tolerance: float = 0.01  # rad: ...and this rotation

    @classmethod
    def from_settings(cls, s) -> TwistLimits:
        return cls(s.max_linear_speed, s.max_angular_speed, s.twist_gain, s.target_tolerance)


def _clip_norm(vector: np.ndarray, limit: float) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector * (limit / norm) if norm > limit else vector


def twist_toward(current, target, limits: TwistLimits) -> tuple[np.ndarray, np.ndarray, bool]:
    """(linear, angular, reached): the base-frame velocity that takes the 6-D pose `current` (xyz, extrinsic xyz
    Euler) toward `target`, proportional to the error and clipped to the speed limits; zero once reached."""
    current, target = np.asarray(current, dtype=np.float64), np.asarray(target, dtype=np.float64)
    position_error = target[:3] - current[:3]
    rotation_error = (Rotation.from_euler("xyz", target[3:6]) * Rotation.from_euler("xyz", current[3:6]).inv()).as_rotvec()
    if np.linalg.norm(position_error) <= limits.position_tolerance and \
            np.linalg.norm(rotation_error) <= limits.angle_tolerance:
        return np.zeros(3), np.zeros(3), True
    linear = _clip_norm(limits.gain * position_error, limits.max_linear_speed)
    angular = _clip_norm(limits.gain * rotation_error, limits.max_angular_speed)
    return linear, angular, False


class GripperOutput:
    """command/gripper as std_msgs/Float64 (target closedness 0 open .. 1 closed) or, for position-controlled
    grippers, command/gripper_joints as sensor_msgs/JointState (each finger's target position)."""

    def __init__(self, node, settings):
        self._node = node
        self._kind = settings.gripper_command_type
        self._open_width = settings.gripper_open_width
        self._joints = list(settings.gripper_command_joints)
        if self._kind == "joint_state":
            self._pub = node.create_publisher(JointState, "command/gripper_joints", COMMAND_QOS)
        else:
            self._pub = node.create_publisher(Float64, "command/gripper", COMMAND_QOS)

    def publish(self, closedness: float) -> None:
        closedness = float(np.clip(closedness, 0.0, 1.0))
        if self._kind == "float64":
            self._pub.publish(Float64(data=closedness))
            return
        msg = JointState()
        msg.header.stamp = self._node.get_clock().now().to_msg()
        msg.name = list(self._joints)
        msg.position = fingers_from_closedness(closedness, self._open_width, len(self._joints))
        self._pub.publish(msg)


class PoseCommander:
    """`command_mode: pose`: per plan, the gripper target, command/target_pose (base frame) and command/delta
    (the 7-D action)."""

    def __init__(self, node, gripper: GripperOutput):
        self._node, self._gripper = node, gripper
        self._target_pub = node.create_publisher(PoseStamped, "command/target_pose", COMMAND_QOS)
        self._delta_pub = node.create_publisher(Float64MultiArray, "command/delta", COMMAND_QOS)

    def publish(self, state: np.ndarray, action: np.ndarray, frame: str) -> None:
        target = apply_delta(state, action)
        pose = PoseStamped()
        pose.header.stamp = self._node.get_clock().now().to_msg()
        pose.header.frame_id = frame
        pose.pose = state_to_pose_msg(target)
        delta = Float64MultiArray()
        delta.layout.dim = [MultiArrayDimension(label=ACTION_LABELS, size=7, stride=7)]
        delta.data = [float(v) for v in action]
        # Gripper first: a target_pose consumer then executes the pose with this step's gripper target.
        self._gripper.publish(target[6])
        self._target_pub.publish(pose)
        self._delta_pub.publish(delta)


class TwistCommander:
    """Publishes command/twist every 1/twist_rate_hz s toward the target that `set_target` gave.

    `lock` is the node's lock (set_target/stop are called with it held); `inputs_problem(now_ns)` says why
    the sensors cannot be acted on (None when they can) and `current_pose()` gives the newest 6-D pose; both
    are called with the lock held.
    """

    def __init__(self, node, settings, lock: threading.Lock, inputs_problem, current_pose, callback_group=None):
        self._node = node
        self._lock = lock
        self._inputs_problem = inputs_problem
        self._current_pose = current_pose
        self.limits = TwistLimits.from_settings(settings)
        self._target: np.ndarray | None = None
        self._frame = settings.base_frame
        self.reached_ns = 0
        self.twists_sent = 0
        self.fastest_linear = 0.0
        self._pub = node.create_publisher(TwistStamped, "command/twist", COMMAND_QOS)
        node.create_timer(1.0 / settings.twist_rate_hz, guard_subscription(self._tick, self._report),
                          callback_group=callback_group)

    def _report(self, reason: str) -> None:
        self._node.get_logger().error(reason, throttle_duration_sec=2.0)

    @property
    def moving(self) -> bool:
        return self._target is not None

    def set_target(self, target, frame: str) -> None:
        """Start servoing to a 6-D (or longer) target pose (caller holds the lock)."""
        self._target = np.asarray(target, dtype=np.float64)[:6].copy()
        self._frame = frame

    def stop(self) -> None:
        """Drop the target: the next period sends a zero twist (caller holds the lock)."""
        self._target = None

    def _tick(self) -> None:
        now_ns = self._node.get_clock().now().nanoseconds
        linear = angular = np.zeros(3)
        with self._lock:
            if self._target is not None and self._inputs_problem(now_ns) is not None:
                self._target = None  # a stale or rejected sensor ends the motion; the planner decides anew
            pose = self._current_pose()
            if self._target is not None and pose is not None:
                linear, angular, reached = twist_toward(pose, self._target, self.limits)
                if reached:
                    self._target, self.reached_ns = None, now_ns
            frame = self._frame
        msg = TwistStamped()
        msg.header.stamp = self._node.get_clock().now().to_msg()
        msg.header.frame_id = frame
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(v) for v in linear)
        msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z = (float(v) for v in angular)
        self._pub.publish(msg)
        self.twists_sent += 1
        self.fastest_linear = max(self.fastest_linear, float(np.linalg.norm(linear)))
