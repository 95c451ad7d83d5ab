"""Simulation node: the MuJoCo or PyBullet Franka world behind the same topics as a real Panda.

Publishes what the planner consumes (camera image + CameraInfo, EE pose, joint states, finger joint
states) and executes the planner's commands, clipped to per-step bounds (the simulator also clips
to its workspace box). All simulator access happens in one callback group: the engines are not
thread-safe.

Topics (relative): out camera/image (rgb8), camera/camera_info, ee_pose, joint_states,
gripper/joint_states, goal_image (rendered goals, transient local), /diagnostics;
in command/delta (Float64MultiArray, 7-D action) when command_mode=delta, or command/target_pose
(PoseStamped) + command/gripper (Float64 closedness) when command_mode=target_pose.

Goal rendering (no standard service type carries a pose and returns an image): publish a
PoseStamped on ~/render_goal_pose (RViz "2D Goal Pose") or a PointStamped on ~/render_goal_point
(RViz "Publish Point"), in the base frame; the node renders the camera view with the arm at that pose
(without disturbing the episode) and publishes it on goal_image. render_goal_mode=planar takes only
x, y from the message and keeps the current height, orientation and gripper (RViz goal poses lie in
the ground plane); full takes the whole pose (the point's x, y, z for PointStamped).
Services: ~/reset (Trigger) starts a new episode with parameter `seed`.
"""

from __future__ import annotations

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped, PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64, Float64MultiArray
from std_srvs.srv import Trigger

from vjepa_ac.ros.diagnostics import ERROR, OK, make_diagnostic_array
from vjepa_ac.ros.image_conversion import rgb_to_image_msg
from vjepa_ac.ros.params import (
    SIM_PARAMETERS,
    ParameterValueError,
    declare_parameters,
    read_parameter,
    read_parameters,
)
from vjepa_ac.ros.qos import COMMAND_QOS, GOAL_QOS, STATE_QOS, VISUALIZATION_QOS
from vjepa_ac.ros.spinning import run_node
from vjepa_ac.ros.state_conversion import (
    StateInputError,
    delta_between,
    pose_msg_to_pose6,
    state_to_pose_msg,
)
from vjepa_ac.simulation.scene_layout import CAMERAS

__all__ = ["SimNode", "ARM_JOINT_NAMES", "FINGER_JOINT_NAMES", "clip_action", "main"]

ARM_JOINT_NAMES = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINT_NAMES = ("panda_finger_joint1", "panda_finger_joint2")
COMMAND_MODES = ("delta", "target_pose")
RENDER_GOAL_MODES = ("planar", "full")


def clip_action(action: np.ndarray, max_translation_l1: float, max_rotation: float) -> np.ndarray:
    """Scale the translation into its L1 ball and clip each rotation angle; the gripper delta is kept."""
    action = np.array(action, dtype=np.float64)
    l1 = float(np.abs(action[:3]).sum())
    if l1 > max_translation_l1 > 0:
        action[:3] *= max_translation_l1 / l1
    elif max_translation_l1 == 0:
        action[:3] = 0.0
    action[3:6] = np.clip(action[3:6], -max_rotation, max_rotation)
    action[6] = np.clip(action[6], -1.0, 1.0)
    return action


def _make_default_sim(settings):
    from vjepa_ac.simulation import make_sim

    return make_sim(settings.engine, image_size=settings.image_size)


class SimNode(Node):
    """ROS 2 face of a `FrankaSim`; `sim` or `sim_factory(settings)` replace `make_sim`."""

    def __init__(self, node_name: str = "vjepa_ac_sim", *, sim=None, sim_factory=None, **node_kwargs):
        super().__init__(node_name, **node_kwargs)
        declare_parameters(self, SIM_PARAMETERS)
        self.settings = read_parameters(self, SIM_PARAMETERS)
        s = self.settings
        if s.command_mode not in COMMAND_MODES:
            raise ParameterValueError(f"parameter 'command_mode' must be one of {COMMAND_MODES}, got {s.command_mode!r}")
        if s.render_goal_mode not in RENDER_GOAL_MODES:
            raise ParameterValueError(
                f"parameter 'render_goal_mode' must be one of {RENDER_GOAL_MODES}, got {s.render_goal_mode!r}")
        if s.camera not in CAMERAS:  # before any simulator starts
            raise ParameterValueError(f"parameter 'camera' must be one of {tuple(CAMERAS)}, got {s.camera!r}")
        self.sim = sim if sim is not None else (sim_factory or _make_default_sim)(s)
        self.observation = self.sim.reset(s.seed, self._reset_options(s.start_near_cube))
        self.commands_executed = 0
        self.commands_rejected = 0
        self.last_step_seconds = float("nan")
        self._last_problem: str | None = None
        self._gripper_target: float | None = None

        group = MutuallyExclusiveCallbackGroup()
        self._image_pub = self.create_publisher(Image, "camera/image", STATE_QOS)
        self._info_pub = self.create_publisher(CameraInfo, "camera/camera_info", STATE_QOS)
        self._pose_pub = self.create_publisher(PoseStamped, "ee_pose", STATE_QOS)
        self._joints_pub = self.create_publisher(JointState, "joint_states", STATE_QOS)
        self._fingers_pub = self.create_publisher(JointState, "gripper/joint_states", STATE_QOS)
        self._goal_pub = self.create_publisher(Image, "goal_image", GOAL_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", VISUALIZATION_QOS)
        if s.command_mode == "delta":
            self.create_subscription(Float64MultiArray, "command/delta", self._on_delta, COMMAND_QOS,
                                     callback_group=group)
        else:
            self.create_subscription(PoseStamped, "command/target_pose", self._on_target_pose, COMMAND_QOS,
                                     callback_group=group)
            self.create_subscription(Float64, "command/gripper", self._on_gripper_command, COMMAND_QOS,
                                     callback_group=group)
        # Reliable + volatile: what RViz's "2D Goal Pose" and "Publish Point" tools publish with.
        self.create_subscription(PoseStamped, "~/render_goal_pose", self._on_render_goal_pose, STATE_QOS,
                                 callback_group=group)
        self.create_subscription(PointStamped, "~/render_goal_point", self._on_render_goal_point, STATE_QOS,
                                 callback_group=group)
        self.create_service(Trigger, "~/reset", self._srv_reset, callback_group=group)
        self.create_timer(1.0 / s.publish_rate_hz, self._on_publish_timer, callback_group=group)
        self.create_timer(1.0, self._publish_diagnostics, callback_group=group)
        self.get_logger().info(f"{s.engine} simulation ready ({s.image_size} px, command_mode={s.command_mode})")

    # ---- publishing -----------------------------------------------------------------------------
    def _on_publish_timer(self) -> None:
        self.observation = self.sim.observe()
        self._publish_observation(self.observation)

    def _publish_observation(self, obs) -> None:
        stamp = self.get_clock().now().to_msg()
        s = self.settings
        self._image_pub.publish(rgb_to_image_msg(obs.image, s.camera_frame, stamp))
        self._info_pub.publish(self._camera_info(stamp, obs.image.shape))
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, s.base_frame
        pose.pose = state_to_pose_msg(obs.ee_state)
        self._pose_pub.publish(pose)
        q = np.asarray(obs.joint_positions, dtype=np.float64)
        joints = JointState()
        joints.header.stamp = stamp
        joints.name = list(ARM_JOINT_NAMES + FINGER_JOINT_NAMES)
        joints.position = [float(v) for v in q[:9]]
        self._joints_pub.publish(joints)
        fingers = JointState()
        fingers.header.stamp = stamp
        fingers.name = list(FINGER_JOINT_NAMES)
        fingers.position = [float(v) for v in q[7:9]]
        self._fingers_pub.publish(fingers)

    def _camera_info(self, stamp, shape) -> CameraInfo:
        info = CameraInfo()
        info.header.stamp, info.header.frame_id = stamp, self.settings.camera_frame
        info.height, info.width = int(shape[0]), int(shape[1])
        if hasattr(self.sim, "camera_intrinsics"):
            fx, fy, cx, cy = self.sim.camera_intrinsics()
        else:
            fx = fy = 0.5 * shape[1] / np.tan(np.deg2rad(45.0) / 2.0)
            cx, cy = shape[1] / 2.0, shape[0] / 2.0
        info.distortion_model = "plumb_bob"
        info.d = [0.0] * 5
        info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
        return info

    def _publish_diagnostics(self) -> None:
        level, message = (ERROR, self._last_problem) if self._last_problem else (OK, "running")
        values = {
            "engine": self.settings.engine,
            "commands_executed": self.commands_executed,
            "commands_rejected": self.commands_rejected,
            "last_step_s": self.last_step_seconds,
            "sim_time_s": float(getattr(self.observation, "sim_time", float("nan"))),
        }
        self._diag_pub.publish(make_diagnostic_array(self.get_clock().now().to_msg(), f"{self.get_name()}: simulation",
                                                     self.settings.engine, level, message, values))

    # ---- commands -------------------------------------------------------------------------------
    def _reject(self, reason: str) -> None:
        self.commands_rejected += 1
        self._last_problem = reason
        self.get_logger().error(reason, throttle_duration_sec=2.0)
        self._publish_diagnostics()

    def execute(self, action) -> None:
        """Clip and execute one 7-D action, then publish the settled observation at once."""
        s = self.settings
        clipped = clip_action(action, s.max_translation_step, s.max_rotation_step)
        started = time.perf_counter()
        try:
            self.observation = self.sim.step(clipped)
        except ValueError as exc:
            self._reject(f"simulator refused command: {exc}")
            return
        self.last_step_seconds = time.perf_counter() - started
        self.commands_executed += 1
        self._last_problem = None
        self._publish_observation(self.observation)

    def _on_delta(self, msg: Float64MultiArray) -> None:
        action = np.asarray(msg.data, dtype=np.float64)
        if action.shape != (7,) or not np.all(np.isfinite(action)):
            self._reject(f"command/delta rejected: need 7 finite numbers, got {list(msg.data)}")
            return
        self.execute(action)

    def _on_gripper_command(self, msg: Float64) -> None:
        if not np.isfinite(msg.data):
            self._reject(f"command/gripper rejected: {msg.data}")
            return
        self._gripper_target = float(np.clip(msg.data, 0.0, 1.0))

    def _on_target_pose(self, msg: PoseStamped) -> None:
        if msg.header.frame_id not in ("", self.settings.base_frame):
            self._reject(f"command/target_pose in frame '{msg.header.frame_id}', expected '{self.settings.base_frame}'")
            return
        try:
            pose6 = pose_msg_to_pose6(msg.pose)
        except StateInputError as exc:
            self._reject(f"command/target_pose rejected: {exc}")
            return
        current = np.asarray(self.observation.ee_state, dtype=np.float64)
        gripper = current[6] if self._gripper_target is None else self._gripper_target
        self.execute(delta_between(current, np.concatenate([pose6, [gripper]])))

    # ---- goal rendering and reset ---------------------------------------------------------------
    def _render_goal(self, xyz, pose6=None) -> None:
        target = np.asarray(self.observation.ee_state, dtype=np.float64).copy()
        if self.settings.render_goal_mode == "planar":
            target[:2] = xyz[:2]
        else:
            target[:3] = xyz
            if pose6 is not None:
                target[3:6] = pose6[3:6]
        self.publish_goal_at(target)

    def publish_goal_at(self, ee_state) -> bool:
        """Render the camera view with the EE at `ee_state` [7] (episode untouched), publish it on goal_image."""
        try:
            image = self.sim.render_goal(ee_pose=np.asarray(ee_state, dtype=np.float64))
        except ValueError as exc:
            self._reject(f"goal rendering failed: {exc}")
            return False
        self._goal_pub.publish(rgb_to_image_msg(np.asarray(image), self.settings.camera_frame,
                                                self.get_clock().now().to_msg()))
        self.get_logger().info(f"published goal image rendered at EE state {np.round(ee_state, 3).tolist()}")
        return True

    def _frame_ok(self, msg, topic: str) -> bool:
        if msg.header.frame_id in ("", self.settings.base_frame):
            return True
        self._reject(f"{topic} in frame '{msg.header.frame_id}': set the RViz fixed frame to "
                     f"'{self.settings.base_frame}' (no tf2 here)")
        return False

    def _on_render_goal_pose(self, msg: PoseStamped) -> None:
        if not self._frame_ok(msg, "render_goal_pose"):
            return
        try:
            pose6 = pose_msg_to_pose6(msg.pose)
        except StateInputError as exc:
            self._reject(f"render_goal_pose rejected: {exc}")
            return
        self._render_goal(pose6[:3], pose6)

    def _on_render_goal_point(self, msg: PointStamped) -> None:
        if not self._frame_ok(msg, "render_goal_point"):
            return
        xyz = np.array([msg.point.x, msg.point.y, msg.point.z], dtype=np.float64)
        if not np.all(np.isfinite(xyz)):
            self._reject(f"render_goal_point rejected: not finite {xyz}")
            return
        self._render_goal(xyz)

    def _reset_options(self, near_cube: bool) -> dict:
        options = {"start_near_cube": bool(near_cube)}
        if self.settings.camera != "default":
            options["camera"] = self.settings.camera
        return options

    def _srv_reset(self, _request, response):
        seed = int(self.get_parameter("seed").value)
        near_cube = read_parameter(self, SIM_PARAMETERS, "start_near_cube")
        self.observation = self.sim.reset(seed, self._reset_options(near_cube))
        self.commands_executed = self.commands_rejected = 0
        self._last_problem = None
        self._publish_observation(self.observation)
        response.success, response.message = True, f"new episode with seed {seed}"
        return response

    def destroy_node(self):
        try:
            self.sim.close()
        except Exception as exc:  # closing a broken engine must not hide the node shutdown
            self.get_logger().warning(f"simulator close failed: {exc}")
        return super().destroy_node()


def main(args=None) -> int:
    return run_node(SimNode, "vjepa_ac_sim", "the simulation", errors=(ValueError, RuntimeError), args=args)


if __name__ == "__main__":
    main()
