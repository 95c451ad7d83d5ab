"""Expert driver node: moves the arm for data collection, commanding it exactly as the planner does.

Policies: `explore` (smooth random end-effector motion bouncing inside the workspace box, occasional
gripper toggles; vjepa_ac/training/data/exploration.py) and `reach` (planner-sized steps toward random
targets in the box). Each tick with a fresh EE pose (and gripper state) publishes one 7-D action on
command/gripper, command/target_pose and command/delta, the planner node's outputs, so the simulation
node (either command_mode) or a real controller executes it. Without fresh state it publishes nothing.

Services (std_srvs/Trigger): ~/start runs `steps` actions with a policy seeded by `seed`; ~/stop.
"""

from __future__ import annotations

import threading

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, Float64MultiArray, MultiArrayDimension
from std_srvs.srv import Trigger

from vjepa_ac.ros.params import ParameterValueError, ParamSpec, declare_parameters, read_parameters
from vjepa_ac.ros.qos import COMMAND_QOS, LATEST_SENSOR_QOS
from vjepa_ac.ros.spinning import run_node
from vjepa_ac.ros.state_conversion import (
    StateInputError,
    apply_delta,
    gripper_closedness,
    pose_msg_to_pose6,
    state_to_pose_msg,
)

__all__ = ["ExpertDriverNode", "DRIVER_PARAMETERS", "ReachPolicy", "make_policy", "main"]

POLICIES = ("explore", "reach")
ACTION_LABELS = "dx,dy,dz,droll,dpitch,dyaw,dgripper"

DRIVER_PARAMETERS = (
    ParamSpec("policy", "explore", "str", "explore (smooth random motion) or reach (steps toward random targets)"),
    ParamSpec("rate_hz", 2.0, "float", "actions per second", 0.01),
    ParamSpec("steps", 12, "int", "actions per ~/start", 1),
    ParamSpec("seed", 100000, "int", "seed of the policy's random draws (a fresh stream per ~/start: seed + run)"),
    ParamSpec("max_step", 0.075, "float", "largest translation of one action (m; the planner's L1 radius)", 1e-4),
    ParamSpec("toggle_probability", 0.05, "float", "explore: chance per action of opening/closing the gripper", 0.0),
    ParamSpec("workspace_low", [0.25, -0.35, 0.012], "float_list", "workspace box, lower corner (m, base frame)"),
    ParamSpec("workspace_high", [0.75, 0.35, 0.55], "float_list", "workspace box, upper corner (m, base frame)"),
    ParamSpec("margin", 0.05, "float", "targets stay this far inside the box (m)", 0.0),
    ParamSpec("max_sensor_age_s", 1.0, "float", "no command from a pose or gripper state older than this", 0.0),
    ParamSpec("gripper_open_width", 0.08, "float", "finger opening (m) that means fully open", 1e-6),
    ParamSpec("gripper_joint_names", [], "str_list", "finger joints; empty = names containing 'finger_joint'"),
)


class ReachPolicy:
    """Steps of L1 length up to `max_step` toward a random target; a new target once it is reached."""

    def __init__(self, low, high, rng: np.random.Generator, max_step: float):
        self.low, self.high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        self.rng, self.max_step = rng, float(max_step)
        self.target: np.ndarray | None = None

    def act(self, state: np.ndarray) -> np.ndarray:
        if self.target is None or np.abs(self.target - state[:3]).sum() < 0.01:
            self.target = self.rng.uniform(self.low, self.high)
        delta = self.target - state[:3]
        l1 = float(np.abs(delta).sum())
        action = np.zeros(7)
        action[:3] = delta if l1 <= self.max_step else delta * (self.max_step / l1)
        return action


def make_policy(name: str, low, high, margin: float, rng: np.random.Generator, max_step: float,
                toggle_probability: float):
    """An object with `act(state[7]) -> action[7]`."""
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    if low.shape != (3,) or high.shape != (3,) or np.any(low + 2 * margin >= high):
        raise ParameterValueError(f"workspace {low.tolist()}..{high.tolist()} with margin {margin} is empty")
    if name == "reach":
        return ReachPolicy(low + margin, high - margin, rng, max_step)
    if name == "explore":
        from vjepa_ac.training.data.exploration import ExplorationConfig, SmoothRandomExplorer

        config = ExplorationConfig(max_step=max_step, smoothing=0.5, toggle_probability=toggle_probability,
                                   yaw_step=0.0, margin=margin)
        return SmoothRandomExplorer(low, high, rng, config)
    raise ParameterValueError(f"parameter 'policy' must be one of {POLICIES}, got {name!r}")


class ExpertDriverNode(Node):
    """Publishes a policy's actions on the planner's command topics while a run is active."""

    def __init__(self, node_name: str = "vjepa_ac_expert_driver", **node_kwargs):
        super().__init__(node_name, **node_kwargs)
        declare_parameters(self, DRIVER_PARAMETERS)
        self.settings = read_parameters(self, DRIVER_PARAMETERS)
        s = self.settings
        make_policy(s.policy, s.workspace_low, s.workspace_high, s.margin, np.random.default_rng(0), s.max_step,
                    s.toggle_probability)  # fail at start-up, not at the first ~/start
        import vjepa_ac.poses  # noqa: F401  (imports torch: seconds, better here than at the first command)

        self._lock = threading.Lock()
        self._pose = None  # (pose6, frame_id, received_ns)
        self._gripper = None  # (closedness, received_ns)
        self._policy = None
        self._left = 0
        self.runs = 0
        self.actions_sent = 0

        self.create_subscription(PoseStamped, "ee_pose", self._on_pose, LATEST_SENSOR_QOS)
        self.create_subscription(JointState, "gripper/joint_states", self._on_gripper, LATEST_SENSOR_QOS)
        self._gripper_pub = self.create_publisher(Float64, "command/gripper", COMMAND_QOS)
        self._target_pub = self.create_publisher(PoseStamped, "command/target_pose", COMMAND_QOS)
        self._delta_pub = self.create_publisher(Float64MultiArray, "command/delta", COMMAND_QOS)
        self.create_service(Trigger, "~/start", self._srv_start)
        self.create_service(Trigger, "~/stop", self._srv_stop)
        self.create_timer(1.0 / s.rate_hz, self._on_tick)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._left > 0

    def _on_pose(self, msg: PoseStamped) -> None:
        try:
            pose6 = pose_msg_to_pose6(msg.pose)
        except StateInputError as exc:
            self.get_logger().error(f"EE pose rejected: {exc}", throttle_duration_sec=2.0)
            with self._lock:
                self._pose = None
            return
        with self._lock:
            self._pose = (pose6, msg.header.frame_id, self.get_clock().now().nanoseconds)

    def _on_gripper(self, msg: JointState) -> None:
        s = self.settings
        try:
            closedness = gripper_closedness(msg, s.gripper_open_width, s.gripper_joint_names)
        except StateInputError as exc:
            self.get_logger().error(f"gripper state rejected: {exc}", throttle_duration_sec=2.0)
            with self._lock:
                self._gripper = None
            return
        with self._lock:
            self._gripper = (closedness, self.get_clock().now().nanoseconds)

    def _srv_start(self, _request, response):
        s = self.settings
        with self._lock:
            self.runs += 1
            rng = np.random.default_rng([s.seed, self.runs])
            self._policy = make_policy(s.policy, s.workspace_low, s.workspace_high, s.margin, rng, s.max_step,
                                       s.toggle_probability)
            self._left = s.steps
        response.success, response.message = True, f"{s.policy}: {s.steps} actions at {s.rate_hz:g} Hz"
        return response

    def _srv_stop(self, _request, response):
        with self._lock:
            self._left = 0
        response.success, response.message = True, "stopped"
        return response

    def _on_tick(self) -> None:
        now_ns = self.get_clock().now().nanoseconds
        limit_ns = self.settings.max_sensor_age_s * 1e9
        with self._lock:
            if self._left <= 0:
                return
            pose, gripper = self._pose, self._gripper
            if pose is None or gripper is None or now_ns - pose[2] > limit_ns or now_ns - gripper[1] > limit_ns:
                self.get_logger().warning("no fresh EE pose and gripper state: no command",
                                          throttle_duration_sec=2.0)
                return
            state = np.concatenate([pose[0], [gripper[0]]])
            action = np.asarray(self._policy.act(state), dtype=np.float64)
            self._left -= 1
        self._publish(state, action, pose[1])
        self.actions_sent += 1

    def _publish(self, state: np.ndarray, action: np.ndarray, frame: str) -> None:
        target = apply_delta(state, action)
        stamp = self.get_clock().now().to_msg()
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, frame
        pose.pose = state_to_pose_msg(target)
        delta = Float64MultiArray()
        delta.layout.dim = [MultiArrayDimension(label=ACTION_LABELS, size=7, stride=7)]
        delta.data = [float(v) for v in action]
        # Gripper first, as the planner: a target_pose consumer then moves with this step's gripper target.
        self._gripper_pub.publish(Float64(data=float(np.clip(target[6], 0.0, 1.0))))
        self._target_pub.publish(pose)
        self._delta_pub.publish(delta)


def main(args=None) -> int:
    return run_node(ExpertDriverNode, "vjepa_ac_expert_driver", "the driver", args=args)


if __name__ == "__main__":
    main()
