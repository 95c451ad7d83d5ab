"""V-JEPA encoder pre-training: context encoder on token subsets, EMA teacher, loss decrease, collapse logs, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.training_support import simulator_episodes, write_episodes
from vjepa_ac.cli.pretrain_encoder import main as pretrain_main
from vjepa_ac.models import EncoderConfig, VisionEncoder, initialize_weights
from vjepa_ac.training.data.clip_dataset import ClipDataset
from vjepa_ac.training.data.episodes import Episode
from vjepa_ac.training.distributed import init_distributed
from vjepa_ac.training.encoder.encoder_pretrainer import (
    EncoderPretrainer,
    PretrainConfig,
    load_pretrained_encoder,
)
from vjepa_ac.training.encoder.mask_predictor import MaskDenoisingPredictor, MaskPredictorConfig
from vjepa_ac.training.encoder.masked_encoder import encode_token_subset, video_to_clip
from vjepa_ac.training.encoder.masks import BlockMaskSpec
from vjepa_ac.training.metrics_log import read_metrics


def tiny_encoder(seed=0) -> VisionEncoder:
    encoder = VisionEncoder(EncoderConfig(image_size=64, patch_size=16, embed_dim=48, depth=2, num_heads=4,
                                          mlp_hidden_dim=96))
    return initialize_weights(encoder, generator=torch.Generator().manual_seed(seed))


def tiny_predictor(seed=1) -> MaskDenoisingPredictor:
    predictor = MaskDenoisingPredictor(MaskPredictorConfig(encoder_dim=48, embed_dim=32, depth=1, num_heads=4,
                                                           mlp_hidden_dim=64))
    return initialize_weights(predictor, generator=torch.Generator().manual_seed(seed))


def sim_clips(frames_per_clip=4):
    trajectories = [Episode(frames=f, states=s, name=str(i)) for i, (f, s) in enumerate(simulator_episodes())]
    return ClipDataset(trajectories, frames_per_clip=frames_per_clip, stride=2)


def test_context_encoder_on_token_subsets():
    encoder = tiny_encoder().eval()
    clip = video_to_clip(sim_clips()[0]["frames"][None].repeat(2, 1, 1, 1, 1), 64)
    full = encoder(clip)
    everything = torch.arange(full.shape[1]).expand(2, -1)
    torch.testing.assert_close(encode_token_subset(encoder, clip, everything), full, rtol=0, atol=1e-5)
    # A subset only sees its own tokens: pixels of dropped patches cannot change its output.
    keep = torch.tensor([[0, 3, 17, 30], [1, 2, 20, 31]])
    out = encode_token_subset(encoder, clip, keep)
    altered = clip.clone()
    altered[:, :, :, 16:32, 16:32] = 5.0  # patch (row 1, col 1) = tokens 5 and 21: never kept
    torch.testing.assert_close(encode_token_subset(encoder, altered, keep), out)
    assert not torch.allclose(encoder(altered), full)
    # ... but RoPE positions matter: the same tokens listed at other positions give other outputs.
    with pytest.raises(ValueError, match="keep_index"):
        encode_token_subset(encoder, clip, keep[0])


def test_pretraining_lowers_loss_keeps_teacher_gradient_free_and_logs_collapse(tmp_path):
    dataset = sim_clips()
    config = PretrainConfig(steps=24, batch_size=8, lr=2e-3, start_lr=2e-4, warmup_steps=3, collapse_every=5,
                            mask_specs=[BlockMaskSpec(2, (0.25, 0.25)), BlockMaskSpec(1, (0.5, 0.5))],
                            ema_start=0.99, ema_end=1.0)
    trainer = EncoderPretrainer(tiny_encoder(), tiny_predictor(), dataset, config, tmp_path, init_distributed("cpu"),
                                progress=False)
    batch = torch.utils.data.default_collate([dataset[i] for i in range(8)])
    # One step by hand: the target gets no gradient, then follows the student by EMA.
    target_before = {k: v.clone() for k, v in trainer.target.state_dict().items()}
    trainer.train_step(batch)
    assert all(p.grad is None and not p.requires_grad for p in trainer.target.parameters())
    assert all(p.grad is not None for p in trainer.encoder.parameters())
    for name, p in trainer.encoder.named_parameters():
        expected = 0.99 * target_before[name] + 0.01 * p.detach()
        torch.testing.assert_close(trainer.target.state_dict()[name], expected)
    history = trainer.fit()
    first = sum(m["loss"] for m in history[:4]) / 4
    last = sum(m["loss"] for m in history[-4:]) / 4
    assert last < 0.95 * first, (first, last)
    rows = read_metrics(tmp_path / "metrics.csv")
    collapse_rows = [r for r in rows if "effective_rank" in r]
    assert [r["step"] for r in collapse_rows] == [5, 10, 15, 20, 24]
    for r in collapse_rows:
        assert 1.0 < r["effective_rank"] <= 48.0 and r["embed_std_mean"] > 0.05
    assert all(0.0 < r["mask_ratio"] < 1.0 for r in rows)
    encoder = load_pretrained_encoder(tmp_path / "checkpoints" / "step_00000024")
    for k, v in trainer.target.state_dict().items():
        assert torch.equal(encoder.state_dict()[k], v)


def test_pretraining_cli_resumes_exactly(tmp_path):
    data = write_episodes(tmp_path / "episodes", simulator_episodes())
    args = ["--data", str(data), "--encoder-preset", "vit_micro", "--steps", "6", "--batch-size", "4",
            "--predictor-width", "32", "--predictor-depth", "1", "--collapse-every", "2", "--stride", "2",
            "--no-progress"]
    pretrain_main([*args, "--out", str(tmp_path / "full")])
    pretrain_main([*args, "--out", str(tmp_path / "split"), "--stop-at", "4"])
    pretrain_main([*args, "--out", str(tmp_path / "split"), "--resume"])
    full = read_metrics(tmp_path / "full" / "metrics.csv")
    split = read_metrics(tmp_path / "split" / "metrics.csv")
    assert [r["step"] for r in split] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(full, split, strict=True):
        for column in ("loss", "lr", "ema_momentum", "mask_ratio", "grad_norm"):
            assert a[column] == b[column], (a["step"], column)
        assert a.get("effective_rank") == b.get("effective_rank")


def test_video_preprocessing_matches_world_model_stills():
    from vjepa_ac.models.image_preprocessing import images_to_clips

    video = torch.randint(0, 256, (2, 4, 48, 80, 3), dtype=torch.uint8)  # non-square: centre-cropped
    clip = video_to_clip(video, 32)
    assert clip.shape == (2, 3, 4, 32, 32)
    for t in range(4):
        torch.testing.assert_close(clip[:, :, t], images_to_clips(video[:, t], 32)[:, :, 0])
    with pytest.raises(ValueError, match="uint8"):
        video_to_clip(video.float(), 32)


def _gripper_marked_clips(seed: int = 0) -> ClipDataset:
    """Noise videos where a bright square (the 'fingers') shows exactly when the gripper is closed."""
    rng = np.random.default_rng(seed)
    trajectories = []
    for i in range(6):
        closed = (rng.uniform(size=12) < 0.5).astype(np.float32)
        frames = rng.integers(0, 120, size=(12, 64, 64, 3), dtype=np.uint8)
        frames[closed > 0, 8:24, 40:56] = 250
        states = np.zeros((12, 7), dtype=np.float32)
        states[:, 6] = closed
        trajectories.append(Episode(frames=frames, states=states, name=str(i)))
    return ClipDataset(trajectories, frames_per_clip=4, stride=1)


def test_predictor_training_can_freeze_either_encoder_of_a_pretraining_checkpoint(tmp_path):
    """V-JEPA keeps the EMA target; --encoder-branch context_encoder freezes the student instead."""
    from vjepa_ac.models import save_encoder
    from vjepa_ac.training.encoder.encoder_pretrainer import save_pretraining_weights
    from vjepa_ac.training.predictor.model_setup import build_world_model

    student, target = tiny_encoder(seed=0), tiny_encoder(seed=5)
    checkpoint = save_pretraining_weights(tmp_path / "ckpt", student, target, tiny_predictor(), {"step": 1})
    for branch, expected in (("target_encoder", target), ("context_encoder", student)):
        model, source = build_world_model(None, str(checkpoint), None, "ac_tiny", 0, branch)
        assert source["encoder_branch"] == branch
        for name, value in expected.state_dict().items():
            assert torch.equal(model.encoder.state_dict()[name], value), (branch, name)
    plain = save_encoder(target, tmp_path / "plain_encoder")
    with pytest.raises(ValueError, match="needs a pre-training checkpoint"):
        build_world_model(None, str(plain), None, "ac_tiny", 0, "context_encoder")
