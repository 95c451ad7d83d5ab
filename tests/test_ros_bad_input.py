"""Bad input never crashes the planner node and never becomes a command: it is logged and diagnosed."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import rclpy
from ros_test_support import PlannerRig as Rig
from ros_test_support import call_service, command_count, synthetic_frame, wait_for
from std_srvs.srv import SetBool, Trigger

from vjepa_ac.ros.diagnostics import ERROR, WARN
from vjepa_ac.ros.image_conversion import rgb_to_image_msg

OBSERVE_S = 1.5


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


def assert_rejected(rig: Rig, level, text: str, capfd=None):
    assert wait_for(lambda: rig.has_status(level, text), 10), rig.messages()
    time.sleep(OBSERVE_S)  # give a misbehaving planner time to publish
    assert command_count(rig.recorder) == 0
    assert rig.planner.commands_published == 0
    if capfd is not None:
        assert text in capfd.readouterr().err


def test_valid_input_produces_commands():
    """Positive control: the same rig does publish commands when nothing is wrong."""
    with Rig() as rig:
        assert wait_for(lambda: rig.recorder.count("command/delta") >= 3, 15), rig.messages()
        delta = np.array(rig.recorder.latest("command/delta").data)
        assert delta.shape == (7,) and np.abs(delta[:3]).sum() <= 0.075 + 1e-9


@pytest.mark.parametrize(
    ("corrupt", "reason"),
    [
        (lambda m: setattr(m, "encoding", "yuv422") or m, "unsupported image encoding 'yuv422'"),
        (lambda m: setattr(m, "width", m.width + 7) or m, "smaller than width*channels"),
        (lambda m: setattr(m, "height", m.height - 3) or m, "more than step*height"),
        (lambda m: setattr(m, "data", bytes(m.data)[: len(m.data) // 2]) or m, "image data truncated"),
        (lambda m: setattr(m, "height", 0) or m, "outside 1.."),
    ],
    ids=["wrong-encoding", "wrong-width", "wrong-height", "truncated", "empty"],
)
def test_malformed_camera_image(corrupt, reason, capfd):
    with Rig() as rig:
        rig.feeder.image_msg_hook = corrupt
        assert_rejected(rig, ERROR, reason, capfd)
        assert rig.planner.context.ok()  # node alive


def test_tiny_image_is_rejected():
    with Rig() as rig:
        rig.feeder.image = synthetic_frame(size=8)
        assert_rejected(rig, ERROR, "smaller than 16 px")


def test_nan_pose(capfd):
    with Rig() as rig:
        rig.feeder.pose_xyzq = (math.nan, 0.0, 0.3, 1.0, 0.0, 0.0, 0.0)
        assert_rejected(rig, ERROR, "EE pose rejected: pose contains NaN", capfd)


def test_zero_quaternion_pose():
    with Rig() as rig:
        rig.feeder.pose_xyzq = (0.4, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0)
        assert_rejected(rig, ERROR, "not unit length")


def test_gripper_state_without_finger_joints():
    with Rig() as rig:
        rig.feeder.finger_names = ["elbow_joint", "wrist_joint"]
        assert_rejected(rig, ERROR, "no joint named '*finger_joint*'")


def test_goal_before_any_camera_image_then_camera_starts():
    with Rig() as rig:
        rig.feeder.image = None
        assert_rejected(rig, WARN, "waiting for camera image")
        response = call_service(rig.recorder, Trigger, "/vjepa_ac_planner/capture_goal", Trigger.Request())
        assert response is not None and not response.success and "no valid camera image" in response.message
        rig.feeder.image = synthetic_frame()  # the goal sent earlier is kept and used
        assert wait_for(lambda: rig.recorder.count("command/delta") >= 1, 10), rig.messages()


def test_malformed_goal_image(capfd):
    with Rig(send_goal=False) as rig:
        bad = rgb_to_image_msg(synthetic_frame(shift=20), "camera")
        bad.encoding = "16UC1"
        rig.publish_goal(bad)
        assert_rejected(rig, ERROR, "goal image rejected: unsupported image encoding", capfd)


def test_stale_camera_stamps():
    with Rig() as rig:
        rig.feeder.image_stamp_age_s = 3.0
        assert_rejected(rig, WARN, "camera image is stale")


def test_camera_on_another_clock_plans_by_arrival_time():
    """trust_header_stamps=false: the same back-dated stamps no longer block planning."""
    with Rig(planner_params={"trust_header_stamps": False}) as rig:
        rig.feeder.image_stamp_age_s = 3.0
        assert wait_for(lambda: rig.recorder.count("command/delta") >= 2, 15), rig.messages()


def test_camera_stops_then_commands_stop():
    with Rig() as rig:
        assert wait_for(lambda: rig.recorder.count("command/delta") >= 2, 15), rig.messages()
        rig.feeder.image = None
        assert wait_for(lambda: rig.has_status(WARN, "camera image is stale"), 5), rig.messages()
        published = command_count(rig.recorder)
        time.sleep(OBSERVE_S)
        assert command_count(rig.recorder) == published


def test_missing_checkpoint_file(capfd):
    from vjepa_ac.ros.planner_node import load_world_model_from_settings

    with Rig(planner_params={"checkpoint": "/nonexistent/vjepa2_ac.pt"},
             world_model_loader=load_world_model_from_settings) as rig:
        assert_rejected(rig, ERROR, "checkpoint not found: /nonexistent/vjepa2_ac.pt", capfd)
        response = call_service(rig.recorder, SetBool, "/vjepa_ac_planner/enable", SetBool.Request(data=True))
        assert response is not None and not response.success and "checkpoint not found" in response.message


def test_gripper_goal_weight_without_a_readout(tmp_path):
    # A model directory without gripper_readout.safetensors: a configuration error, reported, no motion.
    with Rig(planner_params={"gripper_goal_weight": 0.02, "checkpoint": str(tmp_path)}) as rig:
        assert_rejected(rig, ERROR, "cannot load the gripper readout")
        assert "has no gripper_readout.safetensors" in rig.planner.fatal_error
    with Rig(planner_params={"gripper_goal_weight": 0.02, "gripper_readout": str(tmp_path / "none.safetensors")}) as rig:
        assert_rejected(rig, ERROR, "gripper readout not found")


def test_missing_goal_file():
    with Rig(planner_params={"goal_image_path": "/nonexistent/goal.png"}, send_goal=False) as rig:
        assert_rejected(rig, ERROR, "goal image file not found: /nonexistent/goal.png")


def test_invalid_parameter_value():
    with Rig(planner_params={"dtype": "float8"}) as rig:
        assert_rejected(rig, ERROR, "parameter 'dtype' must be one of")


class NaNPlanner:
    """A planner gone wrong: finite-looking object, NaN action."""

    def __init__(self, world_model, settings):
        self.world_model = world_model

    def reset(self, seed=None):
        pass

    def plan(self, current, state, goal, goal_gripper=None):
        from types import SimpleNamespace

        action = np.array([math.nan, 0, 0, 0, 0, 0, 0.0])
        return SimpleNamespace(action=action, actions=action[None], energy=0.1,
                               predicted_states=np.zeros((1, 7)), seconds=0.0)


def test_non_finite_plan_is_not_published():
    with Rig(planner_factory=NaNPlanner) as rig:
        assert_rejected(rig, ERROR, "plan rejected: action is not finite")


class OversizedPlanner(NaNPlanner):
    def plan(self, current, state, goal, goal_gripper=None):
        result = super().plan(current, state, goal)
        result.action = np.array([0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        return result


def test_plan_outside_l1_ball_is_not_published():
    with Rig(planner_factory=OversizedPlanner) as rig:
        assert_rejected(rig, ERROR, "exceeds l1_radius")


def test_planner_process_with_missing_checkpoint_stays_up_and_reports():
    """The console entry point (`ros2 run vjepa_ac planner_node`) with config/planner.yaml, over DDS."""
    import subprocess
    import sys

    from diagnostic_msgs.msg import DiagnosticArray
    from ros_test_support import REPO_ROOT, RUN_ENV, Recorder, Spinner

    from vjepa_ac.ros.qos import VISUALIZATION_QOS

    process = subprocess.Popen(
        [sys.executable, "-m", "vjepa_ac.ros.planner_node", "--ros-args", "--params-file",
         str(REPO_ROOT / "config" / "planner.yaml"), "-p", "checkpoint:=/nonexistent/model_dir"],
        cwd=REPO_ROOT, env=RUN_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    recorder = Recorder().record(DiagnosticArray, "/diagnostics", VISUALIZATION_QOS)
    try:
        with Spinner(recorder):
            assert wait_for(lambda: any(
                s.level == ERROR and "checkpoint not found: /nonexistent/model_dir" in s.message
                for s in recorder.diagnostics_of("vjepa_ac_planner")), 60)
            time.sleep(1.0)
            assert process.poll() is None, "planner process exited"
    finally:
        recorder.destroy_node()
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "checkpoint not found: /nonexistent/model_dir" in output
