"""`vjepa-ac-train-embedded` end to end at toy size: collect -> pretrain -> predictor -> readout -> package."""

import json
from pathlib import Path

import torch

from vjepa_ac.cli import train_embedded
from vjepa_ac.models import load_world_model
from vjepa_ac.models.presets import encoder_preset, predictor_preset
from vjepa_ac.training.data.episodes import load_cube_positions, load_episode
from vjepa_ac.training.recipe import Recipe


def test_one_command_reproduces_a_loadable_embedded_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative --work, as the command's default is
    work, destination = Path("work"), tmp_path / "model"
    argv = ["--work", str(work), "--destination", str(destination), "--explore-episodes", "2",
            "--mixed-episodes", "1", "--grasp-play-episodes", "1",
            "--pretrain-steps", "3", "--ema-momentum", "0.99", "0.995",
            "--predictor-steps", "3", "--readout-epochs", "1"]
    assert train_embedded.main(argv) == 0

    collection = json.loads((work / "episodes" / "collection_summary.json").read_text())
    # The recipe's plan per engine (2 explore, 1 demonstration, 1 grasp play), MuJoCo then PyBullet.
    assert collection["episodes"] == 8 and max(collection["seeds"]) < 100_000
    assert collection["grasp_play_episodes"] == 1 and collection["engines"] == ["mujoco", "pybullet"]
    files = sorted((work / "episodes").glob("episode_*.npz"))
    assert len(files) == 8
    assert all(load_cube_positions(f).shape == (len(load_episode(f)), 3) for f in files)
    assert [load_episode(f).engine for f in files] == ["mujoco"] * 4 + ["pybullet"] * 4

    model = load_world_model(destination)
    assert model.metadata["data"] == collection and collection["new_frames"] == sum(len(load_episode(f)) for f in files)
    # Resumed, every stage is skipped and the record of the data is kept (it once became 0 frames in 3 s).
    assert train_embedded.main(argv) == 0
    assert json.loads((work / "episodes" / "collection_summary.json").read_text()) == collection
    # Nothing shipped names a path on the machine that trained it.
    shipped = (destination / "config.json").read_text()
    assert str(tmp_path) not in shipped and '"/' not in shipped
    assert model.metadata["source_checkpoint"].startswith("predictor/")
    # The gripper readout is trained on the same episodes and ships next to the model.
    from vjepa_ac.models.gripper_readout import load_gripper_readout

    readout = load_gripper_readout(destination, required=True)
    assert readout.image_size == Recipe().camera_size and readout.metadata["epochs"] == 1
    assert model.metadata["gripper_readout"] == "gripper_readout.safetensors"
    scores = json.loads((work / "readout" / "scores.json").read_text())
    assert scores["train"]["frames"] > 0
    assert model.encoder.config == encoder_preset(Recipe().encoder_preset)
    expected = predictor_preset(Recipe().predictor_preset)
    assert model.predictor.config.state_euler_center == expected.state_euler_center
    assert model.metadata["data"]["episodes"] == 8
    assert model.metadata["camera"] == "droid"  # the evaluation renders what the model was trained on
    # The model records the arguments its encoder was really trained with, overrides included.
    recorded = model.metadata["pretrain_args"]
    assert recorded[recorded.index("--steps") + 1] == "3"
    assert recorded[recorded.index("--ema-start") + 1] == "0.99" and recorded[recorded.index("--ema-end") + 1] == "0.995"
    predictor_recorded = model.metadata["predictor_args"]
    assert predictor_recorded[predictor_recorded.index("--steps") + 1] == "3"
    from vjepa_ac.training.metrics_log import read_metrics

    encoder_metrics = read_metrics(work / "encoder" / "metrics.csv")
    assert 0.99 <= encoder_metrics[-1]["ema_momentum"] <= 0.995  # the override reached the trainer

    image = torch.randint(0, 255, (96, 96, 3), dtype=torch.uint8).numpy()
    tokens = model.encode(image)
    assert tokens.shape == (1, model.tokens_per_frame, model.embed_dim)
    state = torch.tensor([[0.45, 0.0, 0.3, 3.14, 0.0, 0.0, 0.0]])
    predicted = model.rollout(tokens, state, torch.zeros(4, 1, 7))
    assert predicted.shape == (4, model.tokens_per_frame, model.embed_dim)
    assert torch.isfinite(predicted).all()

    # Finished stages are skipped: a second run leaves the trained checkpoints as they are.
    latest = (work / "predictor" / "latest").read_text()
    weights_before = (work / "predictor" / "latest").stat().st_mtime_ns
    assert train_embedded.main(argv + ["--stages", "collect,pretrain,predictor"]) == 0
    assert (work / "predictor" / "latest").read_text() == latest
    assert (work / "predictor" / "latest").stat().st_mtime_ns == weights_before
