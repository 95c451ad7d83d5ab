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


def test_default_config_reads_the_goal_gripper_and_plans_toward_it():
    """planner.yaml's gripper_goal_weight with the embedded model's readout: the goal image's gripper is read
    once, reported in the diagnostics, and the planned gripper heads for it."""
    from PIL import Image

    from vjepa_ac.models.gripper_readout import load_gripper_readout
    from vjepa_ac.ros.image_conversion import rgb_to_image_msg
    from vjepa_ac.simulation import make_sim

    with make_sim("mujoco", image_size=128) as sim:
        from vjepa_ac.evaluation.tasks import make_task
        from vjepa_ac.models import world_model_camera

        _, setup = make_task("grasp", camera=world_model_camera()).setup(sim, 90000)
    lifted = setup.goal_images[-1]  # the cube lifted in the closed hand
    assert load_gripper_readout(EMBEDDED_MODEL_DIR).goal_closedness(lifted) == 1.0
    params = {"checkpoint": "", "samples": 64, "iterations": 3, "top_k": 8, "rate_hz": 2.0, "max_sensor_age_s": 2.0,
              "gripper_goal_weight": 0.02}
    with PlannerRig(planner_params=params, world_model_loader=load_world_model_from_settings, send_goal=False) as rig:
        assert rig.planner.fatal_error is None, rig.planner.fatal_error
        rig.publish_goal(rgb_to_image_msg(np.asarray(Image.fromarray(lifted)), "camera"))
        assert wait_for(lambda: rig.recorder.count("command/delta") >= 2, 120), rig.messages()
        values = [{v.key: v.value for v in s.values} for s in rig.statuses()]
        assert any(v.get("goal_gripper") == "closed" for v in values), values[-1]
        deltas = np.array([m.data for m in rig.recorder.all("command/delta")])
        # The fake robot's gripper stays open, so every plan closes as far as one action may.
        assert np.all(deltas[:, 6] > 0.5), deltas[:, 6]
