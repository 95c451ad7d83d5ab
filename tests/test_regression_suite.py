"""Success-rate floors of the embedded default model on fixed evaluation seeds (docs/evaluation.md).

The full suite (every task, REGRESSION_EPISODES seeds each) is marked `regression` and runs with
`make regression`; reduced but real slices (reach and grasp, three seeds each, the evaluation's CEM) run in
the default test run.
A missing embedded model fails these tests: a skipped regression suite would look like a passing one.
"""

import numpy as np
import pytest

from vjepa_ac.evaluation import make_task, run_episode
from vjepa_ac.evaluation.tasks import EVALUATION_SEED_START
from vjepa_ac.models import CheckpointError, load_world_model
from vjepa_ac.planning import CEMConfig, CEMPlanner
from vjepa_ac.planning.goal_gripper import DEFAULT_GRIPPER_GOAL_WEIGHT, GoalGripper
from vjepa_ac.simulation import make_sim

ENGINE = "mujoco"
REGRESSION_FIRST_SEED = EVALUATION_SEED_START
REGRESSION_EPISODES = 50
# Floors from `vjepa-ac-eval` runs of the shipped model on seeds 100000+ with the paper's CEM settings, the
# anchored energy and the gripper readout (docs/embedded_model.md), about two binomial standard deviations below
# the measured rate, for CPU nondeterminism. Single-goal pick-and-place never succeeds yet, so it has no floor;
# every task's mean final distance must still not regress.
SUCCESS_FLOORS = {
    "reach": 0.94,  # measured 1.00 (50/50, seeds 100000-100049); the issue asks 0.95
    "grasp": 0.80,  # measured 0.90 (45/50; 0.20 with the image energy alone); the issue asks 0.70
    "reach-with-object": 0.80,  # measured 1.00 (10/10; 0.0 with the image energy alone)
    "pick-and-place": 0.78,  # measured 0.88 (44/50; 0.14 with the image energy alone); the issue asks 0.80
    "pick-and-place-single-goal": 0.0,  # measured 0.0 (0/10)
}
DISTANCE_CEILINGS_M = {  # mean final distance to the task's goal, metres
    "reach": 0.015,  # measured 0.003
    "grasp": 0.04,  # measured 0.017
    "reach-with-object": 0.05,  # measured 0.006 (10 seeds)
    "pick-and-place": 0.07,  # measured 0.032
    "pick-and-place-single-goal": 0.28,  # measured 0.210 (10 seeds)
}
# Default-run slices, with the evaluation's CEM (800 samples x 10 iterations, anchored energy, gripper readout).
# task: (seeds, successes needed, actions per episode)
SLICES = {
    "reach": ((100000, 100001, 100002), 3, 15),  # they ended 0.4, 0.05 and 0.1 cm from the goal (4 cm passes)
    "grasp": ((100000, 100001, 100002), 2, 12),  # all three lifted the cube 6.3-7.5 cm (5 cm passes)
}


@pytest.fixture(scope="module")
def embedded_model():
    """The model, or the reason it could not be loaded: failing in the test (not the fixture) reports FAILED."""
    try:
        return load_world_model(None)
    except CheckpointError as error:
        return error


def _require(model):
    if isinstance(model, Exception):
        pytest.fail(f"the regression suite needs the embedded default model (vjepa_ac/assets/embedded_model/), "
                    f"which could not be loaded: {model}", pytrace=False)
    return model


@pytest.fixture(scope="module")
def sim(embedded_model):
    """Rendered at the model's input size, as vjepa-ac-eval does by default."""
    size = 128 if isinstance(embedded_model, Exception) else embedded_model.image_size
    s = make_sim(ENGINE, image_size=size)
    yield s
    s.close()


def _run(world_model, sim, task_name, seeds):
    # As vjepa-ac-eval and the nodes: anchored energy, goal grippers read by the model's gripper readout.
    planner = CEMPlanner(world_model, CEMConfig(anchor_to_observation=True,
                                                gripper_goal_weight=DEFAULT_GRIPPER_GOAL_WEIGHT))
    goal_gripper = GoalGripper.for_model()
    task = make_task(task_name)
    return [run_episode(sim, world_model, planner, task, seed,
                        goal_gripper=lambda image, _setup, _index: goal_gripper.closedness(image)) for seed in seeds]


def _table(records) -> str:
    return "\n".join(f"  seed {r.seed}: {'success' if r.success else 'failure'}, final distance "
                     f"{r.final_distance_m:.3f} m, {r.details}" for r in records)


def test_seed_constants_are_evaluation_seeds():
    assert min(min(seeds) for seeds, _, _ in SLICES.values()) >= EVALUATION_SEED_START
    assert REGRESSION_FIRST_SEED >= EVALUATION_SEED_START
    assert set(SUCCESS_FLOORS) == {"reach", "grasp", "reach-with-object", "pick-and-place",
                                   "pick-and-place-single-goal"}
    assert set(DISTANCE_CEILINGS_M) == set(SUCCESS_FLOORS)


@pytest.mark.parametrize("task_name", list(SLICES))
def test_slice_with_default_cem(embedded_model, sim, task_name):
    seeds, needed, actions = SLICES[task_name]
    records = _run(_require(embedded_model), sim, task_name, seeds)
    successes = sum(r.success for r in records)
    assert all(r.actions_executed == actions for r in records)
    assert successes >= needed, f"{task_name}: {successes}/{len(records)} successes, need {needed}\n{_table(records)}"


@pytest.mark.regression
@pytest.mark.parametrize("task_name", list(SUCCESS_FLOORS))
def test_success_rate_floor(embedded_model, sim, task_name):
    seeds = range(REGRESSION_FIRST_SEED, REGRESSION_FIRST_SEED + REGRESSION_EPISODES)
    records = _run(_require(embedded_model), sim, task_name, seeds)
    rate = float(np.mean([r.success for r in records]))
    floor = SUCCESS_FLOORS[task_name]
    print(f"{task_name}: success rate {rate:.2f} over {len(records)} seeds (floor {floor}), mean final distance "
          f"{np.mean([r.final_distance_m for r in records]):.3f} m")
    assert rate >= floor, f"{task_name}: success rate {rate:.2f} < floor {floor}\n{_table(records)}"
    mean_distance = float(np.mean([r.final_distance_m for r in records]))
    ceiling = DISTANCE_CEILINGS_M[task_name]
    assert mean_distance <= ceiling, (
        f"{task_name}: mean final distance {mean_distance:.3f} m > {ceiling} m\n{_table(records)}")
