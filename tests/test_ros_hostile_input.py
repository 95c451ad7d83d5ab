"""Hostile input against the planner as users run it: every case comes from another process, over DDS.

The planner is its console entry point with the embedded model and config/planner.yaml (CEM made
smaller so a plan takes ~0.5 s), the robot is `soak_sensor_process.py --control`, and this process
records commands and diagnostics. After each case the node must still be running, no command may come
from the rejected input, and stops must be obeyed within max_sensor_age_s + 0.1 s. bench/stop_latency.py
runs the same stops 20 times each and the before/after figures of issue 21.
"""

from __future__ import annotations

import random
import statistics
import time

import numpy as np
import pytest
import rclpy
import yaml
from ros_test_support import HOSTILE_CASES, REPO_ROOT, HostileRig, wait_for
from std_srvs.srv import SetBool, Trigger

from vjepa_ac.ros.callback_guard import guard_service, guard_subscription

MAX_AGE_S = 0.5
STOP_TARGET_S = MAX_AGE_S + 0.1
PLANNER_PARAMS = {"samples": 200, "iterations": 5, "torch_threads": 1, "rate_hz": 2.0, "max_sensor_age_s": MAX_AGE_S}
CROSS_TOPIC_SLACK_S = 0.05  # a command sent just before the rejection may arrive just after its diagnostic
STOP_TRIES = 2
SEED = 100121


@pytest.fixture(scope="module")
def rig():
    rclpy.init()
    rig = HostileRig(PLANNER_PARAMS)
    try:
        assert wait_for(lambda: len(rig.command_times()) >= 2, 120.0), rig.messages() + [rig.planner_log()]
        yield rig
        assert rig.alive(), rig.planner_log()
        box = yaml.safe_load((REPO_ROOT / "config" / "planner.yaml").read_text())["/**"]["ros__parameters"]
        targets = np.array([[m.pose.position.x, m.pose.position.y, m.pose.position.z]
                            for m in rig.recorder.all("command/target_pose")])
        assert len(targets) and np.all(targets >= box["workspace_min"]) and np.all(targets <= box["workspace_max"])
    finally:
        rig.close()
        rclpy.shutdown()


def wait_command(rig, timeout: float = 30.0) -> bool:
    count = len(rig.command_times())
    return wait_for(lambda: len(rig.command_times()) > count, timeout)


@pytest.mark.parametrize("case", ["pose_far", "bad_quaternion", "fingers_negative", "fingers_large", "one_finger",
                                  "future_stamp"])
def test_implausible_input_is_refused_and_never_commanded(rig, case):
    expected = HOSTILE_CASES[case][2]
    diagnosed_before = len(rig.status_times(expected))
    event = rig.send(cmd="hostile", case=case, seconds=1.5)
    time.sleep(0.3)
    assert rig.alive(), rig.planner_log()
    refusals = [t for t in rig.status_times(expected)[diagnosed_before:] if t >= event["first_sent"]]
    assert refusals, rig.messages()
    during = [t for t in rig.command_times() if refusals[0] + CROSS_TOPIC_SLACK_S < t <= event["last_sent"] + 0.3]
    assert not during, f"{len(during)} command(s) while every {HOSTILE_CASES[case][0]} message was {case}"
    assert wait_command(rig), rig.messages()  # valid input again: planning resumes


def test_oversized_images_are_refused_before_allocation(rig):
    memory_before = rig.memory()

    def refused(case, seconds, diagnosis):
        diagnosed_before = len(rig.status_times(diagnosis))
        rig.send(cmd="hostile", case=case, seconds=seconds)
        assert wait_for(lambda: len(rig.status_times(diagnosis)) > diagnosed_before, 5.0), rig.messages()

    # The stall is measured around the 4 GiB declarations alone: the multi-MB frames below also load DDS
    # itself, which delays any service round trip however little the node does with them.
    with rig.stall_probe() as probe:
        time.sleep(0.2)
        refused("huge_step", 0.0, "camera image rejected: image is too large: step*height = 4294967295*1")
        refused("huge_step_goal", 0.0, "goal image rejected: image is too large: step*height")
        time.sleep(0.5)
    # Best effort delivers some 7 MB frames and none of 48 MB (DDS reports those lost).
    refused("oversize_camera", 1.5, "camera image rejected: image 2000x1200 is too large")
    refused("large_camera", 0.5, "camera image message(s) lost in transport: most likely too large")
    time.sleep(0.5)
    memory_after = rig.memory()
    assert rig.alive(), rig.planner_log()
    # Before issue 21: 4 GiB allocated for the 3-byte image and 8.7 s without callbacks.
    growth = (memory_after["VmHWM"] - memory_before["VmHWM"]) / 2**20
    assert growth < 256, f"peak RSS grew by {growth:.0f} MiB"
    # The old node stalled 8.7-15.6 s here. A service round trip also waits on the planning thread and on DDS,
    # about 1 s at worst on 2 cores, so this bound separates the two; bench/stop_latency.py measures the stall.
    assert probe.longest < 3.0, f"executor stalled {probe.longest:.2f} s"
    rig.send(cmd="goal", case="valid")  # the refused goal stopped planning; a valid one resumes it
    assert wait_command(rig), rig.messages()


def test_oversized_goal_file_is_refused_from_its_header(rig, tmp_path_factory):
    from PIL import Image
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    path = tmp_path_factory.mktemp("goal") / "12000px.png"
    Image.new("1", (12000, 12000)).save(path)  # a few kB on disk, 432 MB as RGB
    set_goal = SetParameters.Request(parameters=[Parameter("goal_image_path", value=str(path)).to_parameter_msg()])
    assert rig.call(SetParameters, "set_parameters", set_goal).results[0].successful
    memory_before = rig.memory()
    started = time.monotonic()
    response = rig.call(Trigger, "load_goal_from_file", Trigger.Request(), timeout=60.0)
    seconds = time.monotonic() - started
    assert response is not None and not response.success and "too large" in response.message, response
    assert seconds < 1.0, f"load_goal_from_file took {seconds:.2f} s"
    assert (rig.memory()["VmHWM"] - memory_before["VmHWM"]) / 2**20 < 64
    clear = SetParameters.Request(parameters=[Parameter("goal_image_path", value="").to_parameter_msg()])
    rig.call(SetParameters, "set_parameters", clear)
    rig.send(cmd="goal", case="valid")
    assert wait_command(rig), rig.messages()


@pytest.mark.parametrize("kind", ["enable", "camera", "pose"])
def test_stop_is_obeyed_within_max_sensor_age(rig, kind):
    """The stop lands at a random point of a plan; the last command may come at most max_age + 0.1 s later
    (enable(false): none at all after its answer)."""
    rng = random.Random(SEED + len(kind))
    period = statistics.median(np.diff(rig.command_times()[-6:]))
    latencies = []
    for _ in range(STOP_TRIES):
        assert wait_command(rig), rig.messages()
        time.sleep(rng.uniform(0.0, period))
        if kind == "enable":
            response = rig.call(SetBool, "enable", SetBool.Request(data=False))
            assert response is not None and response.success
            stopped = time.monotonic()
        else:
            stopped = rig.send(cmd="stop", stream=kind)["last_sent"]
        time.sleep(MAX_AGE_S + period + 1.0)
        after = [t - stopped for t in rig.command_times() if t > stopped]
        latencies.append(max(after, default=0.0))
        if kind == "enable":
            assert not after, f"{len(after)} command(s) after enable(false) was answered"
            rig.call(SetBool, "enable", SetBool.Request(data=True))
        else:
            rig.send(cmd="start", stream=kind)
        assert rig.alive(), rig.planner_log()
    assert max(latencies) <= STOP_TARGET_S, latencies


def test_service_bursts_are_all_answered(rig):
    """100 ~/enable and 200 ~/reset requests at once (before issue 21: 29 and 17 answered)."""
    for name, srv, request, count in (("enable", SetBool, SetBool.Request(data=True), 100),
                                      ("reset", Trigger, Trigger.Request(), 200)):
        client = rig.client(srv, name)
        assert client.wait_for_service(timeout_sec=10.0)
        futures = [client.call_async(request) for _ in range(count)]
        assert wait_for(lambda futures=futures: all(f.done() for f in futures), 30.0), \
            f"{name}: {sum(f.done() for f in futures)}/{count} answered"
        assert all(f.result().success for f in futures)
        rig.recorder.destroy_client(client)
    assert wait_command(rig), rig.messages()


def test_callback_exceptions_are_reported_not_raised():
    """A MemoryError (or anything else) in a callback is handed to the node's reporter; a service still answers."""
    reports = []

    def subscription(msg):
        raise MemoryError(f"cannot allocate for {msg}")

    def service(request, response):
        raise RuntimeError("broken")

    assert guard_subscription(subscription, reports.append)("an image") is None
    response = guard_service(service, reports.append)(SetBool.Request(data=True), SetBool.Response())
    assert not response.success and "RuntimeError: broken" in response.message
    assert "MemoryError: cannot allocate for an image" in reports[0] and "RuntimeError" in reports[1]
