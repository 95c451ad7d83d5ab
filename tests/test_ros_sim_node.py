"""The simulation node as its own process (console entry + config/sim.yaml), driven over DDS."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped, PoseStamped
from ros_test_support import REPO_ROOT, RUN_ENV, Recorder, Spinner, call_service, wait_for
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger

from vjepa_ac.ros.diagnostics import ERROR
from vjepa_ac.ros.image_conversion import image_msg_to_rgb
from vjepa_ac.ros.qos import COMMAND_QOS, GOAL_QOS, SENSOR_QOS, STATE_QOS, VISUALIZATION_QOS

SIZE = 64


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


@pytest.fixture(scope="module")
def sim_process():
    process = subprocess.Popen(
        [sys.executable, "-m", "vjepa_ac.ros.sim_node", "--ros-args", "--params-file",
         str(REPO_ROOT / "config" / "sim.yaml"), "-p", f"image_size:={SIZE}", "-p", "publish_rate_hz:=5.0"],
        cwd=REPO_ROOT, env=RUN_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    yield process
    process.terminate()
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    print(output[-3000:])


def _xyz(pose_msg) -> np.ndarray:
    p = pose_msg.pose.position
    return np.array([p.x, p.y, p.z])


def test_sim_node_process_publishes_state_and_executes_commands(sim_process):
    recorder = Recorder()
    recorder.record(Image, "camera/image", SENSOR_QOS)
    recorder.record(CameraInfo, "camera/camera_info", SENSOR_QOS)
    recorder.record(PoseStamped, "ee_pose", SENSOR_QOS)
    recorder.record(JointState, "joint_states", SENSOR_QOS)
    recorder.record(JointState, "gripper/joint_states", SENSOR_QOS)
    recorder.record(Image, "goal_image", GOAL_QOS)
    recorder.record(DiagnosticArray, "/diagnostics", VISUALIZATION_QOS)
    delta_pub = recorder.create_publisher(Float64MultiArray, "command/delta", COMMAND_QOS)
    point_pub = recorder.create_publisher(PointStamped, "/vjepa_ac_sim/render_goal_point", STATE_QOS)

    with Spinner(recorder):
        assert wait_for(lambda: recorder.count("ee_pose") >= 2 and recorder.count("camera/camera_info") >= 1, 60), \
            "simulation node published nothing"
        image = image_msg_to_rgb(recorder.latest("camera/image"))
        assert image.shape == (SIZE, SIZE, 3) and recorder.latest("camera/image").encoding == "rgb8"
        info = recorder.latest("camera/camera_info")
        assert (info.width, info.height) == (SIZE, SIZE) and info.k[0] > 0
        assert recorder.latest("ee_pose").header.frame_id == "panda_link0"
        assert len(recorder.latest("joint_states").name) == 9
        assert recorder.latest("gripper/joint_states").name == ["panda_finger_joint1", "panda_finger_joint2"]

        wait_for(lambda: delta_pub.get_subscription_count() > 0, 10)
        before = _xyz(recorder.latest("ee_pose"))
        delta_pub.publish(Float64MultiArray(data=[0.04, -0.03, 0.0, 0.0, 0.0, 0.0, 0.0]))
        moved = lambda: np.linalg.norm(_xyz(recorder.latest("ee_pose")) - before - [0.04, -0.03, 0.0]) < 0.01  # noqa: E731
        assert wait_for(moved, 20), (before, _xyz(recorder.latest("ee_pose")))

        # A too-large command is clipped to the sim's L1 bound (0.1 m in config/sim.yaml).
        before = _xyz(recorder.latest("ee_pose"))
        delta_pub.publish(Float64MultiArray(data=[0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]))
        time.sleep(2.0)
        step = np.abs(_xyz(recorder.latest("ee_pose")) - before).sum()
        assert step <= 0.1 + 0.01, step

        # Malformed commands: logged, diagnosed, arm does not move.
        before = _xyz(recorder.latest("ee_pose"))
        delta_pub.publish(Float64MultiArray(data=[float("nan"), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
        delta_pub.publish(Float64MultiArray(data=[0.05, 0.0, 0.0]))
        assert wait_for(lambda: any(
            s.level == ERROR and "command/delta rejected" in s.message
            for a in recorder.all("/diagnostics") for s in a.status), 10)
        time.sleep(1.0)
        assert np.linalg.norm(_xyz(recorder.latest("ee_pose")) - before) < 0.003

        # RViz "Publish Point" -> rendered goal image on goal_image.
        wait_for(lambda: point_pub.get_subscription_count() > 0, 10)
        point = PointStamped()
        point.header.frame_id = "panda_link0"
        point.point.x, point.point.y, point.point.z = 0.5, 0.1, 0.0
        point_pub.publish(point)
        assert wait_for(lambda: recorder.count("goal_image") >= 1, 20)
        goal = image_msg_to_rgb(recorder.latest("goal_image"))
        assert goal.shape == (SIZE, SIZE, 3) and not np.array_equal(goal, image_msg_to_rgb(recorder.latest("camera/image")))

        response = call_service(recorder, Trigger, "/vjepa_ac_sim/reset", Trigger.Request(), timeout=30)
        assert response is not None and response.success, response
    recorder.destroy_node()
    assert sim_process.poll() is None, "simulation node died"
