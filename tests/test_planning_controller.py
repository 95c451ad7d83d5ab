"""GoalImageController: the control loop shared by the planner node and the evaluation, on a real tiny model."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from models_support import random_world_model

from vjepa_ac.framing import fit_to_square
from vjepa_ac.planning import CEMConfig, CEMPlanner, GoalImageController
from vjepa_ac.planning.goal_gripper import gripper_target

SIZE = 64
STATE = np.array([0.45, 0.0, 0.3, 0.0, 0.0, 0.0, 0.2])
CONFIG = CEMConfig(samples=16, iterations=2, top_k=4)


@pytest.fixture(scope="module")
def world_model():
    torch.manual_seed(0)
    return random_world_model(32, 1, 32, predictor_depth=1, image_size=SIZE).eval()


def images(n, size=SIZE, seed=0):
    return list(np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8))


def test_follows_the_budgets_and_plans_what_the_planner_plans_by_hand(world_model):
    goals, frames = images(2, seed=1), images(4, seed=2)
    read = []
    readout = SimpleNamespace(closedness=lambda image: read.append(image.shape) or 1.0)
    controller = GoalImageController(world_model, CEMPlanner(world_model, CONFIG), readout)
    controller.set_goal(goals, [1, 3])
    assert read == [(SIZE, SIZE, 3)] * 2 and controller.goal_grippers == [1.0, 1.0]
    by_hand = CEMPlanner(world_model, CONFIG)
    goal_tokens = [world_model.encode(g)[0] for g in goals]
    stages = []
    for frame in frames:
        stages.append(controller.goal_index)
        result = controller.step(frame, STATE)
        expected = by_hand.plan(world_model.encode(frame)[0], STATE, goal_tokens[controller.goal_index],
                                gripper_target(1.0, STATE[6]))
        np.testing.assert_array_equal(result.actions, expected.actions)
        assert controller.encode_seconds > 0
        controller.executed(result)
    assert stages == [0, 1, 1, 1] and controller.done
    with pytest.raises(RuntimeError, match="done"):
        controller.step(frames[0], STATE)
    controller.reset()  # back to the first goal, the planner's random stream restarted
    assert controller.goal_index == 0 and not controller.done


def test_frames_and_goals_are_cropped_and_resized_alike(world_model):
    wide = images(1, size=96, seed=3)[0][:, :, :]
    wide = np.concatenate([wide, wide[:, :32]], axis=1)  # 96 x 128
    controller = GoalImageController(world_model, CEMPlanner(world_model, CONFIG), image_crop="center")
    controller.set_goal([wide], [1])
    expected = world_model.encode(fit_to_square(wide, SIZE, "center"))[0]
    torch.testing.assert_close(controller.schedule.current_goal(), expected)
    assert controller.step(wide, STATE).energy == pytest.approx(0.0, abs=0.05)  # the goal is what it sees


def test_bad_goals_keep_the_old_goal_and_no_goal_refuses_to_plan(world_model):
    controller = GoalImageController(world_model, CEMPlanner(world_model, CONFIG))
    with pytest.raises(RuntimeError, match="no goal"):
        controller.step(images(1)[0], STATE)
    controller.set_goal(images(1, seed=4), [2])
    old = controller.schedule
    with pytest.raises(ValueError):
        controller.set_goal(images(2, seed=5), [1])  # two images, one budget
    assert controller.schedule is old
    assert controller.current_goal_gripper() is None  # no readout: the image energy alone decides
    controller.clear_goal()
    assert not controller.has_goal
    with pytest.raises(RuntimeError, match="no goal"):
        controller.step(images(1)[0], STATE)
