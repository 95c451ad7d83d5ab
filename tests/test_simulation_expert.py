"""Scripted pick-and-place expert: it really moves the cube onto the marker (both engines), its sub-goals
render, and the CLI writes the episode files the training code reads."""

import json

import numpy as np
import pytest

from vjepa_ac.simulation import ScriptedPickPlaceExpert, make_sim
from vjepa_ac.simulation.expert import cube_placed, run_expert_episode
from vjepa_ac.simulation.expert_cli import main as expert_main
from vjepa_ac.simulation.scene_layout import CUBE_HALF

S = 32


@pytest.fixture(scope="module", params=["mujoco", "pybullet"])
def sim(request):
    s = make_sim(request.param, image_size=S)
    yield s
    s.close()


@pytest.mark.parametrize("seed, start_near_cube, close_while_lifting",
                         [(0, False, False), (1, False, True), (2, True, False), (3, True, True)])
def test_expert_grasps_lifts_and_places_the_cube(sim, seed, start_near_cube, close_while_lifting):
    expert = ScriptedPickPlaceExpert(close_while_lifting=close_while_lifting)
    obs = sim.reset(seed, {"start_near_cube": start_near_cube})
    expert.reset(sim, obs)
    cube_start = obs.object_poses["cube"].copy()
    target = sim.place_target()
    assert not cube_placed(cube_start, target)  # the task is not solved from the start
    max_height, max_height_while_carrying = 0.0, 0.0
    steps = 0
    while not expert.done and steps < 40:
        obs = sim.step(expert.act(obs))
        steps += 1
        cube = obs.object_poses["cube"]
        max_height = max(max_height, cube[2])
        if expert.phase in ("carry", "lower"):
            # Held: the cube travels with the tool centre point.
            assert np.linalg.norm(cube[:3] - obs.ee_state[:3]) < 0.02
            max_height_while_carrying = max(max_height_while_carrying, cube[2])
    assert expert.done, f"expert stuck in phase {expert.phase}"
    cube_end = obs.object_poses["cube"]
    assert max_height > CUBE_HALF + 0.10  # it was lifted, not pushed
    assert max_height_while_carrying > CUBE_HALF + 0.10
    assert np.linalg.norm(cube_end[:2] - target[:2]) < 0.025
    assert np.linalg.norm(cube_end[:2] - cube_start[:2]) > 0.14
    assert abs(cube_end[2] - CUBE_HALF) < 0.006
    assert cube_placed(cube_end, target)


def test_expert_regrasps_a_dropped_cube(sim):
    """Open the gripper mid-carry: the cube falls, the closed-loop expert picks it up again and places it."""
    expert = ScriptedPickPlaceExpert()
    obs = sim.reset(0)
    expert.reset(sim, obs)
    dropped, steps = False, 0
    while not expert.done and steps < 50:
        if expert.phase == "carry" and not dropped:
            action, dropped = np.array([0, 0, 0, 0, 0, 0, -1.0]), True
        else:
            action = expert.act(obs)
        obs = sim.step(action)
        steps += 1
    assert dropped and expert.regrasps == 1
    assert expert.done and steps < 45
    assert cube_placed(obs.object_poses["cube"], sim.place_target())


def test_subgoal_images_show_three_different_scenes(sim):
    expert = ScriptedPickPlaceExpert()
    obs = sim.reset(3)
    expert.reset(sim, obs)
    goals = expert.subgoal_poses()
    assert len(goals) == 3
    images = expert.subgoal_images(sim)
    for img in images:
        assert img.shape == (S, S, 3) and img.dtype == np.uint8
    for a in range(3):
        for b in range(a + 1, 3):
            assert np.abs(images[a].astype(int) - images[b].astype(int)).mean() > 0.5
    np.testing.assert_array_equal(sim.observe().image, obs.image)  # rendering goals changed nothing


def test_first_subgoal_matches_the_executed_grasp_pose(sim):
    """The first goal image (the open hand around the cube) is what the camera sees just before the expert
    closes, and it shows open fingers: an image of the closed hand there is further from that frame."""
    expert = ScriptedPickPlaceExpert()
    obs = sim.reset(4)
    expert.reset(sim, obs)
    first = expert.subgoal_poses()[0]
    goal_image = sim.render_goal(**first)
    closed_image = sim.render_goal(ee_pose=np.concatenate([first["ee_pose"][:6], [1.0]]))
    while True:
        action = expert.act(obs)
        if expert.phase == "close":  # this action would close the hand: stop one step short of it
            break
        obs = sim.step(action)
    assert obs.ee_state[6] == 0.0 and obs.object_poses["cube"][2] < 0.03  # open, around the cube on the table
    diff = np.abs(goal_image.astype(int) - obs.image.astype(int)).mean()
    assert diff < 3.0, diff
    assert diff < np.abs(closed_image.astype(int) - obs.image.astype(int)).mean()


def test_episode_record_shapes(sim):
    episode = run_expert_episode(sim, 5)
    T = len(episode.frames)
    assert episode.frames.shape == (T, S, S, 3) and episode.frames.dtype == np.uint8
    assert episode.states.shape == (T, 7) and episode.states.dtype == np.float32
    assert episode.actions.shape == (T - 1, 7)
    assert 10 < T <= 41
    assert episode.success
    # Gripper entries: open at the start, closed while carrying, open at the end.
    assert episode.states[0, 6] == 0 and episode.states[:, 6].max() == 1 and episode.states[-1, 6] == 0


def test_cli_writes_summary_and_episodes(tmp_path, capsys):
    out = tmp_path / "episodes"
    summary_path = tmp_path / "summary.json"
    rc = expert_main(["--engine", "mujoco", "--episodes", "2", "--seed", "7", "--json", str(summary_path),
                      "--out", str(out), "--image-size", "24"])
    assert rc == 0
    summary = json.loads(summary_path.read_text())
    assert summary["episodes"] == 2
    assert summary["successes"] == sum(r["success"] for r in summary["records"])
    assert summary["success_rate"] == summary["successes"] / 2
    assert [r["seed"] for r in summary["records"]] == [7, 8]
    for seed in (7, 8):
        with np.load(out / f"episode_{seed}.npz") as data:
            assert data["frames"].dtype == np.uint8 and data["frames"].shape[1:] == (24, 24, 3)
            assert data["states"].dtype == np.float32 and data["states"].shape == (len(data["frames"]), 7)
            assert int(data["seed"]) == seed and str(data["engine"]) == "mujoco"
    assert "success rate" in capsys.readouterr().out


def test_cli_rejects_bad_arguments(tmp_path):
    with pytest.raises(SystemExit):
        expert_main(["--engine", "gazebo", "--json", str(tmp_path / "x.json")])
    with pytest.raises(SystemExit):
        expert_main(["--episodes", "0", "--json", str(tmp_path / "x.json")])


@pytest.mark.regression
@pytest.mark.parametrize("engine,required", [("mujoco", 0.95), ("pybullet", 0.90)])
def test_expert_success_rate_over_50_seeds(engine, required):
    with make_sim(engine, image_size=32) as s:
        successes = sum(run_expert_episode(s, seed).success for seed in range(50))
    assert successes / 50 >= required, successes
