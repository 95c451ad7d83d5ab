"""V-JEPA 2-AC post-training: learns on simulator data, resumes exactly, and 2 DDP ranks = 1 process."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.training_support import run_module, simulator_episodes, tiny_world_model, write_episodes
from vjepa_ac.cli.train_predictor import main as train_predictor_main
from vjepa_ac.models import load_world_model, save_world_model
from vjepa_ac.training.data.clip_dataset import ClipDataset
from vjepa_ac.training.data.episodes import Episode, load_episodes
from vjepa_ac.training.data.token_cache import (
    CachedClipDataset,
    TokenCache,
    build_token_cache,
    encoder_fingerprint,
)
from vjepa_ac.training.distributed import init_distributed
from vjepa_ac.training.losses import ac_losses
from vjepa_ac.training.metrics_log import read_metrics
from vjepa_ac.training.predictor.ac_trainer import ACTrainConfig, ACTrainer


@torch.no_grad()
def dataset_loss(predictor, dataset, rollout_steps=2) -> float:
    predictor.eval()
    batch = torch.utils.data.default_collate([dataset[i] for i in range(len(dataset))])
    loss = ac_losses(predictor, batch["tokens"], batch["actions"], batch["states"], rollout_steps).total.item()
    predictor.train()
    return loss


def test_tiny_run_lowers_loss_on_simulator_data(tmp_path):
    trajectories = [Episode(frames=f, states=s, name=str(i)) for i, (f, s) in enumerate(simulator_episodes())]
    world_model = tiny_world_model(seed=3)
    cache = build_token_cache(tmp_path / "cache.safetensors", trajectories, world_model.encode,
                              encoder_fingerprint(world_model.encoder), progress=False)
    dataset = CachedClipDataset(TokenCache(cache), frames_per_clip=4, stride=2)
    before = dataset_loss(world_model.predictor, dataset)
    config = ACTrainConfig(steps=40, batch_size=8, lr=2e-3, start_lr=2e-4, warmup_steps=4, weight_decay=0.01)
    trainer = ACTrainer(world_model, dataset, config, tmp_path / "run", init_distributed("cpu"), progress=False)
    encoder_before = {k: v.clone() for k, v in world_model.encoder.state_dict().items()}
    history = trainer.fit()
    after = dataset_loss(world_model.predictor, dataset)
    assert after < 0.6 * before, (before, after)
    assert trainer.evaluate(dataset, batch_size=5)["val_loss"] == pytest.approx(after, rel=1e-5)
    assert np.mean([m["loss"] for m in history[-5:]]) < np.mean([m["loss"] for m in history[:5]])
    # The encoder is frozen: not one weight moved.
    for k, v in world_model.encoder.state_dict().items():
        assert torch.equal(v, encoder_before[k]), k
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    assert [r["step"] for r in rows] == list(range(1, 41))
    assert {"rollout_l1_step1", "rollout_l1_step2", "loss_teacher_forcing", "lr"} <= set(rows[0])
    assert rows[-1]["loss"] == pytest.approx(rows[-1]["loss_teacher_forcing"] + rows[-1]["loss_rollout"], rel=1e-5)
    # The final checkpoint is a world model in our format with the trained predictor.
    reloaded = load_world_model(tmp_path / "run" / "checkpoints" / "step_00000040")
    for k, v in world_model.predictor.state_dict().items():
        assert torch.equal(reloaded.predictor.state_dict()[k].cpu(), v.cpu()), k


def test_reference_npz_trains_through_raw_frame_path(tmp_path, shared_dir):
    """franka_example_traj.npz (2 real frames) through the on-the-fly encoding path, no cache."""
    world_model = tiny_world_model(seed=5)
    trajectories = load_episodes(shared_dir / "data" / "franka_example_traj.npz", image_size=world_model.image_size)
    dataset = ClipDataset(trajectories, frames_per_clip=2)
    config = ACTrainConfig(steps=3, batch_size=1, rollout_steps=1, lr=1e-3, warmup_steps=0)
    history = ACTrainer(world_model, dataset, config, tmp_path, init_distributed("cpu"), progress=False).fit()
    assert len(history) == 3 and history[2]["loss"] < history[0]["loss"]


def test_bf16_autocast_matches_fp32_closely(tmp_path):
    """The GPU recipe's bf16 autocast, exercised on CPU: same losses to bf16 precision."""
    generator = torch.Generator().manual_seed(0)
    clips = [{"tokens": torch.randn(4, 16, 48, generator=generator), "states": torch.randn(4, 7, generator=generator)}
             for _ in range(8)]
    for clip in clips:
        clip["actions"] = clip["states"][1:] - clip["states"][:-1]
    losses = {}
    for precision in ("fp32", "bf16"):
        config = ACTrainConfig(steps=2, batch_size=4, precision=precision, warmup_steps=0)
        trainer = ACTrainer(tiny_world_model(seed=2), clips, config, tmp_path / precision, init_distributed("cpu"),
                            progress=False)
        losses[precision] = [m["loss"] for m in trainer.fit()]
    assert losses["bf16"] != losses["fp32"]  # autocast really ran in bf16 ...
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=2e-2)  # ... and changes little


@pytest.fixture(scope="module")
def cli_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ac_cli")
    save_world_model(tiny_world_model(seed=7), root / "init")
    write_episodes(root / "episodes", simulator_episodes())
    return root


def cli_args(root, out, *extra):
    return ["--init-from", str(root / "init"), "--data", str(root / "episodes"), "--token-cache",
            str(root / "cache.safetensors"), "--frames-per-clip", "4", "--stride", "2", "--steps", "6",
            "--lr", "1e-3", "--warmup-steps", "2", "--out", str(out), "--no-progress", *extra]


LOSS_COLUMNS = ("loss", "loss_teacher_forcing", "loss_rollout", "rollout_l1_step1", "rollout_l1_step2", "lr")


def test_resume_continues_exactly(cli_setup, tmp_path):
    train_predictor_main(cli_args(cli_setup, tmp_path / "full", "--batch-size", "4"))
    train_predictor_main(cli_args(cli_setup, tmp_path / "split", "--batch-size", "4", "--stop-at", "3"))
    assert len(read_metrics(tmp_path / "split" / "metrics.csv")) == 3
    train_predictor_main(cli_args(cli_setup, tmp_path / "split", "--batch-size", "4", "--resume"))
    full = read_metrics(tmp_path / "full" / "metrics.csv")
    split = read_metrics(tmp_path / "split" / "metrics.csv")
    assert [r["step"] for r in split] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(full, split, strict=True):
        for column in LOSS_COLUMNS:
            assert a[column] == b[column], (a["step"], column)
    # Steps 4-6 differ from 1-3 (other batches, other weights): matching them is not a tautology.
    assert len({r["loss"] for r in split}) == 6


def test_two_process_torchrun_matches_one_process(cli_setup, tmp_path):
    train_predictor_main(cli_args(cli_setup, tmp_path / "one", "--batch-size", "4"))
    run_module("vjepa_ac.cli.train_predictor", *cli_args(cli_setup, tmp_path / "two", "--batch-size", "2"),
               nproc=2)
    one = read_metrics(tmp_path / "one" / "metrics.csv")
    two = read_metrics(tmp_path / "two" / "metrics.csv")
    assert len(one) == len(two) == 6
    for a, b in zip(one, two, strict=True):
        for column in LOSS_COLUMNS:
            assert b[column] == pytest.approx(a[column], rel=2e-5, abs=1e-6), (a["step"], column)
    # Same global batch, so the trained predictors agree too (up to float summation order).
    w1 = load_world_model(tmp_path / "one" / "checkpoints" / "step_00000006").predictor.state_dict()
    w2 = load_world_model(tmp_path / "two" / "checkpoints" / "step_00000006").predictor.state_dict()
    for k in w1:
        torch.testing.assert_close(w1[k], w2[k], rtol=1e-4, atol=1e-5)


def test_validation_split_is_logged(cli_setup, tmp_path):
    train_predictor_main(cli_args(cli_setup, tmp_path / "val", "--batch-size", "2", "--val-fraction", "0.5",
                                  "--eval-every", "3"))
    rows = read_metrics(tmp_path / "val" / "metrics.csv")
    assert [r["step"] for r in rows if "val_loss" in r] == [3, 6]
    assert all(r["val_loss"] == pytest.approx(r["val_loss_teacher_forcing"] + r["val_loss_rollout"], rel=1e-5)
               for r in rows if "val_loss" in r)


def test_cli_rejects_bad_setups(cli_setup, tmp_path):
    with pytest.raises(ValueError, match="exactly one"):
        train_predictor_main(["--data", str(cli_setup / "episodes"), "--out", str(tmp_path), "--no-progress"])
    with pytest.raises(SystemExit):
        train_predictor_main(cli_args(cli_setup, tmp_path / "r", "--resume"))
    with pytest.raises(ValueError, match="val-fraction"):
        train_predictor_main(cli_args(cli_setup, tmp_path / "v", "--val-fraction", "1.0"))
    with pytest.raises(SystemExit, match="global batch"):  # a one-line error for the user, not a traceback
        train_predictor_main(cli_args(cli_setup, tmp_path / "big", "--batch-size", "1000"))




def test_init_from_official_checkpoint_fine_tunes_predictor_only(cli_setup, tmp_path, shared_dir):
    from vjepa_ac.training.data.sampling import ResumableDistributedSampler

    official_file = shared_dir / "fixtures" / "vjepa2" / "official_layout_tiny_a.pt"
    out = tmp_path / "finetune"
    train_predictor_main(["--init-from", str(official_file), "--data", str(cli_setup / "episodes"), "--token-cache",
                          str(tmp_path / "cache.safetensors"), "--frames-per-clip", "4", "--stride", "2",
                          "--steps", "2", "--batch-size", "4", "--lr", "1e-3", "--warmup-steps", "0",
                          "--out", str(out), "--no-progress"])
    official = load_world_model(official_file)
    tuned = load_world_model(out / "checkpoints" / "step_00000002")
    for k, v in official.encoder.state_dict().items():
        assert torch.equal(tuned.encoder.state_dict()[k], v), k
    assert any(not torch.equal(tuned.predictor.state_dict()[k], v) for k, v in official.predictor.state_dict().items())
    # Step 1's loss is the official predictor's loss on the first batch: it really started from those weights.
    dataset = CachedClipDataset(TokenCache(tmp_path / "cache.safetensors"), frames_per_clip=4, stride=2)
    first = list(ResumableDistributedSampler(dataset, batch_size=4, seed=0))[:4]
    batch = torch.utils.data.default_collate([dataset[i] for i in first])
    with torch.no_grad():
        expected = ac_losses(official.predictor, batch["tokens"], batch["actions"], batch["states"]).total.item()
    assert read_metrics(out / "metrics.csv")[0]["loss"] == pytest.approx(expected, rel=1e-5)
