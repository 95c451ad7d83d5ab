"""Planner services and goal parameters, called over DDS like `ros2 service call` / `ros2 param set` would."""

from __future__ import annotations

import time

import pytest
import rclpy
from PIL import Image as PILImage
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from ros_test_support import PlannerRig, call_service, command_count, synthetic_frame, wait_for
from std_srvs.srv import SetBool, Trigger

from vjepa_ac.ros.diagnostics import OK

NODE = "/vjepa_ac_planner"


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


def _status_value(rig, key):
    status = rig.statuses()[-1]
    return next((kv.value for kv in status.values if kv.key == key), None)


def _trigger(rig, name):
    return call_service(rig.recorder, Trigger, f"{NODE}/{name}", Trigger.Request())


def test_capture_goal_from_camera():
    with PlannerRig(send_goal=False) as rig:
        assert wait_for(lambda: rig.planner.has_camera_frame, 10)
        assert command_count(rig.recorder) == 0
        response = _trigger(rig, "capture_goal")
        assert response.success, response.message
        assert wait_for(lambda: rig.recorder.count("command/delta") >= 2, 10), rig.messages()
        assert _status_value(rig, "goal_source") == "camera capture"


def test_enable_disable_and_reset():
    with PlannerRig() as rig:
        assert wait_for(lambda: rig.recorder.count("command/delta") >= 2, 10), rig.messages()
        response = call_service(rig.recorder, SetBool, f"{NODE}/enable", SetBool.Request(data=False))
        assert response.success and response.message == "planning disabled"
        assert wait_for(lambda: rig.has_status(OK, "planning disabled"), 5)
        stopped_at = command_count(rig.recorder)
        time.sleep(1.0)
        assert command_count(rig.recorder) == stopped_at
        response = call_service(rig.recorder, SetBool, f"{NODE}/enable", SetBool.Request(data=True))
        assert response.success
        assert wait_for(lambda: command_count(rig.recorder) > stopped_at, 10)
        assert _trigger(rig, "reset").success


def test_load_goal_from_file_after_setting_the_parameter(tmp_path):
    goal = tmp_path / "goal.png"
    PILImage.fromarray(synthetic_frame(size=96, shift=30)).save(goal)
    with PlannerRig(send_goal=False) as rig:
        failed = _trigger(rig, "load_goal_from_file")
        assert not failed.success and "goal_image_path" in failed.message
        request = SetParameters.Request(parameters=[Parameter("goal_image_path", value=str(goal)).to_parameter_msg()])
        result = call_service(rig.recorder, SetParameters, f"{NODE}/set_parameters", request)
        assert result.results[0].successful
        response = _trigger(rig, "load_goal_from_file")
        assert response.success, response.message
        assert wait_for(lambda: rig.recorder.count("command/delta") >= 2, 10), rig.messages()
        assert _status_value(rig, "goal_source") == str(goal)


def test_subgoal_sequence_respects_budgets_and_stops(tmp_path):
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"subgoal_{i}.png")
        PILImage.fromarray(synthetic_frame(shift=10 * (i + 1))).save(paths[-1])
    params = {"subgoal_image_paths": [str(p) for p in paths], "subgoal_budgets": [2, 3]}
    with PlannerRig(planner_params=params, send_goal=False) as rig:
        assert wait_for(lambda: rig.has_status(OK, "goal sequence finished after 5 commands"), 15), rig.messages()
        time.sleep(0.5)
        assert rig.recorder.count("command/delta") == 5
        indices = [next(kv.value for kv in s.values if kv.key == "subgoal_index")
                   for s in rig.statuses() if any(kv.key == "subgoal_index" for kv in s.values)]
        assert {"0", "1", "2"} <= set(indices)
        assert _trigger(rig, "reset").success  # the sequence starts over
        assert wait_for(lambda: rig.recorder.count("command/delta") == 10, 15), rig.messages()
        time.sleep(0.5)
        assert rig.recorder.count("command/delta") == 10


def test_subgoal_budget_mismatch_is_reported(tmp_path):
    path = tmp_path / "g.png"
    PILImage.fromarray(synthetic_frame()).save(path)
    params = {"subgoal_image_paths": [str(path)], "subgoal_budgets": [2, 3]}
    with PlannerRig(planner_params=params, send_goal=False) as rig:
        assert wait_for(lambda: any("subgoal_budgets has 2 entries for 1" in m for m in rig.messages()), 10)
        assert command_count(rig.recorder) == 0


def test_torch_threads_leave_a_core_for_the_callbacks_unless_set():
    """torch's default (every core) starved the executor's callbacks; the node sizes the pool itself."""
    import os

    import torch
    from ros_test_support import TinyWorldModel, parameter_overrides

    from vjepa_ac.ros.planner_node import PlannerNode

    before = torch.get_num_threads()
    try:
        node = PlannerNode(world_model=TinyWorldModel())
        assert node.torch_threads == torch.get_num_threads() == max(1, (os.cpu_count() or 2) - 1)
        node.destroy_node()
        node = PlannerNode(world_model=TinyWorldModel(), parameter_overrides=parameter_overrides({"torch_threads": 3}))
        assert node.torch_threads == torch.get_num_threads() == 3
        node.destroy_node()
    finally:
        torch.set_num_threads(before)
