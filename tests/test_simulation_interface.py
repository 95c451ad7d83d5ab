"""FrankaSim contract on both engines: observations, Cartesian tracking, determinism, goal rendering, input checks."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vjepa_ac.simulation import Observation, TaskOptions, make_sim
from vjepa_ac.simulation.goals import sample_reach_goal
from vjepa_ac.simulation.scene_layout import CUBE_HALF, EE_START

S = 64


@pytest.fixture(scope="module", params=["mujoco", "pybullet"])
def engine(request):
    return request.param


@pytest.fixture(scope="module")
def sim(engine):
    s = make_sim(engine, image_size=S)
    yield s
    s.close()


@pytest.fixture(scope="module")
def twin(engine):
    s = make_sim(engine, image_size=S)
    yield s
    s.close()


def rotation_angle_deg(euler_a, euler_b) -> float:
    ra, rb = Rotation.from_euler("xyz", euler_a), Rotation.from_euler("xyz", euler_b)
    return float(np.rad2deg((ra * rb.inv()).magnitude()))


def test_observation_contract(sim):
    obs = sim.reset(0)
    assert isinstance(obs, Observation)
    assert obs.image.shape == (S, S, 3) and obs.image.dtype == np.uint8
    assert obs.image.std() > 10  # a real scene, not a blank frame
    assert obs.ee_state.shape == (7,) and obs.ee_state.dtype == np.float64
    assert obs.joint_positions.shape == (9,)
    assert set(obs.object_poses) == {"cube", "cup"}
    for pose in obs.object_poses.values():
        assert pose.shape == (7,)
        assert abs(np.linalg.norm(pose[3:]) - 1) < 1e-6
    np.testing.assert_allclose(obs.ee_state[:3], EE_START[:3], atol=2e-3)
    assert rotation_angle_deg(obs.ee_state[3:6], EE_START[3:6]) < 0.5
    assert obs.ee_state[6] < 0.05  # starts open
    assert obs.object_poses["cube"][2] == pytest.approx(CUBE_HALF, abs=2e-3)  # resting on the table


@pytest.mark.parametrize("delta", [(0.05, 0, 0), (0, -0.05, 0), (0, 0, -0.05), (0.03, 0.03, 0.0265)])
def test_cartesian_delta_is_tracked(sim, delta):
    sim.reset(1)
    before = sim.ee_state()
    action = np.concatenate([delta, [0, 0, 0, 0]])
    after = sim.step(action).ee_state
    assert np.linalg.norm(after[:3] - (before[:3] + np.asarray(delta))) <= 5e-3
    assert rotation_angle_deg(after[3:6], before[3:6]) <= 2.0


def test_rotation_delta_is_tracked(sim):
    sim.reset(2)
    before = sim.ee_state()
    action = np.array([0, 0, 0, 0.0, 0.0, 0.3, 0])
    after = sim.step(action).ee_state
    expected = Rotation.from_euler("xyz", action[3:6]) * Rotation.from_euler("xyz", before[3:6])
    assert rotation_angle_deg(after[3:6], expected.as_euler("xyz")) <= 2.0
    assert np.linalg.norm(after[:3] - before[:3]) <= 5e-3


def test_zero_actions_do_not_drift(sim):
    sim.reset(3)
    before = sim.ee_state()
    for _ in range(5):
        obs = sim.step(np.zeros(7))
    assert np.linalg.norm(obs.ee_state[:3] - before[:3]) < 1e-3


def test_gripper_closes_and_opens(sim):
    sim.reset(4)
    closed = sim.step(np.array([0, 0, 0, 0, 0, 0, 1.0]))
    assert closed.ee_state[6] == 1.0  # the closedness setpoint
    assert np.all(closed.joint_positions[7:9] < 2e-3)  # the measured fingers follow it
    half = sim.step(np.array([0, 0, 0, 0, 0, 0, -0.5]))
    assert half.ee_state[6] == 0.5
    np.testing.assert_allclose(half.joint_positions[7:9], 0.02, atol=2e-3)
    opened = sim.step(np.array([0, 0, 0, 0, 0, 0, -3.0]))
    assert opened.ee_state[6] == 0.0
    assert np.all(opened.joint_positions[7:9] > 0.038)


def _hand_around_the_cube(sim, seed):
    """Open hand at grasp height around the cube (straight-line moves of at most 5 cm)."""
    from vjepa_ac.simulation.expert import GRASP_Z

    obs = sim.reset(seed, {"start_near_cube": True})
    cube = obs.object_poses["cube"]
    for goal in ([cube[0], cube[1], cube[2] + 0.08], [cube[0], cube[1], GRASP_Z]):
        for _ in range(10):
            delta = np.asarray(goal) - obs.ee_state[:3]
            if np.linalg.norm(delta) < 0.003:
                break
            obs = sim.step(np.concatenate([delta * min(1.0, 0.05 / np.linalg.norm(delta)), np.zeros(4)]))
    return obs


def test_one_action_closes_before_lifting_and_opens_after_lowering(sim):
    """Within one action a closing gripper acts before the arm moves and an opening one after it."""
    obs = _hand_around_the_cube(sim, 1)
    rest_z = obs.object_poses["cube"][2]
    lifted = sim.step(np.array([0, 0, 0.06, 0, 0, 0, 0.75]))  # close and lift together
    assert lifted.object_poses["cube"][2] > rest_z + 0.05  # grasped first, then carried up
    lowered = sim.step(np.array([0, 0, -0.06, 0, 0, 0, -0.75]))  # lower and open together
    assert lowered.ee_state[6] == 0.0 and np.all(lowered.joint_positions[7:9] > 0.03)
    # Set down, not dropped from 6 cm: it lies flat where the hand lowered it.
    assert abs(lowered.object_poses["cube"][2] - rest_z) < 0.004
    assert np.linalg.norm(lowered.object_poses["cube"][:2] - lifted.object_poses["cube"][:2]) < 0.01


def test_start_near_cube_moves_only_the_hand(sim, twin):
    from vjepa_ac.simulation.scene_layout import NEAR_CUBE_START_HEIGHT, NEAR_CUBE_START_RADIUS, TABLE_TOP_Z

    for seed in (3, 8):
        home = twin.reset(seed)
        near = sim.reset(seed, {"start_near_cube": True})
        for name, pose in home.object_poses.items():
            np.testing.assert_allclose(near.object_poses[name], pose, atol=1e-3)  # same scene (settled)
        cube = near.object_poses["cube"]
        radius = np.linalg.norm(near.ee_state[:2] - cube[:2])
        assert NEAR_CUBE_START_RADIUS[0] - 2e-3 <= radius <= NEAR_CUBE_START_RADIUS[1] + 2e-3
        height = near.ee_state[2] - TABLE_TOP_Z
        assert NEAR_CUBE_START_HEIGHT[0] - 2e-3 <= height <= NEAR_CUBE_START_HEIGHT[1] + 2e-3
        assert rotation_angle_deg(near.ee_state[3:6], EE_START[3:6]) < 0.5 and near.ee_state[6] == 0.0


def test_per_step_limit_and_workspace_box(sim):
    sim.reset(5)
    before = sim.ee_state()
    after = sim.step(np.array([0.5, 0, 0, 0, 0, 0, 0])).ee_state
    assert np.linalg.norm(after[:3] - before[:3]) <= sim.controller.max_translation + 5e-3
    for _ in range(4):  # drive hard into the table: the TCP must stop at the box floor
        obs = sim.step(np.array([0, 0, -0.1, 0, 0, 0, 0]))
    low = np.asarray(sim.workspace_bounds.low)
    assert obs.ee_state[2] >= low[2] - 3e-3
    assert obs.ee_state[2] <= low[2] + 5e-3


@pytest.mark.parametrize("bad", [np.full(7, np.nan), np.array([0, 0, np.inf, 0, 0, 0, 0]), np.zeros(6),
                                 np.zeros((1, 7)), [0.0] * 8])
def test_bad_actions_raise(sim, bad):
    sim.reset(0)
    with pytest.raises(ValueError):
        sim.step(bad)


def test_bad_arguments_raise(sim):
    with pytest.raises(ValueError):
        make_sim("gazebo")
    with pytest.raises(ValueError):
        make_sim("mujoco", image_size=3)
    with pytest.raises(ValueError):
        sim.reset(0, options={"no_such_option": True})
    sim.reset(0)
    with pytest.raises(ValueError):
        sim.render_goal(ee_pose=np.zeros(6))
    with pytest.raises(KeyError):
        sim.render_goal(object_poses={"banana": np.array([0.5, 0, 0.02, 1, 0, 0, 0])})
    with pytest.raises(ValueError):
        sim.render_goal(object_poses={"cube": np.array([0.5, 0, 0.02, 0, 0, 0, 0])})
    with pytest.raises(ValueError):
        sim.render_goal(ee_pose=np.array([0.5, 0, np.nan, np.pi, 0, 0, 0]))
    with pytest.raises(ValueError):
        TaskOptions(camera_jitter=-0.01)


def test_step_before_reset_raises(engine):
    fresh = make_sim(engine, image_size=16)
    try:
        with pytest.raises(RuntimeError):
            fresh.step(np.zeros(7))
    finally:
        fresh.close()


def test_same_seed_same_images_different_seed_differs(sim, twin):
    actions = [np.array([0.04, -0.03, -0.05, 0, 0, 0.1, 0.5]), np.array([-0.02, 0.05, 0.03, 0, 0, 0, -0.5])]
    a = [sim.reset(11).image] + [sim.step(x).image for x in actions]
    b = [twin.reset(11).image] + [twin.step(x).image for x in actions]
    for ia, ib in zip(a, b, strict=True):
        np.testing.assert_array_equal(ia, ib)
    assert not np.array_equal(twin.reset(12).image, a[0])


def test_render_goal_leaves_episode_untouched(sim, twin):
    action = np.array([0.03, 0.02, -0.04, 0, 0, 0, 0])
    sim.reset(7)
    twin.reset(7)
    sim.step(action)
    twin.step(action)
    before = sim.observe()
    goal_pose = before.ee_state + np.array([0.08, -0.1, 0.05, 0, 0, 0, 0.5])
    cube = before.object_poses["cube"].copy()
    cube[:3] += [0.0, 0.1, 0.0]
    goal = sim.render_goal(ee_pose=goal_pose, object_poses={"cube": cube})
    assert goal.shape == (S, S, 3) and goal.dtype == np.uint8
    assert np.abs(goal.astype(int) - before.image.astype(int)).mean() > 1.0  # the goal view differs
    after = sim.observe()
    np.testing.assert_array_equal(after.image, before.image)
    np.testing.assert_array_equal(after.joint_positions, before.joint_positions)
    np.testing.assert_array_equal(after.ee_state, before.ee_state)
    assert after.sim_time == before.sim_time
    for name, pose in before.object_poses.items():
        np.testing.assert_array_equal(after.object_poses[name], pose)
    # The future of the episode is the same as that of a twin that never rendered a goal.
    np.testing.assert_array_equal(sim.step(action).image, twin.step(action).image)


def test_render_goal_at_a_reached_pose_matches_reality(sim):
    sim.reset(8)
    start = sim.ee_state()
    delta = np.array([0.05, 0.05, -0.08])
    predicted = sim.render_goal(ee_pose=np.concatenate([start[:3] + delta, start[3:]]))
    reached = sim.step(np.concatenate([delta, np.zeros(4)])).image
    diff = np.abs(predicted.astype(int) - reached.astype(int))
    assert diff.mean() < 2.0, diff.mean()


def test_camera_model_projects_the_cube_onto_red_pixels(engine):
    s = make_sim(engine, image_size=128, shadows=False)
    try:
        obs = s.reset(3)
        fx, fy, cx, cy = s.camera_intrinsics()
        position, quat_wxyz = s.camera_pose()
        R = Rotation.from_quat(np.roll(quat_wxyz, -1)).as_matrix()  # optical frame -> base frame
        p = R.T @ (obs.object_poses["cube"][:3] - position)
        u, v = fx * p[0] / p[2] + cx, fy * p[1] / p[2] + cy
        pixel = obs.image[int(v), int(u)].astype(int)
        assert pixel[0] > 120 and pixel[1] < 80 and pixel[2] < 80, pixel
    finally:
        s.close()


def test_randomisation_options_change_only_what_they_should(sim, twin):
    base = sim.reset(21)
    colored = twin.reset(21, TaskOptions(randomize_colors=True))
    for name in base.object_poses:
        np.testing.assert_allclose(base.object_poses[name], colored.object_poses[name], atol=1e-9)
    assert not np.array_equal(base.image, colored.image)
    fixed_a = sim.reset(1, {"randomize_objects": False}).object_poses["cube"]
    fixed_b = twin.reset(2, {"randomize_objects": False}).object_poses["cube"]
    np.testing.assert_allclose(fixed_a, fixed_b, atol=1e-9)
    no_cup = sim.reset(1, {"include_cup": False})
    assert set(no_cup.object_poses) == {"cube"}
    plain = sim.reset(22)
    position, _ = sim.camera_pose()
    lit = twin.reset(22, {"randomize_lighting": True})
    assert not np.array_equal(plain.image, lit.image)
    jittered = twin.reset(22, {"camera_jitter": 0.02})
    moved, _ = twin.camera_pose()
    assert 0 < np.abs(moved - position).max() <= 0.02
    assert not np.array_equal(plain.image, jittered.image)
    np.testing.assert_allclose(plain.object_poses["cube"], jittered.object_poses["cube"], atol=1e-9)


def test_sample_reach_goal(sim):
    sim.reset(9)
    start = sim.ee_state()
    goals = [sample_reach_goal(sim, np.random.default_rng(k)) for k in range(5)]
    again = sample_reach_goal(sim, np.random.default_rng(0))
    np.testing.assert_array_equal(goals[0], again)
    for g in goals:
        d = np.linalg.norm(g[:3] - start[:3])
        assert 0.10 <= d <= 0.25
        assert sim.workspace_bounds.contains(g[:3])
    # The goal is reachable: stepping toward it gets within a few millimetres.
    g = goals[1]
    for _ in range(4):
        state = sim.observe().ee_state
        sim.step(np.concatenate([g[:3] - state[:3], np.zeros(4)]))
    assert np.linalg.norm(sim.ee_state()[:3] - g[:3]) < 5e-3


def test_random_actions_keep_the_robot_in_bounds_and_finite(sim):
    """Planner-like and wild actions (rotations included): no NaN, TCP in the box, joints in limits."""
    rng = np.random.default_rng(0)
    sim.reset(13)
    kin = sim.kinematics
    for k in range(12):
        scale = 0.3 if k % 3 == 0 else 0.075
        action = np.concatenate([rng.uniform(-scale, scale, 3), rng.uniform(-0.6, 0.6, 3), rng.uniform(-1, 1, 1)])
        obs = sim.step(action)
        assert np.all(np.isfinite(obs.ee_state)) and np.all(np.isfinite(obs.joint_positions))
        assert sim.workspace_bounds.contains(obs.ee_state[:3], tol=5e-3)
        q = obs.joint_positions[:7]
        assert np.all(q >= kin.lower - 1e-3) and np.all(q <= kin.upper + 1e-3)
        tool_z = Rotation.from_euler("xyz", obs.ee_state[3:6]).as_matrix()[:, 2]
        assert np.degrees(np.arccos(-tool_z[2])) <= np.degrees(sim.controller.max_tilt) + 2.0
        assert 0.0 <= obs.ee_state[6] <= 1.0
        for pose in obs.object_poses.values():
            assert np.all(np.isfinite(pose)) and pose[2] > -0.01  # nothing fell through the table
