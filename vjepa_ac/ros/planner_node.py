"""Planner node: camera + EE state + goal image in, one bounded end-effector command per tick out.

Parameters and I/O only. The control loop is `GoalImageController` (planning/controller.py), run in a thread of
its own at `rate_hz` so frames keep flowing while CEM runs; inputs are checked by `SensorInputs`, and
`CommandGate` decides whether a finished plan may still be sent (a stop is a stop: docs/safety.md). No
exception from a callback ends the node.

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

import os
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_srvs.srv import SetBool, Trigger

from vjepa_ac.ros.callback_guard import guard_service, guard_subscription
from vjepa_ac.ros.command_gate import CommandGate
from vjepa_ac.ros.command_outputs import GripperOutput, PoseCommander, TwistCommander
from vjepa_ac.ros.diagnostics import ERROR, OK, WARN, make_diagnostic_array
from vjepa_ac.ros.goal_requests import GoalRequest, goal_request_from_files, single_goal_budget
from vjepa_ac.ros.image_limits import ImageLimits, transport_loss_reason
from vjepa_ac.ros.model_loading import load_world_model_from_settings, make_controller
from vjepa_ac.ros.params import (
    PLANNER_PARAMETERS,
    check_planner_settings,
    declare_parameters,
    read_parameters,
)
from vjepa_ac.ros.plan_display import PlanDisplay
from vjepa_ac.ros.planner_status import PlannerStatus
from vjepa_ac.ros.plausibility import PlausibilityLimits, command_for_plan
from vjepa_ac.ros.qos import GOAL_QOS, LATEST_SENSOR_QOS, SERVICE_QOS, VISUALIZATION_QOS
from vjepa_ac.ros.sensor_inputs import LABELS, InputRejected, SensorInputs
from vjepa_ac.ros.spinning import PeriodicThread, run_node

__all__ = ["PlannerNode", "main"]

WATCHDOG_PERIOD_S = 0.05


class PlannerNode(Node):
    """V-JEPA 2-AC goal-image planner. `world_model` (with encode/rollout) or `world_model_loader(settings)`, and
    `planner_factory(world_model, settings)`, replace the defaults, so tests and other robots inject their own."""

    def __init__(self, node_name: str = "vjepa_ac_planner", *, world_model=None, world_model_loader=None,
                 planner_factory=None, **node_kwargs):
        super().__init__(node_name, **node_kwargs)
        declare_parameters(self, PLANNER_PARAMETERS)
        self._fatal_error: str | None = None
        self._status = PlannerStatus()
        self.controller = self._twist = self.inputs = None
        try:
            self.settings = s = read_parameters(self, PLANNER_PARAMETERS)
            check_planner_settings(s)
            self.limits = PlausibilityLimits.from_settings(s)
            self.inputs = SensorInputs(s, self.limits, ImageLimits(s.max_image_width, s.max_image_height))
        except ValueError as exc:
            self._fatal_error, self.settings = f"invalid parameters: {exc}", None
        self._gate = CommandGate(self.inputs, bool(self.settings and self.settings.start_enabled),
                                 lambda: self._twist.stop() if self._twist is not None else None)
        self._create_interfaces()
        if self._fatal_error is None:
            self._load_model(world_model, world_model_loader, planner_factory)
        if self._fatal_error is None:
            self._request_goal_from_files(at_startup=True)
        if self._fatal_error is not None:
            self.get_logger().error(self._fatal_error)
        self._publish_diagnostics(ERROR if self._fatal_error else WARN, self._fatal_error or "starting")
        self._planning = PeriodicThread(
            1.0 / self.settings.rate_hz if self.settings else 1.0, lambda: self._on_tick(),
            lambda exc: self.get_logger().error(f"planning tick failed: {type(exc).__name__}: {exc}",
                                                throttle_duration_sec=2.0), self.context.ok, f"{node_name}:planning")

    def _create_interfaces(self) -> None:
        sensors = MutuallyExclusiveCallbackGroup()
        for msg_type, topic, key, qos in ((Image, "camera/image", "camera", LATEST_SENSOR_QOS),
                                          (PoseStamped, "ee_pose", "ee_pose", LATEST_SENSOR_QOS),
                                          (JointState, "gripper/joint_states", "gripper", LATEST_SENSOR_QOS),
                                          (Image, "goal_image", "goal", GOAL_QOS)):
            guarded = guard_subscription(lambda msg, key=key: self._on_input(key, msg),
                                         lambda reason, key=key: self._report_error(reason, key))
            # Frames of tens of MB never arrive over best effort: DDS reports the loss, so say so.
            events = SubscriptionEventCallbacks(message_lost=guard_subscription(
                lambda info, key=key: self._on_lost(key, info.total_count_change), self._report_error))
            self.create_subscription(msg_type, topic, guarded, qos, callback_group=sensors,
                                     event_callbacks=events if msg_type is Image else None)
        self.create_timer(WATCHDOG_PERIOD_S, guard_subscription(self._watch_sensors, self._report_error),
                          callback_group=sensors)
        s = self.settings
        self._gripper_out = GripperOutput(self, s) if s else None
        self._poses = PoseCommander(self, self._gripper_out) if s else None
        if s and s.command_mode == "twist":
            self._twist = TwistCommander(self, s, self._gate.lock, self._gate.problem_now,
                                         lambda: self.inputs.latest["ee_pose"] and self.inputs.latest["ee_pose"].value,
                                         sensors)
        self._display = PlanDisplay(self)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", VISUALIZATION_QOS)
        services = MutuallyExclusiveCallbackGroup()
        for srv_type, name, callback in ((Trigger, "~/capture_goal", self._srv_capture_goal),
                                         (Trigger, "~/load_goal_from_file", self._srv_load_goal),
                                         (Trigger, "~/reset", self._srv_reset), (SetBool, "~/enable", self._srv_enable)):
            self.create_service(srv_type, name, guard_service(callback, self._report_error), qos_profile=SERVICE_QOS,
                                callback_group=services)

    def _load_model(self, world_model, world_model_loader, planner_factory) -> None:
        # One thread pool per process: torch's default (every core) starves the executor's callbacks.
        import torch

        torch.set_num_threads(self.settings.torch_threads or max(1, (os.cpu_count() or 2) - 1))
        self.torch_threads = torch.get_num_threads()
        source = "injected model" if world_model is not None else (self.settings.checkpoint or "embedded default model")
        try:
            if world_model is None:
                world_model = (world_model_loader or load_world_model_from_settings)(self.settings)
            planner = planner_factory(world_model, self.settings) if planner_factory else None
        except Exception as exc:  # any loader/config failure must leave a live node that reports it
            self._fatal_error = f"cannot load world model from {source}: {type(exc).__name__}: {exc}"
            return
        try:
            self.controller = make_controller(world_model, self.settings, planner)
        except Exception as exc:
            self._fatal_error = f"cannot load the gripper readout: {type(exc).__name__}: {exc}"
            return
        self.get_logger().info(f"world model ready ({source}, {self.torch_threads} torch threads)")

    # ---- inputs ---------------------------------------------------------------------------------
    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _report_error(self, reason: str, key: str | None = None) -> None:
        """Stop (an input `key` that failed its checks is also dropped, with the goal for a goal), and say why now."""
        if key is not None and self.inputs is not None:
            self._gate.reject(key, reason, drop_goal=key == "goal")
        else:
            self._gate.stop(reason)
        self.get_logger().error(reason, throttle_duration_sec=2.0)
        self._publish_diagnostics(ERROR, reason)

    def _on_input(self, key: str, msg) -> None:
        now_ns = self._now_ns()
        if self.settings is None:
            return
        try:
            sample = self.inputs.convert(key, msg, now_ns) if key != "goal" else self.inputs.image(msg)
        except InputRejected as exc:
            self._report_error(f"{LABELS[key]} rejected: {exc}", key)
            return
        if key == "goal":
            self._set_goal(GoalRequest([sample], [single_goal_budget(self.settings)], "goal_image topic"))
        else:
            self._gate.accept(key, sample)

    def _on_lost(self, key: str, lost: int) -> None:
        if self.settings is not None:
            self._report_error(transport_loss_reason(LABELS[key], lost, self.inputs.image_limits))

    def _watch_sensors(self) -> None:
        """Report a sensor going stale when it happens, not when the next plan finishes, and drop the plan."""
        problem = self._gate.went_stale(self._now_ns()) if self.settings is not None else None
        if problem:
            self.get_logger().warning(problem, throttle_duration_sec=2.0)
            self._publish_diagnostics(WARN, problem)

    # ---- goals ----------------------------------------------------------------------------------
    def _set_goal(self, request: GoalRequest) -> None:
        self._gate.put_goal(request)
        self.get_logger().info(f"new goal from {request.source} ({len(request.images)} image(s))")

    def _request_goal_from_files(self, at_startup: bool) -> tuple[bool, str]:
        try:
            request = goal_request_from_files(read_parameters(self, PLANNER_PARAMETERS), self.inputs.image_limits)
        except ValueError as exc:
            self._report_error(f"goal files rejected: {exc}", "goal")
            return False, str(exc)
        if request is None:
            return (True, "no goal files configured") if at_startup else (
                False, "set parameter goal_image_path (or subgoal_image_paths) first")
        self._set_goal(request)
        return True, f"goal loaded from {request.source} ({len(request.images)} image(s))"

    def _apply_requests(self, now_ns: int) -> None:
        """Reset, drop or encode goals as asked (planning thread only: the model is not shared across threads)."""
        reset, drop, request = self._gate.take_requests()
        if reset:
            self.controller.reset()
        if drop:
            self.controller.clear_goal()
            self._status.goal_source = ""
        if request is None:
            return
        try:
            self.controller.set_goal(request.images, request.budgets)
        except Exception as exc:
            self._report_error(f"goal from {request.source} could not be encoded: {type(exc).__name__}: {exc}", "goal")
            return
        self._status.goal_set_ns, self._status.goal_source = now_ns, request.source

    # ---- services -------------------------------------------------------------------------------
    def _srv_capture_goal(self, _request, response):
        camera = self.inputs.latest["camera"] if self.inputs else None
        age = camera.age_s(self._now_ns() / 1e9) if camera else 0.0
        response.success = camera is not None and age <= self.settings.max_sensor_age_s
        if response.success:
            self._set_goal(GoalRequest([camera.value.copy()], [single_goal_budget(self.settings)], "camera capture"))
            response.message = "current camera view is the new goal"
        else:
            response.message = f"camera image is stale ({age:.2f} s old)" if camera else (
                (self.inputs.errors.get("camera") if self.inputs else None) or "no valid camera image received yet")
            self.get_logger().warning(f"~/capture_goal failed: {response.message}")
        return response

    def _srv_load_goal(self, _request, response):
        response.success, response.message = (False, self._fatal_error) if self._fatal_error else \
            self._request_goal_from_files(at_startup=False)
        if not response.success:
            self.get_logger().error(f"~/load_goal_from_file failed: {response.message}")
        return response

    def _srv_reset(self, _request, response):
        self._gate.request_reset()
        response.success, response.message = True, "planner warm start, sub-goal progress and step count reset"
        return response

    def _srv_enable(self, request, response):
        self._gate.set_enabled(bool(request.data))
        response.success = self._fatal_error is None or not request.data
        response.message = ("planning enabled" if request.data else "planning disabled") if response.success else \
            f"cannot plan: {self._fatal_error}"
        (self.get_logger().info if response.success else self.get_logger().error)(response.message)
        return response

    # ---- planning loop --------------------------------------------------------------------------
    def destroy_node(self):
        """Stop the planning thread (letting a running plan finish) before the publishers go."""
        self._planning.stop()
        return super().destroy_node()

    def _on_tick(self) -> None:
        try:
            level, reason = self._plan_once(self._now_ns())
        except Exception as exc:  # reported as a diagnostic; an exception would stop this node's executor
            level, reason = ERROR, f"planning failed: {type(exc).__name__}: {exc}"
            self.get_logger().error(reason, throttle_duration_sec=2.0)
        self._publish_diagnostics(level, reason)

    def _plan_once(self, now_ns: int):
        if self._fatal_error:
            return ERROR, self._fatal_error
        s, controller = self.settings, self.controller
        self._apply_requests(now_ns)
        if self._gate.goal_changed:
            return OK, "goal changed while encoding, planning on the next tick"
        view = self._gate.snapshot(now_ns)  # its ticket: a goal activated above is not a reason to drop this plan
        if view.errors:
            return ERROR, "; ".join(view.errors.values())
        if not view.enabled:
            return OK, "planning disabled (call ~/enable)"
        if not controller.has_goal:
            return WARN, "no goal: publish goal_image, call ~/capture_goal or ~/load_goal_from_file"
        if controller.done:
            return OK, f"goal sequence finished after {controller.schedule.total_steps} commands"
        if view.stale:
            return WARN, view.stale
        if self._twist is not None and self._twist.moving:
            return OK, "moving to the planned target (twist)"
        if s.wait_for_new_frame and view.last_command_ns and \
                view.camera.taken_s < view.last_command_ns / 1e9 + s.command_settle_s:
            return OK, "waiting for a camera frame taken after the last command"

        started, state = time.perf_counter(), view.state
        result = controller.step(view.camera.value, state)
        self._status.timing.update(encode_latency_s=controller.encode_seconds, plan_latency_s=float(result.seconds),
                                   step_latency_s=time.perf_counter() - started)
        action, target, limited, refused = command_for_plan(result, state, self.limits, s.l1_radius)
        if refused:
            self.get_logger().error(f"no command: {refused}", throttle_duration_sec=2.0)
            return ERROR, refused
        self._status.timing["energy"] = float(result.energy)
        frame = s.base_frame or self.inputs.latest["ee_pose"].frame_id
        switched = []

        def publish():
            if self._twist is not None:
                self._twist.set_target(target, frame)
                self._gripper_out.publish(target[6])
            else:
                self._poses.publish(state, action, frame)
            self._status.counts["targets_clamped"] += limited is not None
            switched.append(controller.executed(result))

        dropped = self._gate.send(view.ticket, self._now_ns, publish)
        self._status.counts["commands_dropped" if dropped else "commands_published"] += 1
        if dropped is not None:
            return WARN, f"plan dropped, no command: {dropped}"
        self._display.publish(state, result.predicted_states, frame, result.energy)
        if switched[0] and not controller.done:
            self.get_logger().info(f"sub-goal {controller.goal_index} of {len(controller.schedule)} ended, next one")
        goals = len(controller.schedule)
        progress = f"planning toward goal {min(controller.goal_index + 1, goals)}/{goals}"
        return (WARN, f"{progress}; {limited}") if limited else (OK, progress)

    # ---- status ---------------------------------------------------------------------------------
    def _publish_diagnostics(self, level, reason: str) -> None:
        with self._gate.lock:
            values = self._status.values(self._now_ns(), self._gate.enabled, self.inputs, self.controller)
        self._diag_pub.publish(make_diagnostic_array(self.get_clock().now().to_msg(), f"{self.get_name()}: planning",
                                                     "vjepa_ac", level, reason, values))

    enabled = property(lambda self: self._gate.enabled, lambda self, on: self._gate.set_enabled(bool(on)))
    commands_published = property(lambda self: self._status.counts["commands_published"])
    camera_frames_received = property(lambda self: self.inputs.camera_frames if self.inputs else 0)  # valid ones
    fatal_error = property(lambda self: self._fatal_error, doc="why this node cannot plan at all, else None")
    has_camera_frame = property(lambda self: self.inputs is not None and self.inputs.latest["camera"] is not None)

    @property
    def goal_grippers(self) -> list[float | None]:
        """The readout's decision per image of the goal (1 closed, 0 open, None undecided); [] without either."""
        c = self.controller
        return list(c.goal_grippers) if c is not None and c.goal_gripper is not None and c.has_goal else []

    @property
    def planner(self):
        """The CEM planner; None when the node cannot plan."""
        return self.controller.planner if self.controller is not None else None



def main(args=None) -> int:
    return run_node(PlannerNode, "vjepa_ac_planner", "the planner", args=args)


if __name__ == "__main__":
    sys.exit(main())
