"""The planner's sensor inputs: each camera frame, EE pose and gripper state is checked against the limits as it
arrives (docs/safety.md) and kept only while valid; `problem(now)` says why they cannot be acted on.

Not thread-safe on its own: the node holds its lock around `accept`, `reject` and every read of the state.
"""

from __future__ import annotations

import numpy as np

from vjepa_ac.ros.image_conversion import ImageConversionError, image_msg_to_rgb
from vjepa_ac.ros.image_limits import ImageLimits, check_image_msg
from vjepa_ac.ros.plausibility import PlausibilityLimits, position_problem
from vjepa_ac.ros.state_conversion import StateInputError, gripper_closedness, pose_msg_to_pose6
from vjepa_ac.sensing import SensorSample, freshness_problem, future_stamp_problem, stamp_seconds

__all__ = ["InputRejected", "SensorInputs", "MIN_IMAGE_SIDE", "LABELS"]

MIN_IMAGE_SIDE = 16
LABELS = {"camera": "camera image", "ee_pose": "EE pose", "gripper": "gripper state", "goal": "goal image"}


class InputRejected(ValueError):
    """A message that must not be acted on; the text says why."""


class SensorInputs:
    def __init__(self, settings, limits: PlausibilityLimits, image_limits: ImageLimits):
        self.settings, self.limits, self.image_limits = settings, limits, image_limits
        self.latest: dict[str, SensorSample | None] = {"camera": None, "ee_pose": None, "gripper": None}
        self.errors: dict[str, str] = {}  # input -> why its last message was rejected
        self.camera_frames = 0
        self.camera_latency_s = float("nan")

    # ---- conversion (no state: callable without the lock) --------------------------------------------
    def image(self, msg) -> np.ndarray:
        """uint8 RGB of a camera or goal image, its declared size checked before anything is allocated."""
        try:
            check_image_msg(msg, self.image_limits)
            rgb = image_msg_to_rgb(msg)
        except ImageConversionError as exc:
            raise InputRejected(str(exc)) from exc
        if min(rgb.shape[:2]) < MIN_IMAGE_SIDE:
            raise InputRejected(f"image {rgb.shape[1]}x{rgb.shape[0]} smaller than {MIN_IMAGE_SIDE} px")
        return rgb

    def convert(self, key: str, msg, now_ns: int) -> SensorSample:
        """The sample a camera/ee_pose/gripper message stands for; raises InputRejected."""
        s = self.settings
        try:
            if key == "camera":
                value, frame = self.image(msg), msg.header.frame_id
            elif key == "ee_pose":
                value, frame = pose_msg_to_pose6(msg.pose, self.limits.quaternion_tolerance), msg.header.frame_id
                problem = position_problem(value[:3], self.limits)
                if problem:
                    raise InputRejected(problem)
            else:
                value, frame = gripper_closedness(msg, s.gripper_open_width, s.gripper_joint_names,
                                                  self.limits.finger_range, self.limits.finger_count), ""
            return SensorSample(value, self._usable_stamp(msg.header, now_ns), now_ns / 1e9, frame)
        except StateInputError as exc:
            raise InputRejected(str(exc)) from exc

    def _usable_stamp(self, header, now_ns: int) -> float:
        """The header stamp (s), or 0 (= judge by arrival time) when stamps come from another clock."""
        if not self.settings.trust_header_stamps:
            return 0.0
        stamp = stamp_seconds(header)
        problem = future_stamp_problem(stamp, now_ns / 1e9, self.settings.max_future_stamp_s)
        if problem:
            raise InputRejected(problem)
        return stamp

    # ---- state (caller holds the node's lock) ---------------------------------------------------------
    def accept(self, key: str, sample: SensorSample) -> None:
        self.latest[key] = sample
        self.errors.pop(key, None)
        if key == "camera":
            self.camera_frames += 1
            if sample.stamp_s > 0:
                self.camera_latency_s = max(0.0, sample.received_s - sample.stamp_s)

    def reject(self, key: str, reason: str) -> None:
        """Remember why, and drop the input's last value: an old frame must not stand in for a bad new one."""
        self.errors[key] = reason
        if key in self.latest:
            self.latest[key] = None

    def problem(self, now_ns: int) -> str | None:
        """Why the newest samples cannot be acted on at `now_ns` (missing or stale), else None."""
        s = self.settings
        for key, needed in (("camera", True), ("ee_pose", True), ("gripper", s.require_gripper_state)):
            problem = freshness_problem(LABELS[key], self.latest[key], now_ns / 1e9, s.max_sensor_age_s) if needed \
                else None
            if problem:
                return problem
        return None

    def state(self) -> np.ndarray:
        """The 7-D state [xyz, extrinsic xyz Euler, closedness] from the newest pose and gripper."""
        gripper = self.latest["gripper"]
        return np.concatenate([self.latest["ee_pose"].value, [gripper.value if gripper is not None else 0.0]])
