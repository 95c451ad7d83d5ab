"""Data collection: seed policy, exploration stays in the workspace, episodes land on disk in the documented layout."""

from __future__ import annotations

import numpy as np
import pytest

from vjepa_ac.cli.collect import main as collect_main
from vjepa_ac.simulation import make_sim
from vjepa_ac.training.data.collect import check_training_seeds, record_episode
from vjepa_ac.training.data.episodes import list_episode_files, load_episode
from vjepa_ac.training.data.exploration import ExplorationConfig, SmoothRandomExplorer


def test_training_seeds_must_stay_below_evaluation_range(capsys):
    assert list(check_training_seeds(99_998, 2)) == [99_998, 99_999]
    with pytest.raises(ValueError, match="< 100000"):
        check_training_seeds(99_999, 2)
    with pytest.raises(ValueError, match=">= 0"):
        check_training_seeds(-1, 1)
    assert collect_main(["--episodes", "1", "--seed", "100000", "--out", "/nonexistent/never"]) == 2
    assert "evaluation uses seeds >= 100000" in capsys.readouterr().err


def test_explorer_is_smooth_bounded_and_toggles_gripper():
    low, high = np.array([0.25, -0.35, 0.012]), np.array([0.75, 0.35, 0.55])
    config = ExplorationConfig(max_step=0.05, toggle_probability=0.2)
    explorer = SmoothRandomExplorer(low, high, np.random.default_rng(0), config)
    state = np.array([0.5, 0.0, 0.3, np.pi, 0.0, 0.0, 0.0])
    actions = []
    for _ in range(500):
        action = explorer.act(state)
        actions.append(action)
        state = state + action  # an ideal tracker
        state[6] = np.clip(state[6], 0, 1)
        assert np.all(state[:3] >= low + config.margin - 1e-12) and np.all(state[:3] <= high - config.margin + 1e-12)
    actions = np.array(actions)
    assert np.linalg.norm(actions[:, :3], axis=1).max() <= config.max_step + 1e-12
    toggles = np.count_nonzero(actions[:, 6])
    assert 60 < toggles < 140  # ~20% of 500
    assert set(np.unique(np.abs(actions[:, 6]))) <= {0.0, 1.0}
    # Smooth: consecutive translation deltas are positively correlated (white noise would give ~0).
    d = actions[:, :3]
    corr = np.mean([np.corrcoef(d[:-1, i], d[1:, i])[0, 1] for i in range(3)])
    assert corr > 0.3


def test_collect_cli_writes_episodes(tmp_path):
    out = tmp_path / "episodes"
    assert collect_main(["--episodes", "2", "--seed", "40", "--out", str(out), "--kind", "explore",
                         "--max-steps", "6", "--image-size", "48", "--no-progress"]) == 0
    files = list_episode_files(out)
    assert [f.name for f in files] == ["episode_00040.npz", "episode_00041.npz"]
    for seed, f in zip((40, 41), files, strict=True):
        ep = load_episode(f)
        assert ep.frames.shape == (7, 48, 48, 3) and ep.states.shape == (7, 7)
        assert ep.seed == seed and ep.engine == "mujoco"
        assert np.linalg.norm(np.diff(ep.states[:, :3], axis=0), axis=1).max() > 0.005  # the arm moved
        assert ep.frames[0].std() > 5  # a rendered scene, not a blank image
    # Existing episodes are kept unless --overwrite.
    before = files[0].stat().st_mtime_ns
    assert collect_main(["--episodes", "1", "--seed", "40", "--out", str(out), "--no-progress"]) == 0
    assert files[0].stat().st_mtime_ns == before


def test_grasp_play_closes_opens_and_lifts_at_the_cube():
    """grasp_play exists to show the predictor gripper changes at the cube: they must happen there, with
    planner-sized steps, and some of them must really pick the cube up."""
    sim = make_sim("mujoco", image_size=32)
    lifted, closes, opens = 0, 0, 0
    try:
        for seed in range(90000, 90008):
            frames, states, record = record_episode(sim, seed, "grasp_play", 16, ExplorationConfig(),
                                                    start_near_cube=True)
            assert frames.shape == (17, 32, 32, 3) and record["kind"] == "grasp_play"
            moves = np.diff(states, axis=0)
            assert np.abs(moves[:, :3]).sum(axis=1).max() <= 0.075 + 2e-3  # within the planner's L1 step
            closes += int((moves[:, 6] > 0.2).sum())
            opens += int((moves[:, 6] < -0.2).sum())
            cube_z = record["cube_positions"][:, 2]
            assert record["cube_positions"].shape == (17, 3)
            lifted += cube_z.max() > cube_z[0] + 0.03
    finally:
        sim.close()
    assert closes >= 8 and opens >= 4, (closes, opens)
    assert lifted >= 2, lifted


def test_recipe_plan_covers_both_engines_and_the_protocol_v2_starts():
    from vjepa_ac.training.recipe import CollectStage

    stage = CollectStage()
    plan = stage.plan()
    seeds = [p.seed for p in plan]
    assert len(set(seeds)) == len(plan) == 2 * 950 and max(seeds) < 100_000  # each engine on its own seeds
    for engine in ("mujoco", "pybullet"):
        mine = [p for p in plan if p.engine == engine]
        kinds = [p.kind for p in mine]
        assert kinds.count("explore") == 400 and kinds.count("mixed") == 250 and kinds.count("grasp_play") == 300
        moving = [p for p in mine if p.kind != "grasp_play"]
        away = sum(p.start_away_from_cube for p in moving)
        near = sum(p.start_near_cube for p in moving)
        assert (away, near) == (216, 218) and not any(p.start_near_cube and p.start_away_from_cube for p in plan)
    # The first model's plan is what it was: MuJoCo only, home or near-cube starts by the old rule.
    first = CollectStage.first_model().plan()
    assert {p.engine for p in first} == {"mujoco"} and not any(p.start_away_from_cube for p in first)
    explore = [p for p in first if p.kind == "explore"]
    mixed = [p for p in first if p.kind == "mixed"]
    assert [p.start_near_cube for p in explore] == [i % 2 == 1 for i in range(400)]
    assert [p.start_near_cube for p in mixed] == [i % 5 < 3 for i in range(250)]
    assert [p.close_while_lifting for p in mixed] == [i % 2 == 0 for i in range(250)]
    assert [p.seed for p in first] == list(range(950))


def test_an_episode_starts_either_near_the_cube_or_away_from_it():
    sim = make_sim("mujoco", image_size=32)
    try:
        with pytest.raises(ValueError, match="either near the cube or away"):
            record_episode(sim, 5, "explore", 1, ExplorationConfig(), start_near_cube=True, start_away_from_cube=True)
        _, states, record = record_episode(sim, 5, "explore", 1, ExplorationConfig(), start_away_from_cube=True)
        cube = record["cube_positions"][0]
        assert record["start_away_from_cube"] and 0.12 <= np.linalg.norm(states[0, :2] - cube[:2]) <= 0.25
    finally:
        sim.close()


@pytest.mark.parametrize("name", ["v2", "first"])
def test_each_recipe_is_the_one_its_model_records(name):
    """`--recipe first` is the shipped model's recipe; `--recipe v2` (default) model v2's, whose config.json is
    kept in tests/data (the model itself is at commit 0d7ac9b, docs/embedded_model.md)."""
    import json
    from pathlib import Path

    from vjepa_ac.cli.train_embedded import build_parser, recipe_from_args
    from vjepa_ac.models.checkpoints import EMBEDDED_MODEL_DIR

    path = EMBEDDED_MODEL_DIR / "config.json" if name == "first" else Path(__file__).parent / "data" / "model_v2_config.json"
    recorded = json.loads(path.read_text())["metadata"]
    recipe = recipe_from_args(build_parser().parse_args([] if name == "v2" else ["--recipe", "first"]))
    assert recipe.pretrain.flags() == recorded["pretrain_args"]
    flags, args = recipe.predictor.flags(), recorded["predictor_args"]
    assert flags[::2] == args[::2] and [float(v) for v in flags[1::2]] == [float(v) for v in args[1::2]]
    plan = recipe.collect.plan()
    assert len(plan) == recorded["data"]["episodes"] and sum(p.start_near_cube for p in plan) == recorded["data"]["near_cube_starts"]
    assert sum(p.close_while_lifting for p in plan) == recorded["data"]["close_while_lifting"]
    assert recorded.get("camera", "default") == recipe.collect.camera
    if name == "v2":
        assert recipe.collect.engines == ("mujoco", "pybullet") and recorded["data"]["engines"] == ["mujoco", "pybullet"]
        assert recorded["data"]["default_look_episodes"] == sum(p.appearance == "default" for p in plan)
    else:
        assert all(p.appearance is None for p in plan)  # the first model saw only the default look


def test_v2_plan_keeps_a_quarter_of_each_kind_in_the_default_look(tmp_path):
    """Evaluations render the default look (black MuJoCo sky, white PyBullet sky), which no "train" draw
    produces; every 4th episode of each kind and engine is recorded in it, and the collector honours it."""
    from vjepa_ac.training.data.collect import EpisodeSpec, collect_episodes
    from vjepa_ac.training.data.episodes import list_episode_files, load_episode
    from vjepa_ac.training.data.exploration import ExplorationConfig
    from vjepa_ac.training.recipe import CollectStage

    plan = CollectStage().plan()
    for engine in ("mujoco", "pybullet"):
        for kind in ("explore", "mixed", "grasp_play"):
            looks = [p.appearance for p in plan if p.engine == engine and p.kind == kind]
            assert looks.count("default") == len(looks) // 4 and set(looks) == {None, "default"}
    spec = EpisodeSpec(12, "explore", 1, appearance="default")
    collect_episodes(tmp_path, "mujoco", 48, [spec], ExplorationConfig(), progress=False, appearance="train")
    frame = load_episode(list_episode_files(tmp_path)[0]).frames[0]
    sim = make_sim("mujoco", image_size=48)
    try:
        np.testing.assert_array_equal(frame, sim.reset(12).image)
        assert np.abs(frame.astype(int) - sim.reset(12, {"appearance": "train"}).image.astype(int)).mean() > 5
    finally:
        sim.close()
