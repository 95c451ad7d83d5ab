"""Evaluation tasks under both protocols: starts, goal images and budgets are set up as documented, and each
success criterion is right on ground truth. The oracles are the scripted expert (or a straight-line controller
toward the ground-truth goal pose) and the greedy oracle, never the planner: they must pass every task's
protocol within the budget, doing nothing must fail, and breaking the criterion's key condition (dropping the
cube, not releasing it, setting it down off the marker) must fail."""

import re
from pathlib import Path

import numpy as np
import pytest

from vjepa_ac.evaluation.greedy_oracle import greedy_action, run_greedy_oracle
from vjepa_ac.evaluation.tasks import DEFAULT_BUDGETS, PROTOCOLS, TASKS, cube_held, cube_resting, make_task
from vjepa_ac.planning.action_space import ActionSpace
from vjepa_ac.simulation import ScriptedPickPlaceExpert, make_sim
from vjepa_ac.simulation.expert import PREGRASP_Z, pick_and_place_success, run_expert_episode
from vjepa_ac.simulation.scene_layout import AWAY_START_HEIGHT, AWAY_START_RADIUS, TABLE_TOP_Z

S = 32
DOCS = Path(__file__).resolve().parents[1] / "docs" / "evaluation.md"
EXPECTED_BUDGETS = {
    "v2": {"reach": [15], "grasp": [10, 4, 6], "reach-with-object": [15], "pick-and-place": [10, 4, 10, 4],
           "pick-and-place-single-goal": [28], "reach-rotate": [15]},
    "near-cube": {"reach": [15], "grasp": [4, 8], "reach-with-object": [15], "pick-and-place": [4, 10, 4],
                  "pick-and-place-single-goal": [18], "reach-rotate": [15]},
}
TASK_NAMES = sorted(EXPECTED_BUDGETS["v2"])
# Fixed oracle seeds. The scripted expert's descent occasionally stalls on the cube's edge and needs more
# actions than the budget (e.g. seed 100005), which says nothing about the criteria, so these are seeds
# where it does not.
ORACLE_SEEDS = (100000, 100001)
ORACLE_STEP = 0.09  # metres per action: the expert at the sim's per-step limit fits the 15/18 budgets


@pytest.fixture(scope="module")
def sim():
    s = make_sim("mujoco", image_size=S)
    yield s
    s.close()


@pytest.fixture(scope="module")
def pybullet_sim():
    s = make_sim("pybullet", image_size=S)
    yield s
    s.close()


def _toward(obs, goal_xyz, step=ORACLE_STEP):
    """Straight line toward a ground-truth position, orientation and gripper unchanged."""
    delta = np.asarray(goal_xyz[:3]) - obs.ee_state[:3]
    norm = np.linalg.norm(delta)
    if norm > step:
        delta *= step / norm
    return np.concatenate([delta, np.zeros(4)])


class Oracle:
    """Ground-truth controller for one task's protocol."""

    def __init__(self, task_name, sim, obs, setup):
        self.name, self.setup = task_name, setup
        self.expert = None
        if task_name in ("grasp", "pick-and-place", "pick-and-place-single-goal"):
            self.expert = ScriptedPickPlaceExpert(step_size=ORACLE_STEP)
            self.expert.reset(sim, obs)

    def act(self, obs):
        if self.name == "reach-rotate":  # the straight line, turning as it goes (tests/test_reach_rotate.py)
            goal = np.asarray(self.setup.info["goal_ee_pose"])
            turn = greedy_action(obs.ee_state, goal, ActionSpace.from_flags(rotation_enabled=True))[3:6]
            return np.concatenate([_toward(obs, goal)[:3], turn, [0.0]])
        if self.expert is None:
            return _toward(obs, self.setup.info["goal_ee_pose"])
        action = self.expert.act(obs)
        if self.name == "grasp" and self.expert.phase in ("lift", "carry", "done"):
            return _toward(obs, self.setup.info["goal_ee_pose"])  # closed: lift to the goal height, then hold
        return action


def run_protocol(task, sim, seed, policy=None, override=None):
    """Setup, then exactly sum(budgets) actions (zeros without a policy); returns (evaluate(...), setup)."""
    obs, setup = task.setup(sim, seed)
    oracle = policy(task.name, sim, obs, setup) if policy is not None else None
    total = sum(setup.budgets)
    for step in range(total):
        action = oracle.act(obs) if oracle is not None else np.zeros(7)
        if override is not None:
            action = override(step, total, obs, action)
        obs = sim.step(action)
    return task.evaluate(sim, obs, setup), setup


def test_registry_and_documented_criteria():
    text = DOCS.read_text()
    assert sorted(TASKS) == TASK_NAMES and PROTOCOLS == ("v2", "near-cube")
    assert {p: {t: list(b) for t, b in budgets.items()} for p, budgets in DEFAULT_BUDGETS.items()} == EXPECTED_BUDGETS
    for name, cls in TASKS.items():
        assert cls.name == name
        for protocol in PROTOCOLS:
            assert len(make_task(name, protocol=protocol).criterion) > 40
        assert re.search(rf"^\| `{re.escape(name)}` \|", text, re.MULTILINE), f"{name} missing from {DOCS}"
    assert make_task("grasp").protocol == "v2"  # the default
    with pytest.raises(ValueError, match="unknown task"):
        make_task("stack")
    with pytest.raises(ValueError, match="unknown protocol"):
        make_task("reach", protocol="v1")


@pytest.mark.parametrize("seed", range(100000, 100040))
def test_v2_start_is_away_from_the_cube_and_moves_only_the_hand(sim, seed):
    away = sim.reset(seed, {"start_away_from_cube": True})
    cube, hand = away.object_poses["cube"], away.ee_state
    assert AWAY_START_HEIGHT[0] - 2e-3 <= hand[2] - TABLE_TOP_Z <= AWAY_START_HEIGHT[1] + 2e-3
    assert AWAY_START_RADIUS[0] - 2e-3 <= np.linalg.norm(hand[:2] - cube[:2]) <= AWAY_START_RADIUS[1] + 2e-3
    assert sim.workspace_bounds.contains(hand[:3]) and away.ee_state[6] == 0.0  # the open hand
    home = sim.reset(seed)
    for name, pose in home.object_poses.items():
        np.testing.assert_allclose(away.object_poses[name], pose, atol=1e-6)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("name", TASK_NAMES)
def test_setup_goal_images_budgets_and_undisturbed_episode(sim, name, protocol):
    task = make_task(name, protocol=protocol)
    obs, setup = task.setup(sim, 100000)
    assert setup.budgets == EXPECTED_BUDGETS[protocol][name]
    assert setup.info["protocol"] == protocol
    assert len(setup.info["subgoal_ee_poses"]) == len(setup.budgets)
    assert len(setup.goal_images) == len(setup.budgets)
    for image in setup.goal_images:
        assert image.shape == (S, S, 3) and image.dtype == np.uint8
        # Every task's goal differs from its start; the difference is visible in the image.
        assert np.abs(image.astype(int) - obs.image.astype(int)).mean() > 0.5
    for a in range(len(setup.goal_images)):
        for b in range(a + 1, len(setup.goal_images)):
            assert not np.array_equal(setup.goal_images[a], setup.goal_images[b])
    # Rendering the goals did not move the arm or the objects of the running episode.
    now = sim.observe()
    np.testing.assert_array_equal(now.image, obs.image)
    np.testing.assert_allclose(now.ee_state, obs.ee_state, atol=1e-9)
    np.testing.assert_allclose(now.joint_positions, obs.joint_positions, atol=1e-9)
    for key, pose in obs.object_poses.items():
        np.testing.assert_allclose(now.object_poses[key], pose, atol=1e-9)
    assert task.distance(sim, obs, setup) >= 0.065  # the start is far from the goal (grasp: a 7 cm lift)
    success, _, _ = task.evaluate(sim, obs, setup)
    assert not success


@pytest.mark.parametrize("name", ["reach", "reach-with-object", "grasp"])
def test_setup_is_deterministic_per_seed(sim, name):
    task = make_task(name)
    _, first = task.setup(sim, 100003)
    _, again = task.setup(sim, 100003)
    _, other = task.setup(sim, 100004)
    np.testing.assert_array_equal(first.goal_images[0], again.goal_images[0])
    assert first.info == again.info
    assert not np.array_equal(first.goal_images[0], other.goal_images[0])


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("name", ["grasp", "pick-and-place"])
def test_first_sub_goal_is_within_reach_of_the_planners_steps(sim, name, protocol):
    """Each action moves at most 7.5 cm (L1): the first budget must be able to cover the way to the first
    sub-goal; under v2 that way is long (the start is 12-25 cm from the cube), near-cube it is short."""
    task = make_task(name, protocol=protocol)
    for seed in range(100000, 100020):
        obs, setup = task.setup(sim, seed)
        first = np.asarray(setup.info["subgoal_ee_poses"][0][:3])
        l1 = np.abs(first - obs.ee_state[:3]).sum()
        assert l1 <= 0.8 * setup.budgets[0] * 0.075, (seed, l1)
        cube_xy = np.asarray(setup.info["start_cube_pose"][:2])
        np.testing.assert_allclose(first[:2], cube_xy, atol=1e-9)  # above / around the cube
        if protocol == "v2":
            assert first[2] == pytest.approx(PREGRASP_Z)  # pre-grasp, open hand
            assert setup.info["subgoal_ee_poses"][0][6] == 0.0
            assert np.linalg.norm(cube_xy - obs.ee_state[:2]) >= 0.118
        else:
            assert np.linalg.norm(first[:2] - obs.ee_state[:2]) <= 0.021


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_single_goal_variant_uses_the_final_sub_goal(sim, protocol):
    _, full = make_task("pick-and-place", protocol=protocol).setup(sim, 100002)
    _, single = make_task("pick-and-place-single-goal", protocol=protocol).setup(sim, 100002)
    np.testing.assert_array_equal(full.goal_images[-1], single.goal_images[0])
    # The oracle's bound for the single image follows the pick-and-place poses, within the same total budget.
    assert single.info["oracle_plan"]["ee_poses"] == full.info["subgoal_ee_poses"]
    assert sum(single.info["oracle_plan"]["budgets"]) == sum(single.budgets) == sum(full.budgets)


def test_reach_with_object_starts_with_the_cube_grasped_and_lifted(sim):
    task = make_task("reach-with-object")
    obs, setup = task.setup(sim, 100001)
    held, details = cube_held(sim, obs)
    assert held, details
    assert obs.object_poses["cube"][2] > 0.1  # lifted by the expert before the planner's first action
    assert setup.info["prep_actions"] > 0
    goal_cube, start_cube = np.array(setup.info["goal_cube_pose"]), np.array(setup.info["start_cube_pose"])
    assert 0.10 <= np.linalg.norm(goal_cube[:3] - start_cube[:3]) <= 0.25
    assert goal_cube[2] > 0.1


@pytest.mark.parametrize("engine", ["mujoco", "pybullet"])
@pytest.mark.parametrize("seed", ORACLE_SEEDS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("name", TASK_NAMES)
def test_oracle_succeeds_and_doing_nothing_fails(request, name, protocol, seed, engine):
    sim = request.getfixturevalue("sim" if engine == "mujoco" else "pybullet_sim")
    task = make_task(name, protocol=protocol)
    (success, distance, details), _ = run_protocol(task, sim, seed, Oracle)
    assert success, (distance, details)
    assert distance < 0.03
    (success, distance, details), _ = run_protocol(task, sim, seed)
    assert not success
    assert distance > 0.065


def test_grasp_fails_when_the_cube_is_dropped_at_the_end(sim):
    def open_at_the_end(step, total, obs, action):
        return np.array([0, 0, 0, 0, 0, 0, -1.0]) if step == total - 1 else action

    (success, _, details), _ = run_protocol(make_task("grasp"), sim, 100000, Oracle, open_at_the_end)
    assert not success and not details["held"]


def test_grasp_requires_the_lift(sim):
    """Grasp without lifting: held, but not 5 cm up."""
    def no_lift(step, total, obs, action):
        if obs.ee_state[6] < 0.5 and action[6] <= 0:  # approach and descent as the expert does them
            return action
        return np.concatenate([action[:2], [min(action[2], 0.0)], action[3:]])

    (success, _, details), _ = run_protocol(make_task("grasp"), sim, 100000, Oracle, no_lift)
    assert details["held"] and details["lift_m"] < 0.05
    assert not success


def test_reach_with_object_fails_when_the_cube_is_let_go(sim):
    def release_halfway(step, total, obs, action):
        return np.concatenate([action[:6], [-1.0]]) if step == total // 2 else action

    (success, distance, details), _ = run_protocol(make_task("reach-with-object"), sim, 100000, Oracle,
                                                   release_halfway)
    assert not success and not details["held"]


def test_pick_and_place_fails_without_release(sim):
    """Cube carried onto the target but the gripper never opens: placed, not released."""
    def keep_closed(step, total, obs, action):
        return np.concatenate([action[:6], [max(action[6], 0.0)]])

    (success, distance, details), _ = run_protocol(make_task("pick-and-place"), sim, 100000, Oracle, keep_closed)
    assert not success and not details["released"]


def test_pick_and_place_needs_the_cube_within_3_cm_of_the_marker_centre(sim):
    """The same test the expert's episodes use: 2.9 cm off the centre passes, 3.1 cm fails, a cube in the air
    or still squeezed fails."""
    target = np.array([0.5, 0.1, 0.0])
    resting = np.array([0.5, 0.1, 0.0275, 1.0, 0.0, 0.0, 0.0])
    for offset, expected in ((0.029, True), (0.031, False)):
        cube = resting + np.array([offset * 0.6, offset * 0.8, 0, 0, 0, 0, 0])
        assert pick_and_place_success(cube, target, 0.0)[0] == expected
    assert not pick_and_place_success(resting, target, 1.0)[0]  # squeezed: not released
    assert not pick_and_place_success(resting + np.array([0, 0, 0.02, 0, 0, 0, 0]), target, 0.0)[0]
    # The scripted expert's success is this test: its episode's end state passes the task's evaluation.
    episode = run_expert_episode(sim, 100001, {"start_away_from_cube": True}, max_actions=60)
    assert episode.success
    task = make_task("pick-and-place")
    obs, setup = task.setup(sim, 100001)
    assert pick_and_place_success(episode.cube_end, np.asarray(setup.info["target_xyz"]), 0.0)[0]


def test_make_task_budget_override():
    assert make_task("reach", budgets=[3]).budget == 3
    assert make_task("pick-and-place", budgets=[1, 2, 3, 4]).budgets == [1, 2, 3, 4]
    assert make_task("pick-and-place", budgets=[1, 2, 3], protocol="near-cube").budgets == [1, 2, 3]
    with pytest.raises(ValueError):
        make_task("reach", budgets=[1, 2])
    with pytest.raises(ValueError):
        make_task("pick-and-place", budgets=[5])
    with pytest.raises(ValueError):
        make_task("grasp", budgets=[0])


def test_cube_held_needs_closed_fingers_around_the_cube(sim):
    obs = sim.reset(100000)
    assert not cube_held(sim, obs)[0]  # open hand in the air, cube on the table
    obs = sim.step(np.array([0, 0, 0, 0, 0, 0, 1.0]))
    held, details = cube_held(sim, obs)
    assert not held and details["gripper_closed"] and not details["fingers_blocked_by_cube"]
    expert = ScriptedPickPlaceExpert()
    obs = sim.reset(100000)
    expert.reset(sim, obs)
    for _ in range(30):
        action = expert.act(obs)
        if expert.phase == "lift":
            break
        obs = sim.step(action)
    held, details = cube_held(sim, obs)  # just closed on the cube, still on the table
    assert held, details
    assert cube_resting(obs)


@pytest.mark.parametrize("name", ["grasp", "pick-and-place"])
def test_greedy_oracle_solves_the_protocol(sim, name):
    """The paper's planner looks one action ahead. With a perfect energy it must solve the protocol, or no
    learned model can: v2's budgets were chosen for >= 95 % (development seeds 100000-100099: grasp 99/100,
    pick-and-place 100/100; docs/evaluation.md), so twenty seeds here need at least 19. (The near-cube protocol
    is kept as it was, for comparison; its oracle figures are in the release table.)"""
    task = make_task(name)
    results = [run_greedy_oracle(task, sim, seed) for seed in range(100000, 100020)]
    assert sum(success for success, _, _ in results) >= 19, results


def test_greedy_oracle_action_is_the_feasible_step_toward_the_goal():
    space = ActionSpace()
    state = np.array([0.5, 0.0, 0.2, np.pi, 0.0, 0.0, 0.0])
    near = greedy_action(state, state + np.array([0.01, -0.02, 0.0, 0.0, 0.0, 0.0, 1.0]), space)
    np.testing.assert_allclose(near, [0.01, -0.02, 0.0, 0.0, 0.0, 0.0, space.gripper_max])
    error = np.array([0.3, 0.0, -0.1])
    far = greedy_action(state, state + np.concatenate([error, np.zeros(4)]), space)
    assert np.abs(far[:3]).sum() == pytest.approx(space.translation_radius)  # the whole step, L1
    assert np.all(far[:3] * error >= 0) and np.all(np.abs(far[:3]) <= np.abs(error))  # never past or away
    assert not far[3:].any()
