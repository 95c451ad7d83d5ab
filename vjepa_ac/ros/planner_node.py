"""Planner node: camera + EE state + goal image in, one bounded end-effector command per tick out.

Encoder, action-conditioned predictor and CEM run inside this process (tokens never cross DDS).
Sensor callbacks only validate and store the newest message; planning runs in a thread of its own at
`rate_hz`, outside any executor, so frames keep flowing while CEM runs. A command is published only when
the camera frame, the pose and the gripper state are all fresh and valid and the plan is finite and
within its bounds; every other outcome is a diagnostic with the reason.

A stop is a stop (docs/safety.md): enable(false), reset, a new goal and a rejected input invalidate a
plan in flight, and right before a command is published the node checks, under the same lock that those
events take, that nothing invalidated the plan and that every sensor is still fresh at the send time.
Inputs are checked against configured limits (image size before any allocation, workspace box, finger
range, unit quaternions, stamps not in the future); no exception from a callback ends the node.

Topics (relative, so namespaces and remaps apply):
  in:  camera/image (sensor_msgs/Image), ee_pose (geometry_msgs/PoseStamped),
       gripper/joint_states (sensor_msgs/JointState), goal_image (sensor_msgs/Image, transient local)
  out: command/target_pose (PoseStamped, base frame), command/delta (Float64MultiArray, 7-D action),
       command/gripper (Float64, target closedness), planned_path (nav_msgs/Path),
       planned_path_markers (MarkerArray), energy (Float64), /diagnostics (DiagnosticArray)
Services: ~/capture_goal, ~/load_goal_from_file (reads the goal_image_path / subgoal_image_paths
parameters: set them, then call it), ~/reset (Trigger); ~/enable (SetBool). Each keeps up to
qos.SERVICE_QUEUE_DEPTH requests (qos.SERVICE_QOS); every request gets an answer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Path as PathMsg
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64, Float64MultiArray, MultiArrayDimension
from std_srvs.srv import SetBool, Trigger
from visualization_msgs.msg import MarkerArray

from vjepa_ac.ros.callback_guard import guard_service, guard_subscription
from vjepa_ac.ros.command_outputs import COMMAND_MODES, GRIPPER_COMMAND_TYPES, GripperOutput, TwistCommander
from vjepa_ac.ros.diagnostics import ERROR, OK, WARN, make_diagnostic_array
from vjepa_ac.ros.freshness import Sample, freshness_problem, future_stamp_problem, stamp_ns
from vjepa_ac.ros.image_conversion import ImageConversionError, image_msg_to_rgb
from vjepa_ac.ros.image_limits import ImageLimits, check_image_file, check_image_msg, transport_loss_reason
from vjepa_ac.ros.image_preprocessing import CROP_MODES, fit_to_square, read_image_file
from vjepa_ac.ros.model_loading import (
    cem_config_from_settings,
    load_world_model_from_settings,
    make_cem_planner,
)
from vjepa_ac.ros.params import (
    PLANNER_PARAMETERS,
    ParameterValueError,
    declare_parameters,
    read_parameters,
)
from vjepa_ac.ros.plan_display import plan_messages
from vjepa_ac.ros.plausibility import PlausibilityLimits, limit_target, plan_problem, position_problem
from vjepa_ac.ros.qos import COMMAND_QOS, GOAL_QOS, LATEST_SENSOR_QOS, SERVICE_QOS, VISUALIZATION_QOS
from vjepa_ac.ros.spinning import spin_nodes
from vjepa_ac.ros.state_conversion import (
    StateInputError,
    apply_delta,
    gripper_closedness,
    pose_msg_to_pose6,
    state_to_pose_msg,
)

__all__ = ["PlannerNode", "load_world_model_from_settings", "cem_config_from_settings", "main"]

UNLIMITED_STEPS = 2**62
MIN_IMAGE_SIDE = 16
DTYPES = ("float32", "bfloat16", "float16")
ACTION_LABELS = "dx,dy,dz,droll,dpitch,dyaw,dgripper"
WATCHDOG_PERIOD_S = 0.05


@dataclass
class _GoalRequest:
    images: list[np.ndarray]
    budgets: list[int]
    source: str


class PlannerNode(Node):
    """V-JEPA 2-AC goal-image planner as a ROS 2 node.

    `world_model` (an object with encode/rollout) or `world_model_loader(settings)` and
    `planner_factory(world_model, settings)` replace the defaults, so tests and other robots can inject
    their own model without touching the ROS side.
    """

    def __init__(self, node_name: str = "vjepa_ac_planner", *, world_model=None, world_model_loader=None,
                 planner_factory=None, **node_kwargs):
        super().__init__(node_name, **node_kwargs)
        declare_parameters(self, PLANNER_PARAMETERS)
        self._lock = threading.Lock()
        self._fatal_error: str | None = None
        self._input_errors: dict[str, str] = {}
        self._camera: Sample | None = None
        self._pose: Sample | None = None
        self._gripper: Sample | None = None
        self._generation = 0  # bumped by every event that invalidates a plan in flight
        self._invalidated_by = ""
        self._sensors_fresh = False
        self._commands_dropped = 0
        self._targets_limited = 0
        self._pending_goal: _GoalRequest | None = None
        self._schedule = None
        self._goal_grippers: list[float | None] = []
        self.goal_gripper = None
        self._goal_set_ns: int | None = None
        self._goal_source = ""
        self._reset_requested = False
        self._last_command_ns = 0
        self._commands_published = 0
        self._camera_frames = 0
        self._camera_latency_s = float("nan")
        self._last_plan_seconds = float("nan")
        self._last_encode_seconds = float("nan")
        self._last_step_seconds = float("nan")
        self._last_energy = float("nan")
        self.world_model = None
        self.planner = None

        try:
            self.settings = read_parameters(self, PLANNER_PARAMETERS)
            self._check_settings(self.settings)
            self.limits = PlausibilityLimits.from_settings(self.settings)
            self.image_limits = ImageLimits(self.settings.max_image_width, self.settings.max_image_height)
        except ValueError as exc:
            self._fatal_error = f"invalid parameters: {exc}"
            self.settings = None
        self.enabled = bool(self.settings.start_enabled) if self.settings else False

        self._sensor_group = MutuallyExclusiveCallbackGroup()
        self._service_group = MutuallyExclusiveCallbackGroup()
        self._create_interfaces()

        if self._fatal_error is None:
            self._load_model(world_model, world_model_loader, planner_factory)
        if self._fatal_error is None:
            self._request_goal_from_parameters(at_startup=True)
        if self._fatal_error is not None:
            self.get_logger().error(self._fatal_error)

        self._publish_diagnostics(*self._startup_status())
        period = 1.0 / self.settings.rate_hz if self.settings else 1.0
        self._stop_planning = threading.Event()
        self._planning_thread = threading.Thread(target=self._planning_loop, args=(period,), daemon=True,
                                                 name=f"{node_name}:planning")
        self._planning_thread.start()

    # ---- setup --------------------------------------------------------------------------------
    @staticmethod
    def _check_settings(s) -> None:
        if s.dtype not in DTYPES:
            raise ParameterValueError(f"parameter 'dtype' must be one of {DTYPES}, got {s.dtype!r}")
        if s.image_crop not in CROP_MODES:
            raise ParameterValueError(f"parameter 'image_crop' must be one of {CROP_MODES}, got {s.image_crop!r}")
        if s.top_k > s.samples:
            raise ParameterValueError(f"parameter 'top_k' ({s.top_k}) exceeds 'samples' ({s.samples})")
        bad = [d for d in s.frozen_dimensions if not 0 <= d <= 6]
        if bad:
            raise ParameterValueError(f"parameter 'frozen_dimensions' entries must be 0..6, got {bad}")
        for name, allowed in (("command_mode", COMMAND_MODES), ("gripper_command_type", GRIPPER_COMMAND_TYPES)):
            if getattr(s, name) not in allowed:
                raise ParameterValueError(f"parameter '{name}' must be one of {allowed}, got {getattr(s, name)!r}")
        if s.gripper_command_type == "joint_state" and not s.gripper_command_joints:
            raise ParameterValueError("parameter 'gripper_command_joints' must name the fingers of a joint_state command")

    def _create_interfaces(self) -> None:
        sensors = self._sensor_group
        for msg_type, topic, callback, key, qos in (
                (Image, "camera/image", self._on_image, "camera", LATEST_SENSOR_QOS),
                (PoseStamped, "ee_pose", self._on_pose, "ee_pose", LATEST_SENSOR_QOS),
                (JointState, "gripper/joint_states", self._on_gripper, "gripper", LATEST_SENSOR_QOS),
                (Image, "goal_image", self._on_goal_image, "goal", GOAL_QOS)):
            guarded = guard_subscription(callback, lambda reason, key=key: self._reject_input(key, reason))
            # Frames of tens of MB never arrive over best effort: DDS reports the loss, so say so.
            events = SubscriptionEventCallbacks(message_lost=guard_subscription(
                lambda info, key=key: self._on_lost(key, info.total_count_change), self._report_error))
            self.create_subscription(msg_type, topic, guarded, qos, callback_group=sensors,
                                     event_callbacks=events if msg_type is Image else None)
        self.create_timer(WATCHDOG_PERIOD_S, guard_subscription(self._watch_sensors, self._report_error),
                          callback_group=sensors)
        self._target_pub = self.create_publisher(PoseStamped, "command/target_pose", COMMAND_QOS)
        self._delta_pub = self.create_publisher(Float64MultiArray, "command/delta", COMMAND_QOS)
        self._gripper_out = GripperOutput(self, self.settings) if self.settings else None
        self._twist = None
        if self.settings and self.settings.command_mode == "twist":
            self._twist = TwistCommander(self, self.settings, self._lock, self._publish_problem_now,
                                         lambda: self._pose.value if self._pose else None, sensors)
        self._path_pub = self.create_publisher(PathMsg, "planned_path", VISUALIZATION_QOS)
        self._marker_pub = self.create_publisher(MarkerArray, "planned_path_markers", VISUALIZATION_QOS)
        self._energy_pub = self.create_publisher(Float64, "energy", VISUALIZATION_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", VISUALIZATION_QOS)
        for srv_type, name, callback in ((Trigger, "~/capture_goal", self._srv_capture_goal),
                                         (Trigger, "~/load_goal_from_file", self._srv_load_goal),
                                         (Trigger, "~/reset", self._srv_reset), (SetBool, "~/enable", self._srv_enable)):
            self.create_service(srv_type, name, guard_service(callback, self._report_error), qos_profile=SERVICE_QOS,
                                callback_group=self._service_group)

    def _set_torch_threads(self) -> None:
        """One thread pool per process: torch's default (every core) starves the executor's callbacks."""
        import os

        import torch

        threads = self.settings.torch_threads or max(1, (os.cpu_count() or 2) - 1)
        torch.set_num_threads(threads)
        self.torch_threads = torch.get_num_threads()

    def _load_model(self, world_model, world_model_loader, planner_factory) -> None:
        self._set_torch_threads()
        source = "injected model" if world_model is not None else (self.settings.checkpoint or "embedded default model")
        try:
            if world_model is None:
                world_model = (world_model_loader or load_world_model_from_settings)(self.settings)
            self.world_model = world_model
            self.planner = (planner_factory or make_cem_planner)(world_model, self.settings)
        except Exception as exc:  # any loader/config failure must leave a live node that reports it
            self._fatal_error = f"cannot load world model from {source}: {type(exc).__name__}: {exc}"
            self.world_model = self.planner = None
            return
        try:
            self.goal_gripper = self._load_goal_gripper()
        except Exception as exc:
            self._fatal_error = f"cannot load the gripper readout: {type(exc).__name__}: {exc}"
            self.planner = None
            return
        self.get_logger().info(
            f"world model ready ({source}, {self.torch_threads} torch threads): "
            f"image {getattr(world_model, 'image_size', '?')} px, "
            f"{getattr(world_model, 'tokens_per_frame', '?')} tokens x {getattr(world_model, 'embed_dim', '?')}"
        )

    def _load_goal_gripper(self):
        """The readout that tells the planner each goal's gripper; None when gripper_goal_weight is 0."""
        s = self.settings
        if s.gripper_goal_weight <= 0:
            return None
        from vjepa_ac.planning.goal_gripper import GoalGripper

        return GoalGripper.for_model(s.checkpoint or None, s.gripper_readout or None, s.readout_min_confidence)

    def _startup_status(self):
        if self._fatal_error:
            return ERROR, self._fatal_error, self._status_values(self.get_clock().now().nanoseconds)
        return WARN, "starting", self._status_values(self.get_clock().now().nanoseconds)

    # ---- inputs ---------------------------------------------------------------------------------
    def _invalidate(self, reason: str) -> None:
        """Drop any plan in flight and any motion under way (caller holds the lock)."""
        self._generation += 1
        self._invalidated_by = reason
        if self._twist is not None:
            self._twist.stop()

    def _report_error(self, reason: str) -> None:
        with self._lock:
            self._invalidate(reason)
        self.get_logger().error(reason, throttle_duration_sec=2.0)
        self._publish_diagnostics(ERROR, reason, self._status_values(self.get_clock().now().nanoseconds))

    def _reject_input(self, key: str, reason: str, clear: str | None = None) -> None:
        """Remember why an input was rejected, drop its last value and any plan in flight, tell the log and
        /diagnostics now."""
        with self._lock:
            self._input_errors[key] = reason
            self._invalidate(reason)
            if clear:
                setattr(self, clear, None)
        self.get_logger().error(reason, throttle_duration_sec=2.0)
        now_ns = self.get_clock().now().nanoseconds
        self._publish_diagnostics(ERROR, reason, self._status_values(now_ns))

    def _accept_input(self, key: str, attribute: str, sample: Sample) -> None:
        with self._lock:
            setattr(self, attribute, sample)
            self._input_errors.pop(key, None)

    def _usable_stamp(self, header, now_ns: int) -> int:
        """The header stamp, or 0 (= judge by arrival time) when stamps come from another clock; raises
        StateInputError for a stamp too far in the future."""
        if not self.settings.trust_header_stamps:
            return 0
        stamp = stamp_ns(header)
        problem = future_stamp_problem(stamp, now_ns, self.settings.max_future_stamp_s)
        if problem:
            raise StateInputError(problem)
        return stamp

    def _image(self, msg: Image) -> np.ndarray:
        check_image_msg(msg, self.image_limits)  # before the conversion allocates anything
        rgb = image_msg_to_rgb(msg)
        if min(rgb.shape[:2]) < MIN_IMAGE_SIDE:
            raise ImageConversionError(f"image {rgb.shape[1]}x{rgb.shape[0]} smaller than {MIN_IMAGE_SIDE} px")
        return rgb

    def _on_image(self, msg: Image) -> None:
        now_ns = self.get_clock().now().nanoseconds
        if self.settings is None:
            return
        try:
            rgb = self._image(msg)
            stamp = self._usable_stamp(msg.header, now_ns)
        except (ImageConversionError, StateInputError) as exc:
            self._reject_input("camera", f"camera image rejected: {exc}", clear="_camera")
            return
        with self._lock:
            self._camera_frames += 1
            if stamp > 0:
                self._camera_latency_s = max(0, now_ns - stamp) / 1e9
        self._accept_input("camera", "_camera", Sample(rgb, stamp, now_ns, msg.header.frame_id))

    def _on_pose(self, msg: PoseStamped) -> None:
        now_ns = self.get_clock().now().nanoseconds
        if self.settings is None:
            return
        try:
            pose6 = pose_msg_to_pose6(msg.pose, self.limits.quaternion_tolerance)
            problem = position_problem(pose6[:3], self.limits)
            if problem:
                raise StateInputError(problem)
            stamp = self._usable_stamp(msg.header, now_ns)
        except StateInputError as exc:
            self._reject_input("ee_pose", f"EE pose rejected: {exc}", clear="_pose")
            return
        self._accept_input("ee_pose", "_pose", Sample(pose6, stamp, now_ns, msg.header.frame_id))

    def _on_gripper(self, msg: JointState) -> None:
        now_ns = self.get_clock().now().nanoseconds
        s = self.settings
        if s is None:
            return
        try:
            closedness = gripper_closedness(msg, s.gripper_open_width, s.gripper_joint_names,
                                            self.limits.finger_range, self.limits.finger_count)
            stamp = self._usable_stamp(msg.header, now_ns)
        except StateInputError as exc:
            self._reject_input("gripper", f"gripper state rejected: {exc}", clear="_gripper")
            return
        self._accept_input("gripper", "_gripper", Sample(closedness, stamp, now_ns))

    def _on_lost(self, key: str, lost: int) -> None:
        if self.settings is None:
            return
        reason = transport_loss_reason("camera image" if key == "camera" else "goal image", lost, self.image_limits)
        self._report_error(reason)

    def _watch_sensors(self) -> None:
        """Report a sensor going stale when it happens, not when the next plan finishes, and drop the plan."""
        if self.settings is None:
            return
        now_ns = self.get_clock().now().nanoseconds
        with self._lock:
            problem = self._sensor_problem(now_ns)
            went_stale = problem is not None and self._sensors_fresh
            self._sensors_fresh = problem is None
            if went_stale:
                self._invalidate(problem)
        if went_stale:
            self.get_logger().warning(problem, throttle_duration_sec=2.0)
            self._publish_diagnostics(WARN, problem, self._status_values(now_ns))

    def _sensor_problem(self, now_ns: int) -> str | None:
        """Why the newest sensor samples cannot be acted on at `now_ns` (caller holds the lock)."""
        s = self.settings
        for name, sample, needed in (("camera image", self._camera, True), ("EE pose", self._pose, True),
                                     ("gripper state", self._gripper, s.require_gripper_state)):
            problem = freshness_problem(name, sample, now_ns, s.max_sensor_age_s) if needed else None
            if problem:
                return problem
        return None

    def _on_goal_image(self, msg: Image) -> None:
        if self.settings is None:
            return
        try:
            rgb = self._image(msg)
        except ImageConversionError as exc:
            self._reject_goal(f"goal image rejected: {exc}")
            return
        self._set_pending_goal(_GoalRequest([rgb], [self._single_goal_budget()], "goal_image topic"))

    # ---- goals ----------------------------------------------------------------------------------
    def _single_goal_budget(self) -> int:
        budget = self.settings.goal_step_budget if self.settings else 0
        return budget if budget > 0 else UNLIMITED_STEPS

    def _reject_goal(self, reason: str) -> None:
        """A failed goal change stops commanding: driving on toward the old goal would surprise the user."""
        with self._lock:
            self._schedule = None
            self._pending_goal = None
        self._reject_input("goal", reason)

    def _set_pending_goal(self, request: _GoalRequest) -> None:
        with self._lock:
            self._pending_goal = request
            self._input_errors.pop("goal", None)
            self._invalidate(f"new goal from {request.source}")
        self.get_logger().info(f"new goal from {request.source} ({len(request.images)} image(s))")

    def _goal_request_from_parameters(self, settings) -> _GoalRequest | None:
        """The goal(s) the parameters name: the sub-goal list if set, else goal_image_path, else None."""
        if settings.subgoal_image_paths:
            paths, budgets = settings.subgoal_image_paths, settings.subgoal_budgets
            if len(budgets) != len(paths):
                raise ValueError(
                    f"subgoal_budgets has {len(budgets)} entries for {len(paths)} subgoal_image_paths"
                )
            if any(b < 1 for b in budgets):
                raise ValueError(f"subgoal_budgets must all be >= 1, got {budgets}")
            for path in paths:
                check_image_file(path, self.image_limits)  # header only: no decoding of an oversized file
            return _GoalRequest([read_image_file(p) for p in paths], list(budgets), "subgoal_image_paths")
        if settings.goal_image_path:
            check_image_file(settings.goal_image_path, self.image_limits)
            image = read_image_file(settings.goal_image_path)
            return _GoalRequest([image], [self._single_goal_budget()], settings.goal_image_path)
        return None

    def _request_goal_from_parameters(self, at_startup: bool) -> tuple[bool, str]:
        try:
            settings = read_parameters(self, PLANNER_PARAMETERS)
            request = self._goal_request_from_parameters(settings)
        except (ValueError, ParameterValueError) as exc:
            self._reject_goal(f"goal files rejected: {exc}")
            return False, str(exc)
        if request is None:
            return (True, "no goal files configured") if at_startup else (
                False, "set parameter goal_image_path (or subgoal_image_paths) first")
        self._set_pending_goal(request)
        return True, f"goal loaded from {request.source} ({len(request.images)} image(s))"

    def _activate_pending_goal(self, now_ns: int) -> None:
        """Encode pending goal images (planning thread only: the model is not shared across threads)."""
        with self._lock:
            request, self._pending_goal = self._pending_goal, None
        if request is None:
            return
        from vjepa_ac.planning.subgoals import SubgoalSchedule

        try:
            tokens = [self._encode(image)[0] for image in request.images]
            schedule = SubgoalSchedule(tokens, request.budgets, self._energy_threshold())
            grippers = [None if self.goal_gripper is None else self.goal_gripper.closedness(image)
                        for image in request.images]
        except Exception as exc:
            self._reject_goal(f"goal from {request.source} could not be encoded: {type(exc).__name__}: {exc}")
            return
        with self._lock:
            if self._pending_goal is None:  # a newer goal arriving meanwhile wins
                self._schedule = schedule
                self._goal_grippers = grippers
                self._goal_set_ns = now_ns
                self._goal_source = request.source
        self.planner.reset()

    def _energy_threshold(self):
        threshold = self.settings.subgoal_energy_threshold
        return threshold if threshold >= 0 else None

    def _encode(self, rgb: np.ndarray):
        size = int(getattr(self.world_model, "image_size", rgb.shape[0]))
        return self.world_model.encode(fit_to_square(rgb, size, self.settings.image_crop))

    # ---- services -------------------------------------------------------------------------------
    def _srv_capture_goal(self, _request, response):
        now_ns = self.get_clock().now().nanoseconds
        with self._lock:
            camera, rejected = self._camera, self._input_errors.get("camera")
        if camera is None:
            response.success, response.message = False, rejected or "no valid camera image received yet"
        elif self.settings and camera.age_s(now_ns) > self.settings.max_sensor_age_s:
            response.success = False
            response.message = f"camera image is stale ({camera.age_s(now_ns):.2f} s old)"
        else:
            self._set_pending_goal(_GoalRequest([camera.value.copy()], [self._single_goal_budget()], "camera capture"))
            response.success, response.message = True, "current camera view is the new goal"
        if not response.success:
            self.get_logger().warning(f"~/capture_goal failed: {response.message}")
        return response

    def _srv_load_goal(self, _request, response):
        if self._fatal_error:
            response.success, response.message = False, self._fatal_error
            return response
        response.success, response.message = self._request_goal_from_parameters(at_startup=False)
        if not response.success:
            self.get_logger().error(f"~/load_goal_from_file failed: {response.message}")
        return response

    def _srv_reset(self, _request, response):
        with self._lock:
            self._reset_requested = True
            self._invalidate("reset")
        response.success, response.message = True, "planner warm start, sub-goal progress and step count reset"
        return response

    def _srv_enable(self, request, response):
        with self._lock:
            self.enabled = bool(request.data)
            self._invalidate("planning enabled" if self.enabled else "planning disabled")
            if self.enabled:
                self._reset_requested = True
        response.success = self._fatal_error is None or not request.data
        if response.success:
            response.message = "planning enabled" if request.data else "planning disabled"
            self.get_logger().info(response.message)
        else:
            response.message = f"cannot plan: {self._fatal_error}"
            self.get_logger().error(response.message)
        return response

    # ---- planning loop --------------------------------------------------------------------------
    def _planning_loop(self, period: float) -> None:
        """Tick every `period` seconds (at once after an overrun, never in a burst) until destroy_node.

        A thread, not an executor timer: a plan takes up to seconds, and a callback that long in an
        executor either blocks the sensor callbacks (single-threaded) or, in rclpy's MultiThreadedExecutor,
        sends its spin loop into the busy re-submission described in `spinning.py`.
        """
        next_tick = time.monotonic() + period
        while not self._stop_planning.wait(max(0.0, next_tick - time.monotonic())):
            next_tick = max(next_tick + period, time.monotonic())
            try:
                self._on_tick()
            except Exception as exc:  # e.g. publishing after rclpy shut down: stop quietly then
                if not self.context.ok():
                    return
                self.get_logger().error(f"planning tick failed: {type(exc).__name__}: {exc}",
                                        throttle_duration_sec=2.0)

    def destroy_node(self):
        """Stop the planning thread (letting a running plan finish) before the publishers go."""
        self._stop_planning.set()
        if self._planning_thread.is_alive() and threading.current_thread() is not self._planning_thread:
            self._planning_thread.join(timeout=120.0)
        return super().destroy_node()

    def _on_tick(self) -> None:
        now_ns = self.get_clock().now().nanoseconds
        try:
            level, reason = self._plan_once(now_ns)
        except Exception as exc:  # reported as a diagnostic; an exception would stop this node's executor
            level, reason = ERROR, f"planning failed: {type(exc).__name__}: {exc}"
            self.get_logger().error(reason, throttle_duration_sec=2.0)
        self._publish_diagnostics(level, reason, self._status_values(now_ns))

    def _plan_once(self, now_ns: int):
        if self._fatal_error:
            return ERROR, self._fatal_error
        s = self.settings
        with self._lock:
            reset, self._reset_requested = self._reset_requested, False
        if reset:
            self.planner.reset()
            with self._lock:
                if self._schedule is not None:
                    self._schedule.reset()
                self._last_command_ns = 0
        self._activate_pending_goal(now_ns)
        with self._lock:
            errors = dict(self._input_errors)
            camera, pose, gripper, schedule = self._camera, self._pose, self._gripper, self._schedule
            enabled, last_command_ns = self.enabled, self._last_command_ns
            stale = self._sensor_problem(now_ns)
            ticket = self._generation  # a goal activated above is not a reason to drop this plan
        if errors:
            return ERROR, "; ".join(errors.values())
        if not enabled:
            return OK, "planning disabled (call ~/enable)"
        if schedule is None:
            return WARN, "no goal: publish goal_image, call ~/capture_goal or ~/load_goal_from_file"
        if schedule.done:
            return OK, f"goal sequence finished after {schedule.total_steps} commands"
        if stale:
            return WARN, stale
        if self._twist is not None and self._twist.moving:
            return OK, "moving to the planned target (twist)"
        if s.wait_for_new_frame and last_command_ns and camera.taken_ns < last_command_ns + int(s.command_settle_s * 1e9):
            return OK, "waiting for a camera frame taken after the last command"

        closedness = gripper.value if gripper is not None else 0.0
        state = np.concatenate([pose.value, [closedness]])
        started = time.perf_counter()
        current = self._encode(camera.value)[0]
        encoded = time.perf_counter()
        goal_gripper = None
        if self.goal_gripper is not None and schedule.index < len(self._goal_grippers):
            from vjepa_ac.planning.goal_gripper import gripper_target

            goal_gripper = gripper_target(self._goal_grippers[schedule.index], closedness)
        # Planners injected through planner_factory need not know about goal grippers unless one is configured.
        extra = {} if goal_gripper is None else {"goal_gripper": goal_gripper}
        result = self.planner.plan(current, state, schedule.current_goal(), **extra)
        self._last_encode_seconds = encoded - started
        self._last_plan_seconds = float(result.seconds)
        self._last_step_seconds = time.perf_counter() - started
        problem = plan_problem(result, self.settings.l1_radius)
        if problem:
            self.get_logger().error(f"plan rejected, no command: {problem}", throttle_duration_sec=2.0)
            return ERROR, f"plan rejected: {problem}"
        self._last_energy = float(result.energy)
        action = np.asarray(result.action, dtype=np.float64)
        target, limited = limit_target(apply_delta(state, action), self.limits)
        if target is None:
            self.get_logger().error(f"no command: {limited}", throttle_duration_sec=2.0)
            return ERROR, f"no command: {limited}"
        if limited:  # the delta sent is the one that reaches the clamped target
            action = np.concatenate([target[:3] - state[:3], action[3:]])
        frame = s.base_frame or pose.frame_id
        with self._lock:  # the events that stop commands take this lock too: none can slip in between
            send_ns = self.get_clock().now().nanoseconds
            dropped = self._publish_problem(ticket, send_ns)
            if dropped is None:
                if self._twist is not None:
                    self._twist.set_target(target, frame)
                    self._gripper_out.publish(target[6])
                else:
                    self._publish_command(state, action, frame)
                self._last_command_ns = send_ns
                self._commands_published += 1
                self._targets_limited += limited is not None
                switched = schedule.advance(result.energy)
            else:
                self._commands_dropped += 1
        if dropped is not None:
            return WARN, f"plan dropped, no command: {dropped}"
        self._publish_plan(state, np.asarray(result.predicted_states, dtype=np.float64), frame, result.energy)
        if switched and not schedule.done:
            self.planner.reset()
            self.get_logger().info(f"sub-goal {schedule.index} of {len(schedule)} reached its end, next one")
        progress = f"planning toward goal {min(schedule.index + 1, len(schedule))}/{len(schedule)}"
        return (WARN, f"{progress}; {limited}") if limited else (OK, progress)

    def _publish_problem(self, ticket: int, send_ns: int) -> str | None:
        """Why a finished plan must not be sent at `send_ns` (caller holds the lock), else None."""
        if ticket != self._generation:
            return self._invalidated_by
        return self._publish_problem_now(send_ns)

    def _publish_problem_now(self, now_ns: int) -> str | None:
        """Why no motion may be commanded at `now_ns` (caller holds the lock)."""
        if not self.enabled:
            return "planning disabled"
        if self._input_errors:
            return "; ".join(self._input_errors.values())
        return self._sensor_problem(now_ns)

    # ---- outputs --------------------------------------------------------------------------------
    def _header(self, msg, frame: str):
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = frame
        return msg

    def _publish_command(self, state: np.ndarray, action: np.ndarray, frame: str) -> None:
        target = apply_delta(state, action)
        pose = self._header(PoseStamped(), frame)
        pose.pose = state_to_pose_msg(target)
        delta = Float64MultiArray()
        delta.layout.dim = [MultiArrayDimension(label=ACTION_LABELS, size=7, stride=7)]
        delta.data = [float(v) for v in action]
        # Gripper first: a target_pose consumer then executes the pose with this step's gripper target.
        self._gripper_out.publish(target[6])
        self._target_pub.publish(pose)
        self._delta_pub.publish(delta)

    def _publish_plan(self, state: np.ndarray, predicted: np.ndarray, frame: str, energy: float) -> None:
        path, markers = plan_messages(state, predicted, frame, self.get_clock().now().to_msg(), energy)
        self._path_pub.publish(path)
        self._marker_pub.publish(markers)
        self._energy_pub.publish(Float64(data=float(energy)))

    def _status_values(self, now_ns: int) -> dict:
        with self._lock:
            camera, pose, gripper, schedule = self._camera, self._pose, self._gripper, self._schedule
            goal_ns = self._goal_set_ns
            values = {
                "enabled": self.enabled,
                "plan_latency_s": self._last_plan_seconds,
                "encode_latency_s": self._last_encode_seconds,
                "step_latency_s": self._last_step_seconds,
                "energy": self._last_energy,
                "goal_age_s": (now_ns - goal_ns) / 1e9 if goal_ns else float("nan"),
                "goal_source": self._goal_source,
                "camera_age_s": camera.age_s(now_ns) if camera else float("nan"),
                "camera_latency_s": self._camera_latency_s,
                "camera_frames": self._camera_frames,
                "state_age_s": pose.age_s(now_ns) if pose else float("nan"),
                "gripper_age_s": gripper.age_s(now_ns) if gripper else float("nan"),
                "commands_published": self._commands_published,
                "commands_dropped": self._commands_dropped,
                "targets_clamped": self._targets_limited,
            }
        if schedule is not None:
            values.update(subgoal_index=schedule.index, subgoal_count=len(schedule),
                          steps_in_goal=schedule.steps_in_goal)
            grippers = self._goal_grippers
            if self.goal_gripper is not None and schedule.index < len(grippers):
                from vjepa_ac.planning.goal_gripper import describe_decision

                values["goal_gripper"] = describe_decision(grippers[schedule.index])
        return values

    def _publish_diagnostics(self, level, reason: str, values: dict) -> None:
        msg = make_diagnostic_array(self.get_clock().now().to_msg(), f"{self.get_name()}: planning",
                                    "vjepa_ac", level, reason, values)
        self._diag_pub.publish(msg)

    @property
    def commands_published(self) -> int:
        return self._commands_published

    @property
    def camera_frames_received(self) -> int:
        """Valid camera frames accepted so far (rejected ones not counted)."""
        return self._camera_frames

    @property
    def goal_grippers(self) -> list[float | None]:
        """The gripper readout's decision for each image of the active goal (1 closed, 0 open, None undecided);
        empty without a readout or a goal."""
        with self._lock:
            return list(self._goal_grippers) if self.goal_gripper is not None else []

    @property
    def fatal_error(self) -> str | None:
        """Why this node cannot plan at all (bad parameters, model not loadable), else None."""
        return self._fatal_error

    @property
    def has_camera_frame(self) -> bool:
        with self._lock:
            return self._camera is not None


def main(args=None) -> None:
    rclpy.init(args=args)
    spin_nodes([PlannerNode()])


if __name__ == "__main__":
    main()
