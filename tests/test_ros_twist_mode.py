"""command_mode: twist: TwistStamped at a fixed rate within the speed limits, zero on stop and on stale sensors."""

from __future__ import annotations

import time

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import TwistStamped
from ros_test_support import PlannerRig, call_service, wait_for
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool

from vjepa_ac.ros.command_outputs import TwistLimits, twist_toward
from vjepa_ac.ros.qos import COMMAND_QOS

RATE_HZ = 30.0
MAX_LINEAR = 0.05
MAX_ANGULAR = 0.3
MAX_AGE_S = 0.3
ZERO_TWIST_TARGET_S = 0.5  # issue 22: stale sensors give a zero twist within 0.5 s
TWIST_PARAMS = {"command_mode": "twist", "twist_rate_hz": RATE_HZ, "max_linear_speed": MAX_LINEAR,
                "max_angular_speed": MAX_ANGULAR, "max_sensor_age_s": MAX_AGE_S,
                "gripper_command_type": "joint_state",
                "twist_gain": 50.0}  # the fake robot never moves: a high gain makes the speed limit bind


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


def _speeds(msg) -> tuple[float, float]:
    t = msg.twist
    return (float(np.linalg.norm([t.linear.x, t.linear.y, t.linear.z])),
            float(np.linalg.norm([t.angular.x, t.angular.y, t.angular.z])))


def _twists(rig):
    with rig.recorder._lock:
        return list(zip(rig.recorder.messages["command/twist"], rig.recorder.arrivals["command/twist"], strict=False))


def _moving_since(rig, since: float) -> bool:
    return any(_speeds(m)[0] > 0 and t > since for m, t in _twists(rig))


def _first_zero_for_good(rig, after: float) -> float | None:
    """Arrival of the first twist after `after` from which on every twist is zero."""
    later = [(m, t) for m, t in _twists(rig) if t > after]
    for i, (_, t) in enumerate(later):
        if all(_speeds(m) == (0.0, 0.0) for m, _ in later[i:]):
            return t
    return None


def test_twist_toward_obeys_the_limits_and_stops_at_the_target():
    limits = TwistLimits(MAX_LINEAR, MAX_ANGULAR, gain=2.0, position_tolerance=0.003)
    linear, angular, reached = twist_toward([0.4, 0, 0.3, np.pi, 0, 0], [0.5, 0.1, 0.3, np.pi, 0, 0.5], limits)
    assert not reached and np.linalg.norm(linear) == pytest.approx(MAX_LINEAR)
    assert np.linalg.norm(angular) == pytest.approx(MAX_ANGULAR) and angular[2] > 0
    assert linear[0] > 0 and linear[1] > 0 and linear[0] == pytest.approx(linear[1])
    linear, _, reached = twist_toward([0.4, 0, 0.3, 0, 0, 0], [0.401, 0, 0.3, 0, 0, 0], limits)
    assert reached and not linear.any()
    linear, _, _ = twist_toward([0.4, 0, 0.3, 0, 0, 0], [0.41, 0, 0.3, 0, 0, 0], limits)
    assert linear[0] == pytest.approx(0.02)  # proportional below the limit


def test_twist_stream_rate_limits_and_stops():
    with PlannerRig(planner_params=TWIST_PARAMS) as rig:
        rig.recorder.record(TwistStamped, "command/twist", COMMAND_QOS)
        rig.recorder.record(JointState, "command/gripper_joints", COMMAND_QOS)
        assert wait_for(lambda: _moving_since(rig, 0.0), 20), rig.messages()
        start, count = time.monotonic(), rig.recorder.count("command/twist")
        time.sleep(2.0)
        rate = (rig.recorder.count("command/twist") - count) / (time.monotonic() - start)
        assert rate >= 0.8 * RATE_HZ, rate
        gripper = rig.recorder.latest("command/gripper_joints")
        assert list(gripper.name) == ["panda_finger_joint1", "panda_finger_joint2"]
        assert all(0.0 <= p <= 0.04 for p in gripper.position)
        assert rig.recorder.count("command/target_pose") == 0 and rig.recorder.count("command/delta") == 0

        zero_after = {}
        for stream in ("pose", "camera", "enable"):
            since = time.monotonic()
            assert wait_for(lambda since=since: _moving_since(rig, since), 20), rig.messages()
            if stream == "enable":
                assert call_service(rig.recorder, SetBool, "/vjepa_ac_planner/enable", SetBool.Request(data=False))
                stopped = time.monotonic()
            else:
                setattr(rig.feeder, "pose_xyzq" if stream == "pose" else "image", None)
                time.sleep(0.1)
                stopped = rig.feeder.last_sent[stream]
            time.sleep(MAX_AGE_S + 0.8)
            zero = _first_zero_for_good(rig, stopped)
            zero_after[stream] = None if zero is None else zero - stopped
            if stream == "enable":
                call_service(rig.recorder, SetBool, "/vjepa_ac_planner/enable", SetBool.Request(data=True))
            elif stream == "pose":
                rig.feeder.pose_xyzq = (0.45, 0.0, 0.3, 1.0, 0.0, 0.0, 0.0)
            else:
                from ros_test_support import synthetic_frame

                rig.feeder.image = synthetic_frame()
        speeds = [_speeds(m) for m, _ in _twists(rig)]
    print(f"twist mode: {rate:.1f} Hz, fastest {max(v for v, _ in speeds):.4f} m/s (limit {MAX_LINEAR}), zero twist "
          f"for good after the stop (s): {zero_after} (max_sensor_age_s {MAX_AGE_S})")
    assert max(v for v, _ in speeds) <= MAX_LINEAR + 1e-9 and max(w for _, w in speeds) <= MAX_ANGULAR + 1e-9
    assert max(v for v, _ in speeds) > 0.5 * MAX_LINEAR  # it did move, at a real speed
    assert all(seconds is not None and seconds <= ZERO_TWIST_TARGET_S for seconds in zero_after.values()), zero_after
    assert zero_after["enable"] <= 2.0 / RATE_HZ + 0.05, zero_after
