"""Episode recorder node: camera + EE pose + gripper in, training episodes (.npz) out.

Records synchronised steps at `rate_hz` in the layout `vjepa-ac-train-predictor --episodes` reads
(vjepa_ac/training/data/recording.py). Sensor callbacks validate, convert and keep the last few samples;
a timer takes one step per tick. An episode with a gap, a rejected (NaN, malformed) message or a
stale frame is refused at save time with the reasons.

Topics (relative, as the planner's): in camera/image (sensor_msgs/Image), ee_pose
(geometry_msgs/PoseStamped), gripper/joint_states (sensor_msgs/JointState); out /diagnostics.
Services (std_srvs/Trigger): ~/start, ~/stop_and_save, ~/discard.
"""

from __future__ import annotations

import threading
from collections import deque

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_srvs.srv import Trigger

from vjepa_ac.framing import CROP_MODES
from vjepa_ac.ros.diagnostics import ERROR, OK, WARN, make_diagnostic_array
from vjepa_ac.ros.image_conversion import ImageConversionError, image_msg_to_rgb
from vjepa_ac.ros.params import (
    ParameterValueError,
    ParamSpec,
    declare_parameters,
    read_parameter,
    read_parameters,
)
from vjepa_ac.ros.qos import LATEST_SENSOR_QOS, VISUALIZATION_QOS
from vjepa_ac.ros.spinning import run_node
from vjepa_ac.ros.state_conversion import StateInputError, gripper_closedness, pose_msg_to_pose6
from vjepa_ac.sensing import SensorSample, stamp_seconds
from vjepa_ac.training.data.recording import (
    EpisodeRecording,
    EpisodeSaveError,
    RecorderSettings,
    save_recording,
)

__all__ = ["EpisodeRecorderNode", "RECORDER_PARAMETERS", "main"]

MIN_IMAGE_SIDE = 16
# Samples kept per input for pairing by stamp: a third of a second of a 30 Hz camera (full-size images),
# and half a second of a 1 kHz pose stream, more than a camera's latency.
CAMERA_HISTORY = 10
STATE_HISTORY = 500

RECORDER_PARAMETERS = (
    ParamSpec("output_dir", "~/vjepa_ac_episodes", "str", "directory for episode_NNNNNN.npz files"),
    ParamSpec("rate_hz", 4.0, "float", "recorded steps per second", 0.1),
    ParamSpec("image_size", 256, "int", "stored frames are cropped and resized to this square (the model's input)",
              MIN_IMAGE_SIDE),
    ParamSpec("image_crop", "center", "str", "center (square crop) or none (squash): use the planner's image_crop"),
    ParamSpec("max_sensor_age_s", 0.5, "float", "camera/pose/gripper older than this are stale", 0.0),
    ParamSpec("max_sync_skew_s", 0.05, "float", "pose and gripper must be taken this close to the camera frame", 0.0),
    ParamSpec("max_gap_factor", 2.0, "float", "a step more than this many periods after the previous is a gap", 1.0),
    ParamSpec("trust_header_stamps", True, "bool", "judge freshness and pairing by header stamps (false: "
              "cameras on another clock; arrival times are used)"),
    ParamSpec("min_steps", 4, "int", "shorter episodes are refused (training clips need frames_per_clip)", 2),
    ParamSpec("max_steps", 2400, "int", "recording stops by itself after this many steps (memory bound)", 2),
    ParamSpec("robot", "franka_panda", "str", "robot name stored in the episode metadata"),
    ParamSpec("base_frame", "", "str", "frame of the EE pose stored in the metadata; empty = the pose's frame_id"),
    ParamSpec("gripper_open_width", 0.08, "float", "finger opening (m, sum of both fingers) that means fully open",
              1e-6),
    ParamSpec("gripper_joint_names", [], "str_list", "finger joints in the gripper JointState; empty = names "
              "containing 'finger_joint'"),
    ParamSpec("require_gripper_state", True, "bool", "refuse steps without a fresh gripper JointState"),
    ParamSpec("seed", -1, "int", "scene seed stored with the episode (-1 = a real scene, no seed)"),
)


class EpisodeRecorderNode(Node):
    """Records training episodes from live topics; Trigger services start, save or discard an episode.

    `open_file` is passed to the writer (tests inject a failing disk).
    """

    def __init__(self, node_name: str = "vjepa_ac_episode_recorder", *, open_file=open, **node_kwargs):
        super().__init__(node_name, **node_kwargs)
        declare_parameters(self, RECORDER_PARAMETERS)
        self.settings = read_parameters(self, RECORDER_PARAMETERS)
        s = self.settings
        if s.image_crop not in CROP_MODES:
            raise ParameterValueError(f"parameter 'image_crop' must be one of {CROP_MODES}, got {s.image_crop!r}")
        self.recorder_settings = RecorderSettings(
            rate_hz=s.rate_hz, image_size=s.image_size, image_crop=s.image_crop, max_sensor_age_s=s.max_sensor_age_s,
            max_sync_skew_s=s.max_sync_skew_s, max_gap_factor=s.max_gap_factor, min_steps=s.min_steps,
            max_steps=s.max_steps, robot=s.robot, base_frame=s.base_frame,
            gripper_joint_names=tuple(s.gripper_joint_names), gripper_open_width=s.gripper_open_width,
            require_gripper_state=s.require_gripper_state)
        self._open_file = open_file
        self._lock = threading.Lock()
        self._cameras: deque = deque(maxlen=CAMERA_HISTORY)
        self._poses: deque = deque(maxlen=STATE_HISTORY)
        self._grippers: deque = deque(maxlen=STATE_HISTORY)
        self.recording: EpisodeRecording | None = None
        self.saved_paths: list = []
        self.last_message = "idle"
        self._last_level = OK

        self.create_subscription(Image, "camera/image", self._on_image, LATEST_SENSOR_QOS)
        self.create_subscription(PoseStamped, "ee_pose", self._on_pose, LATEST_SENSOR_QOS)
        self.create_subscription(JointState, "gripper/joint_states", self._on_gripper, LATEST_SENSOR_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", VISUALIZATION_QOS)
        self.create_service(Trigger, "~/start", self._srv_start)
        self.create_service(Trigger, "~/stop_and_save", self._srv_stop_and_save)
        self.create_service(Trigger, "~/discard", self._srv_discard)
        self.create_timer(1.0 / s.rate_hz, self._on_tick)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f"recording at {s.rate_hz:g} Hz, {s.image_size} px frames, into {s.output_dir}")

    # ---- inputs ---------------------------------------------------------------------------------
    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _stamp(self, header) -> float:
        return stamp_seconds(header) if self.settings.trust_header_stamps else 0.0

    def _reject(self, history: deque, reason: str) -> None:
        """Drop the input's samples (a bad message must not be paired later) and mark the episode."""
        with self._lock:
            history.clear()
            if self.recording is not None:
                self.recording.note_problem(reason)
        self._set_status(ERROR, reason)

    def _on_image(self, msg: Image) -> None:
        now = self._now_s()
        try:
            rgb = image_msg_to_rgb(msg)
            if min(rgb.shape[:2]) < MIN_IMAGE_SIDE:
                raise ImageConversionError(f"image {rgb.shape[1]}x{rgb.shape[0]} smaller than {MIN_IMAGE_SIDE} px")
        except ImageConversionError as exc:
            self._reject(self._cameras, f"camera image rejected: {exc}")
            return
        with self._lock:
            self._cameras.append(SensorSample(rgb, self._stamp(msg.header), now, msg.header.frame_id))

    def _on_pose(self, msg: PoseStamped) -> None:
        now = self._now_s()
        try:
            pose6 = pose_msg_to_pose6(msg.pose)
        except StateInputError as exc:
            self._reject(self._poses, f"EE pose rejected: {exc}")
            return
        q = msg.pose.orientation
        value = (pose6, (q.x, q.y, q.z, q.w))
        with self._lock:
            self._poses.append(SensorSample(value, self._stamp(msg.header), now, msg.header.frame_id))

    def _on_gripper(self, msg: JointState) -> None:
        now = self._now_s()
        s = self.settings
        try:
            closedness = gripper_closedness(msg, s.gripper_open_width, s.gripper_joint_names)
        except StateInputError as exc:
            self._reject(self._grippers, f"gripper state rejected: {exc}")
            return
        with self._lock:
            self._grippers.append(SensorSample(closedness, self._stamp(msg.header), now, msg.header.frame_id))

    # ---- recording ------------------------------------------------------------------------------
    def _on_tick(self) -> None:
        with self._lock:
            recording = self.recording
            if recording is None or recording.full:
                return
            problem = recording.record_step(self._now_s(), self._cameras, self._poses, self._grippers)
            full = recording.full
        if problem:
            self._set_status(WARN, f"episode will be refused: {problem}")
        elif full:
            self._set_status(WARN, f"max_steps {recording.settings.max_steps} reached: recording stopped, "
                                   "call ~/stop_and_save")

    def _srv_start(self, _request, response):
        with self._lock:
            if self.recording is not None:
                response.success = False
                response.message = "already recording: call ~/stop_and_save or ~/discard first"
                return response
            seed = read_parameter(self, RECORDER_PARAMETERS, "seed")
            self.recording = EpisodeRecording(self.recorder_settings, seed=seed)
        response.success, response.message = True, f"recording (seed {seed})"
        self._set_status(OK, "recording")
        return response

    def _srv_stop_and_save(self, _request, response):
        with self._lock:
            recording, self.recording = self.recording, None
        if recording is None:
            response.success, response.message = False, "not recording: call ~/start first"
            return response
        try:
            path = save_recording(recording, self.settings.output_dir, self._open_file)
        except EpisodeSaveError as exc:
            response.success, response.message = False, f"{exc} (the episode was dropped)"
            self._set_status(ERROR, response.message)
            return response
        self.saved_paths.append(path)
        response.success = True
        response.message = f"saved {path} ({len(recording)} steps)"
        self._set_status(OK, response.message)
        return response

    def _srv_discard(self, _request, response):
        with self._lock:
            recording, self.recording = self.recording, None
        if recording is None:
            response.success, response.message = False, "not recording: nothing to discard"
        else:
            response.success, response.message = True, f"discarded an episode of {len(recording)} steps"
            self._set_status(OK, response.message)
        return response

    # ---- status ---------------------------------------------------------------------------------
    def inputs_ready(self) -> bool:
        """True when camera, pose and (if required) gripper state all have a fresh sample."""
        now, s = self._now_s(), self.settings
        with self._lock:
            inputs = [self._cameras, self._poses] + ([self._grippers] if s.require_gripper_state else [])
            return all(h and h[-1].age_s(now) <= s.max_sensor_age_s for h in inputs)

    def _set_status(self, level, message: str) -> None:
        self._last_level, self.last_message = level, message
        if level == ERROR:
            self.get_logger().error(message, throttle_duration_sec=2.0)
        elif level == WARN:
            self.get_logger().warning(message, throttle_duration_sec=2.0)
        else:
            self.get_logger().info(message)

    def _publish_diagnostics(self) -> None:
        with self._lock:
            recording = self.recording
            values = {"recording": recording is not None, "steps": len(recording) if recording else 0,
                      "problems": len(recording.problems) if recording else 0, "episodes_saved": len(self.saved_paths)}
        self._diag_pub.publish(make_diagnostic_array(self.get_clock().now().to_msg(), f"{self.get_name()}: recorder",
                                                     self.settings.robot, self._last_level, self.last_message, values))


def main(args=None) -> int:
    return run_node(EpisodeRecorderNode, "vjepa_ac_episode_recorder", "the recorder", args=args)


if __name__ == "__main__":
    main()
