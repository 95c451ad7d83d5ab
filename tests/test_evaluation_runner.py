"""`run_episode`, `vjepa-ac-eval --json/--out` (every policy) and the summary report, end to end with a real
(tiny) model.

Plumbing tests only: the world model is the "micro" preset with explicit random initialisation, so success
rates mean nothing here; what is checked is that episodes run the documented number of actions through
the sub-goal schedule, that the JSON, GIFs and Markdown carry what the docs promise (protocol, policy, seed
range, provenance), and that runs of different provenance are not merged silently.
"""

import hashlib
import json
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

from vjepa_ac.evaluation import make_task, run_episode
from vjepa_ac.evaluation.cli import main as eval_main
from vjepa_ac.evaluation.summary_report import main as summary_main
from vjepa_ac.evaluation.summary_report import merge_summaries
from vjepa_ac.models import (
    ActionConditionedPredictor,
    VisionEncoder,
    WorldModel,
    encoder_preset,
    initialize_weights,
    predictor_preset,
    save_world_model,
)
from vjepa_ac.planning import CEMConfig, CEMPlanner, GoalImageController
from vjepa_ac.simulation import make_sim

S = 32
TINY_CEM = ["--samples", "16", "--iters", "2", "--top-k", "4", "--camera-size", str(S)]
SUMMARY_KEYS = {"task", "engine", "episodes", "successes", "success_rate", "mean_final_distance_m",
                "seconds_per_action", "settings", "provenance", "records"}


def random_micro_model() -> WorldModel:
    """Untrained "micro" world model (explicit seeded random init): exercises the plumbing, not planning."""
    generator = torch.Generator().manual_seed(0)
    encoder = initialize_weights(VisionEncoder(encoder_preset("vit_micro")), generator=generator)
    predictor = initialize_weights(ActionConditionedPredictor(predictor_preset("ac_micro")), generator=generator)
    return WorldModel(encoder, predictor)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_world_model(random_micro_model(), tmp_path_factory.mktemp("model") / "micro")


@pytest.fixture(scope="module")
def readout_file(tmp_path_factory):
    """An untrained gripper readout (seeded default init) whose head is biased to answer "closed"."""
    from vjepa_ac.models.gripper_readout import GripperReadout, save_gripper_readout

    torch.manual_seed(0)
    readout = GripperReadout(S)
    with torch.no_grad():
        readout.head.weight.zero_()
        readout.head.bias.fill_(5.0)
    return save_gripper_readout(readout, tmp_path_factory.mktemp("readout") / "closed.safetensors")


@pytest.fixture(scope="module")
def eval_runs(checkpoint, readout_file, tmp_path_factory):
    """Two real CLI runs: reach (2 episodes x 3 actions, GIF for the first, image energy alone) and
    pick-and-place (1,1,1,1, GIF, with a gripper readout that always answers "closed")."""
    root = tmp_path_factory.mktemp("eval")
    reach_json, pnp_json = root / "reach.json", root / "pnp.json"
    assert eval_main(["--task", "reach", "--episodes", "2", "--budgets", "3", "--checkpoint", str(checkpoint),
                      "--json", str(reach_json), "--out", str(root), "--gifs", "1", "--gripper-goal-weight", "0",
                      *TINY_CEM]) == 0
    assert eval_main(["--task", "pick-and-place", "--episodes", "1", "--seed", "100002", "--budgets", "1,1,1,1",
                      "--checkpoint", str(checkpoint), "--json", str(pnp_json), "--out", str(root),
                      "--gripper-readout", str(readout_file), "--gripper-goal-weight", "1.0", *TINY_CEM]) == 0
    return root, reach_json, pnp_json


def test_run_episode_follows_the_subgoal_schedule(checkpoint):
    from vjepa_ac.models import load_world_model

    world_model = load_world_model(checkpoint)
    config = CEMConfig(samples=16, iterations=2, top_k=4, anchor_to_observation=False)
    controller = GoalImageController(world_model, CEMPlanner(world_model, config))
    task = make_task("pick-and-place", budgets=[1, 1, 2, 1])
    with make_sim("mujoco", image_size=S) as sim:
        record = run_episode(sim, controller, task, 100000, record_frames=True)
        assert record.actions_executed == 5
        assert record.subgoal_index == [0, 1, 2, 2, 3]
        assert len(record.energies) == len(record.plan_seconds) == len(record.distances_m) == 5
        assert all(np.isfinite(record.energies)) and min(record.plan_seconds) > 0
        assert len(record.frames) == 6 and len(record.goal_images) == 4
        # The executed actions are the planner's, inside its action space, and they moved the arm.
        actions = np.array(record.actions)
        assert np.all(np.abs(actions[:, :3]).sum(axis=1) <= 0.075 + 1e-6)
        assert not np.array_equal(record.frames[0], record.frames[-1])
        # Distances and the verdict are the task's, from the simulator's final state.
        assert record.distances_m[-1] == pytest.approx(record.final_distance_m)
        assert set(record.details) == {"cube_placed", "released", "cube_xy_error_m", "cube_z_m"}
        data = json.loads(json.dumps(record.to_json()))
        assert "frames" not in data and data["seed"] == 100000 and data["task"] == "pick-and-place"


def test_cli_json_and_gif(eval_runs, checkpoint):
    root, reach_json, _ = eval_runs
    summary = json.loads(reach_json.read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["task"] == "reach" and summary["engine"] == "mujoco" and summary["episodes"] == 2
    records = summary["records"]
    assert [r["seed"] for r in records] == [100000, 100001]
    assert all(r["actions_executed"] == 3 and len(r["actions"]) == 3 for r in records)
    assert summary["successes"] == sum(r["success"] for r in records)
    assert summary["success_rate"] == pytest.approx(summary["successes"] / 2)
    assert summary["mean_final_distance_m"] == pytest.approx(np.mean([r["final_distance_m"] for r in records]))
    assert summary["seconds_per_action"] > 0
    settings = summary["settings"]
    assert settings["planner"]["samples"] == 16 and settings["budgets"] == [3] and settings["budgets_overridden"]
    assert settings["planner"]["gripper_goal_weight"] == 0 and settings["gripper_readout"] is None
    assert settings["protocol"] == "v2" and settings["policy"] == "planner" and settings["seed_range"] == "development"
    # Provenance: the commit checked out, and the hash of every model file the run loaded (no readout here).
    provenance = summary["provenance"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert provenance["commit"] == head and isinstance(provenance["dirty"], bool)
    files = provenance["model_files"]
    assert files["readout"] == {} and len(files["model"]) >= 2
    for name, digest in files["model"].items():
        path = next(p for p in checkpoint.iterdir() if str(p.resolve()).endswith(name.lstrip("/")))
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert all("goal_grippers" not in r["details"] for r in records)
    gif = root / "reach_mujoco_seed100000.gif"
    assert gif.is_file() and not (root / "reach_mujoco_seed100001.gif").exists()
    with Image.open(gif) as im:
        assert im.n_frames == 4  # start + one frame per action
    assert (root / "reach_mujoco_energy_latency.png").is_file()


def test_cli_goal_gripper_from_the_readout_decides_the_gripper(eval_runs, readout_file):
    _, _, pnp_json = eval_runs
    summary = json.loads(pnp_json.read_text())
    assert summary["settings"]["planner"]["gripper_goal_weight"] == 1.0
    assert summary["settings"]["gripper_readout"] == str(readout_file)
    assert list(summary["provenance"]["model_files"]["readout"].values()) == [
        hashlib.sha256(readout_file.read_bytes()).hexdigest()]
    record = summary["records"][0]
    assert record["details"]["goal_grippers"] == [1.0, 1.0, 1.0, 1.0]
    # With a weight far above the random model's energies, every action closes the hand, as far as one may.
    assert [a[6] for a in record["actions"]][0] == pytest.approx(0.75, abs=0.05)


def test_cli_refuses_a_gripper_goal_weight_without_a_readout(checkpoint):
    with pytest.raises(SystemExit, match="has no gripper_readout.safetensors"):
        eval_main(["--checkpoint", str(checkpoint), "--episodes", "1", *TINY_CEM])


def test_cli_refuses_training_seeds_and_bad_budgets(checkpoint):
    with pytest.raises(SystemExit, match="training seeds"):
        eval_main(["--seed", "5", "--checkpoint", str(checkpoint)])
    with pytest.raises(SystemExit, match="straddle the development and test"):
        eval_main(["--seed", "149999", "--episodes", "2", "--checkpoint", str(checkpoint)])
    with pytest.raises(SystemExit, match="budgets"):
        eval_main(["--task", "pick-and-place", "--budgets", "3", "--checkpoint", str(checkpoint)])


def test_summary_report_combines_runs_and_copies_gifs(eval_runs, tmp_path, capsys):
    root, reach_json, pnp_json = eval_runs
    out = tmp_path / "summary"
    assert summary_main([str(reach_json), str(pnp_json), "--out", str(out)]) == 0
    text = (out / "summary.md").read_text()
    reach, pnp = json.loads(reach_json.read_text()), json.loads(pnp_json.read_text())
    assert f"| reach | mujoco | 2 | {100 * reach['success_rate']:.0f}% ({reach['successes']}/2) |" in text
    assert f"| pick-and-place | mujoco | 1 | {100 * pnp['success_rate']:.0f}% ({pnp['successes']}/1) |" in text
    assert "`grasp`" not in text and "`pick-and-place` (v2): start: open hand 20-35 cm" in text
    # Both GIFs the runs wrote (one per row) are copied and embedded.
    gifs = ["pick-and-place_mujoco_seed100002.gif", "reach_mujoco_seed100000.gif"]
    assert sorted(p.name for p in (out / "gifs").iterdir()) == gifs
    for name in gifs:
        assert f"](gifs/{name})" in text
        assert (out / "gifs" / name).read_bytes() == (root / name).read_bytes()
    # Chosen GIFs only, with --gif.
    chosen = tmp_path / "chosen"
    assert summary_main([str(reach_json), str(pnp_json), "--out", str(chosen), "--gif", str(root / gifs[0])]) == 0
    assert [p.name for p in (chosen / "gifs").iterdir()] == gifs[:1]
    with pytest.raises(SystemExit, match="no episode"):
        summary_main([str(reach_json), "--out", str(chosen), "--gif", str(root / gifs[0])])


def test_summary_report_merges_shards_and_rejects_repeated_seeds(eval_runs, tmp_path):
    _, reach_json, _ = eval_runs
    summary = json.loads(reach_json.read_text())
    shards = []
    for i, record in enumerate(summary["records"]):
        shard = dict(summary, records=[record], episodes=1, successes=int(record["success"]),
                     success_rate=float(record["success"]), settings=dict(summary["settings"],
                                                                          first_seed=record["seed"]))
        path = tmp_path / f"shard{i}.json"
        path.write_text(json.dumps(shard))
        shards.append(path)
    from vjepa_ac.evaluation.summary_report import load_summary

    merged = merge_summaries([load_summary(p) for p in shards])
    assert len(merged) == 1
    assert merged[0]["episodes"] == 2 and merged[0]["successes"] == summary["successes"]
    assert merged[0]["mean_final_distance_m"] == pytest.approx(summary["mean_final_distance_m"])
    assert merged[0]["seconds_per_action"] == pytest.approx(summary["seconds_per_action"])
    with pytest.raises(SystemExit, match="repeat seeds"):
        summary_main([str(reach_json), str(shards[0]), "--out", str(tmp_path / "dup")])
    with pytest.raises(SystemExit, match="not a vjepa-ac-eval"):
        (tmp_path / "bad.json").write_text("{}")
        summary_main([str(tmp_path / "bad.json"), "--out", str(tmp_path / "bad")])


@pytest.mark.parametrize("policy", ["oracle", "blind", "random"])
def test_cli_baselines_share_the_json_and_print_the_seed_range(policy, tmp_path, capsys):
    path = tmp_path / f"{policy}.json"
    assert eval_main(["--task", "grasp", "--policy", policy, "--episodes", "1", "--seed", "200000",
                      "--camera-size", str(S), "--json", str(path)]) == 0
    assert "seeds 200000-200000: other range" in capsys.readouterr().out
    summary = json.loads(path.read_text())
    assert SUMMARY_KEYS <= set(summary)
    settings = summary["settings"]
    assert settings["policy"] == policy and settings["planner"] is None and settings["checkpoint"] is None
    assert settings["seed_range"] == "other" and settings["budgets"] == [10, 4, 6]
    assert summary["provenance"]["model_files"] == {"model": {}, "readout": {}}  # no model used
    record = summary["records"][0]
    assert record["actions_executed"] == 20 and record["energies"] == [None] * 20


def _run_json(tmp_path, name, policy, extra=()):
    path = tmp_path / f"{name}.json"
    assert eval_main(["--task", "grasp", "--policy", policy, "--episodes", "1", "--budgets", "1,1,1",
                      "--camera-size", str(S), "--json", str(path), *extra]) == 0
    return path


def test_summary_report_side_by_side_and_provenance_check(eval_runs, tmp_path):
    _, reach_json, _ = eval_runs
    oracle, blind = _run_json(tmp_path, "oracle", "oracle"), _run_json(tmp_path, "blind", "blind")
    out = tmp_path / "side"
    assert summary_main([str(reach_json), str(oracle), str(blind), "--out", str(out), "--gifs-per-row", "0"]) == 0
    text = (out / "summary.md").read_text()
    header = "| protocol | task | engine | seeds | planner | planner, image energy alone | blind | random | oracle |"
    assert header in text
    # The reach run used --gripper-goal-weight 0: the image-energy column; the grasp row has no planner run.
    reach = json.loads(reach_json.read_text())
    assert (f"| v2 | reach | mujoco | development 100000–100001 | not run | {100 * reach['success_rate']:.0f}% "
            f"({reach['successes']}/2) | not run | not run | not run |") in text
    assert "| v2 | grasp | mujoco | development 100000 | not run | not run |" in text
    # Different code versions are not one table, unless asked for and then marked.
    changed = json.loads(blind.read_text())
    changed["provenance"]["core_tree"] = "0" * 64
    other = tmp_path / "other_code.json"
    other.write_text(json.dumps(changed))
    with pytest.raises(SystemExit, match="provenance differs"):
        summary_main([str(oracle), str(other), "--out", str(tmp_path / "mixed")])
    assert summary_main([str(oracle), str(other), "--out", str(tmp_path / "mixed"), "--allow-mixed-provenance"]) == 0
    assert "Mixed provenance" in (tmp_path / "mixed" / "summary.md").read_text()
    # Shards of one configuration with different provenance are not merged either.
    shard = json.loads(blind.read_text())
    for record in shard["records"]:
        record["seed"] += 1
    shard["settings"]["first_seed"] += 1
    shard["provenance"]["model_files"] = {"model": {"x": "1" * 64}, "readout": {}}
    (tmp_path / "shard.json").write_text(json.dumps(shard))
    with pytest.raises(SystemExit, match="cannot merge"):
        summary_main([str(blind), str(tmp_path / "shard.json"), "--out", str(tmp_path / "m2")])
    legacy = json.loads(blind.read_text())
    legacy.pop("provenance")
    (tmp_path / "legacy.json").write_text(json.dumps(legacy))
    with pytest.raises(SystemExit, match="no provenance recorded"):
        summary_main([str(tmp_path / "legacy.json"), "--out", str(tmp_path / "m3")])


def test_experiments_refuse_seeds_outside_the_development_range():
    from vjepa_ac.evaluation.provenance import require_development_seeds

    require_development_seeds(100000, 4)
    require_development_seeds(149996, 4)
    for first, count in ((150000, 4), (149998, 4), (99999, 2), (200000, 1)):  # test, straddling, training, other
        with pytest.raises(SystemExit, match="development seeds only"):
            require_development_seeds(first, count)
