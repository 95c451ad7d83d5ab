"""V-JEPA encoder pre-training: context encoder on token subsets, EMA teacher, loss decrease, collapse logs, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.training_support import simulator_episodes, write_episodes
from vjepa_ac.models import EncoderConfig, VisionEncoder, initialize_weights
from vjepa_ac.training.clip_dataset import ClipDataset
from vjepa_ac.training.distributed import init_distributed
from vjepa_ac.training.encoder_pretrainer import EncoderPretrainer, PretrainConfig, load_pretrained_encoder
from vjepa_ac.training.mask_predictor import MaskDenoisingPredictor, MaskPredictorConfig
from vjepa_ac.training.masked_encoder import encode_token_subset, video_to_clip
from vjepa_ac.training.masks import BlockMaskSpec
from vjepa_ac.training.metrics_log import read_metrics
from vjepa_ac.training.pretrain_encoder import main as pretrain_main
from vjepa_ac.training.trajectories import Trajectory


def tiny_encoder(seed=0) -> VisionEncoder:
    encoder = VisionEncoder(EncoderConfig(image_size=64, patch_size=16, embed_dim=48, depth=2, num_heads=4,
                                          mlp_hidden_dim=96))
    return initialize_weights(encoder, generator=torch.Generator().manual_seed(seed))


def tiny_predictor(seed=1) -> MaskDenoisingPredictor:
    predictor = MaskDenoisingPredictor(MaskPredictorConfig(encoder_dim=48, embed_dim=32, depth=1, num_heads=4,
                                                           mlp_hidden_dim=64))
    return initialize_weights(predictor, generator=torch.Generator().manual_seed(seed))


def sim_clips(frames_per_clip=4):
    trajectories = [Trajectory(frames=f, states=s, name=str(i)) for i, (f, s) in enumerate(simulator_episodes())]
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
        trajectories.append(Trajectory(frames=frames, states=states, name=str(i)))
    return ClipDataset(trajectories, frames_per_clip=4, stride=1)


def test_gripper_probe_makes_the_tokens_show_the_gripper(tmp_path):
    from vjepa_ac.models.image_preprocessing import images_to_clips
    from vjepa_ac.training.encoder_pretrainer import gripper_probe

    dataset = _gripper_marked_clips()
    specs = [BlockMaskSpec(2, (0.25, 0.25))]

    def readout_gap(weight: float) -> tuple[float, list[dict]]:
        config = PretrainConfig(steps=40, batch_size=8, lr=2e-3, start_lr=2e-4, warmup_steps=3, mask_specs=specs,
                                ema_start=0.9, gripper_probe_weight=weight, gripper_probe_channels=4)
        trainer = EncoderPretrainer(tiny_encoder(), tiny_predictor(), dataset, config, tmp_path / str(weight),
                                    init_distributed("cpu"), progress=False)
        history = trainer.fit()
        encoder = load_pretrained_encoder(tmp_path / str(weight) / "checkpoints" / "step_00000040")
        frames = torch.from_numpy(np.concatenate([t.frames for t in dataset.trajectories]))
        closed = torch.from_numpy(np.concatenate([t.states[:, 6] for t in dataset.trajectories])) > 0
        with torch.no_grad():
            readout = gripper_probe(encoder(images_to_clips(frames, 64)), 4)
        return float(readout[closed].mean() - readout[~closed].mean()), history

    gap, history = readout_gap(1.0)
    # The frozen (EMA target) encoder, as the world model uses it, separates closed from open stills.
    assert gap > 0.5, gap
    first = sum(m["gripper_probe_loss"] for m in history[:5]) / 5
    last = sum(m["gripper_probe_loss"] for m in history[-5:]) / 5
    assert last < 0.7 * first, (first, last)
    plain_gap, plain_history = readout_gap(0.0)
    assert "gripper_probe_loss" not in plain_history[-1]
    assert abs(plain_gap) < gap / 2, (plain_gap, gap)


def test_gripper_probe_needs_states_and_enough_channels():
    from vjepa_ac.training.encoder_pretrainer import gripper_probe

    with pytest.raises(ValueError, match="channels"):
        gripper_probe(torch.zeros(2, 16, 8), 9)
    with pytest.raises(ValueError, match="gripper_probe"):
        PretrainConfig(gripper_probe_weight=-1.0)

    class FramesOnly(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return {"frames": torch.zeros(4, 64, 64, 3, dtype=torch.uint8)}

    config = PretrainConfig(steps=1, batch_size=2, mask_specs=[BlockMaskSpec(2, (0.25, 0.25))], gripper_probe_weight=1)
    trainer = EncoderPretrainer(tiny_encoder(), tiny_predictor(), FramesOnly(), config, "unused",
                                init_distributed("cpu"), progress=False)
    with pytest.raises(ValueError, match="states"):
        trainer.train_step(torch.utils.data.default_collate([FramesOnly()[0], FramesOnly()[1]]))


def test_predictor_training_can_freeze_either_encoder_of_a_pretraining_checkpoint(tmp_path):
    """V-JEPA keeps the EMA target; --encoder-branch context_encoder freezes the student instead."""
    from vjepa_ac.models import save_encoder
    from vjepa_ac.training.encoder_pretrainer import save_pretraining_weights
    from vjepa_ac.training.model_setup import build_world_model

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
