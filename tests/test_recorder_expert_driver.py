"""The expert driver that moves the arm for recording: bounded commands, and none without fresh state."""

from __future__ import annotations

import time

import numpy as np
import pytest
import rclpy
from ros_test_support import Recorder, SensorFeeder, Spinner, call_service, parameter_overrides, wait_for
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger

from vjepa_ac.ros.expert_driver import ExpertDriverNode
from vjepa_ac.ros.qos import COMMAND_QOS


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


@pytest.mark.parametrize("policy", ["reach", "explore"])
def test_driver_commands_are_bounded_and_stop_with_the_sensors(policy):
    feeder = SensorFeeder(rate_hz=20.0)
    driver = ExpertDriverNode(parameter_overrides=parameter_overrides(
        {"policy": policy, "rate_hz": 10.0, "steps": 100, "max_step": 0.05, "max_sensor_age_s": 0.3}))
    listener = Recorder().record(Float64MultiArray, "command/delta", COMMAND_QOS)
    with Spinner(feeder, driver, listener):
        assert call_service(listener, Trigger, "/vjepa_ac_expert_driver/start", Trigger.Request()).success
        assert wait_for(lambda: listener.count("command/delta") >= 5, 10)
        feeder.pose_xyzq = None  # the robot's state stops arriving
        time.sleep(0.5)
        stopped_at = listener.count("command/delta")
        time.sleep(1.0)
        assert listener.count("command/delta") == stopped_at  # stale state: no command
        deltas = np.array([m.data for m in listener.all("command/delta")])
    for node in (listener, driver, feeder):
        node.destroy_node()
    # max_step bounds the L1 length of a reach step and the speed (L2) of exploration.
    norms = np.abs(deltas[:, :3]).sum(axis=1) if policy == "reach" else np.linalg.norm(deltas[:, :3], axis=1)
    assert deltas.shape[1] == 7 and np.all(norms <= 0.05 + 1e-9) and norms.max() > 0.01, deltas
