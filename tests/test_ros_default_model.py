"""The planner node with its default model: the embedded checkpoint, loaded by `load_world_model(None)`."""

from __future__ import annotations

import numpy as np
import pytest
import rclpy
from ros_test_support import PlannerRig, wait_for

from vjepa_ac.models import EMBEDDED_MODEL_DIR
from vjepa_ac.ros.planner_node import load_world_model_from_settings

pytestmark = pytest.mark.skipif(
    not (EMBEDDED_MODEL_DIR / "config.json").is_file(),
    reason=f"embedded model not shipped yet ({EMBEDDED_MODEL_DIR})",
)


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


def test_default_checkpoint_plans_bounded_commands():
    params = {"checkpoint": "", "samples": 32, "iterations": 2, "top_k": 4, "rate_hz": 2.0, "max_sensor_age_s": 2.0}
    with PlannerRig(planner_params=params, world_model_loader=load_world_model_from_settings) as rig:
        assert rig.planner.fatal_error is None, rig.planner.fatal_error
        assert wait_for(lambda: rig.recorder.count("command/delta") >= 2, 120), rig.messages()
        deltas = np.array([m.data for m in rig.recorder.all("command/delta")])
        assert np.all(np.isfinite(deltas)) and np.abs(deltas[:, :3]).sum(axis=1).max() <= 0.075 + 1e-9
