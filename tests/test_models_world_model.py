"""WorldModel: encoding uint8 frames, one full step, and the key/value-cached autoregressive rollout."""

import numpy as np
import pytest
import torch
from models_support import fixture_dir, load_fixture, tiny_encoder, tiny_predictor, tiny_world_model

from vjepa_ac.models import (
    ActionConditionedPredictor,
    EncoderConfig,
    PredictorConfig,
    VisionEncoder,
    WorldModel,
    WorldModelConfig,
)
from vjepa_ac.models.image_preprocessing import IMAGENET_MEAN, IMAGENET_STD
from vjepa_ac.poses import integrate_actions


@pytest.fixture(scope="module")
def model():
    return tiny_world_model()


def images(count, size=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(count, size, size, 3), dtype=np.uint8)


def test_properties(model):
    assert (model.image_size, model.tokens_per_frame, model.embed_dim) == (64, 16, 48)
    assert model.device == torch.device("cpu") and model.dtype == torch.float32


def test_encode_matches_manual_pipeline(model):
    frames = images(3)
    tokens = model.encode(frames)
    assert tokens.shape == (3, 16, 48)
    pixels = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
    pixels = (pixels - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    clip = torch.stack([pixels, pixels], dim=2)  # one still = a 2-frame clip
    with torch.no_grad():
        expected = torch.nn.functional.layer_norm(model.encoder(clip), (48,))
    torch.testing.assert_close(tokens, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(tokens.mean(-1), torch.zeros(3, 16), rtol=0, atol=1e-5)
    torch.testing.assert_close(tokens.var(-1, unbiased=False), torch.ones(3, 16), rtol=0, atol=1e-3)


def test_encode_single_image_chunking_and_resize(model):
    frames = images(5)
    batched = model.encode(frames)
    torch.testing.assert_close(model.encode(frames[2]), batched[2:3], rtol=0, atol=1e-6)
    chunked = WorldModel(model.encoder, model.predictor, WorldModelConfig(encode_batch_size=2)).encode(frames)
    torch.testing.assert_close(chunked, batched, rtol=0, atol=1e-6)
    # Any size goes in: a blown-up copy encodes close to the original; a wide one is centre-cropped.
    big = np.repeat(np.repeat(frames[:1], 4, axis=1), 4, axis=2)
    assert model.encode(big).shape == (1, 16, 48)
    wide = np.concatenate([np.zeros((1, 64, 32, 3), np.uint8), frames[:1], np.zeros((1, 64, 32, 3), np.uint8)], axis=2)
    torch.testing.assert_close(model.encode(wide), batched[:1], rtol=0, atol=1e-5)


def test_encode_refuses_bad_images(model):
    with pytest.raises(TypeError, match="uint8"):
        model.encode(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="RGB"):
        model.encode(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match="RGB"):
        model.encode(np.zeros((2, 64, 64, 4), np.uint8))


def test_real_franka_frames_encode(model):
    data = np.load(fixture_dir().parents[1] / "data" / "franka_example_traj.npz")
    tokens = model.encode(data["observations"][0])  # 256 px -> resized to the model's 64 px
    assert tokens.shape == (2, 16, 48) and torch.isfinite(tokens).all()
    assert (tokens[0] - tokens[1]).abs().mean() > 1e-3


def test_step_matches_reference():
    enc_fixture = load_fixture("encoder_tiny_a.pt")
    pred_fixture = load_fixture("ac_predictor_tiny_a.pt")
    encoder = VisionEncoder(EncoderConfig.from_reference(enc_fixture["config"]))
    encoder.load_state_dict(enc_fixture["state_dict"])
    predictor = ActionConditionedPredictor(PredictorConfig.from_reference(pred_fixture["config"]))
    predictor.load_state_dict(pred_fixture["state_dict"])
    step = load_fixture("pose_vectors.pt")["world_model_step"]
    next_rep, next_pose = WorldModel(encoder, predictor).step(step["reps"], step["actions"], step["poses"])
    assert next_rep.shape == (4, 1, 16, 96) and next_pose.shape == (4, 1, 7)
    assert (next_rep - step["next_rep"]).abs().max() <= 1e-5
    assert (next_pose.double() - step["next_pose"]).abs().max() <= 1e-5


def recompute_rollout(model, tokens, state, actions):
    """Reference-style rollout: re-run the whole prefix through `step` at every step."""
    batch = actions.shape[0]
    reps = tokens.expand(batch, -1, -1).unsqueeze(1)
    states = state.expand(batch, -1).unsqueeze(1)
    for t in range(actions.shape[1]):
        next_rep, next_state = model.step(reps, actions[:, : t + 1], states)
        reps = torch.cat([reps, next_rep], 1)
        states = torch.cat([states, next_state], 1)
    return reps[:, -1], states[:, 1:]


@pytest.mark.parametrize("horizon", [1, 3])
def test_rollout_equals_full_recompute(model, horizon):
    tokens = model.encode(images(1))
    state = torch.tensor([[0.45, 0.0, 0.3, 3.0, 0.1, -0.2, 0.4]], dtype=torch.float64)
    actions = 0.05 * torch.randn(6, horizon, 7, generator=torch.Generator().manual_seed(horizon))
    predicted, states = model.rollout(tokens, state, actions, return_states=True)
    expected, expected_states = recompute_rollout(model, tokens, state, actions)
    assert predicted.shape == (6, 16, 48) and states.shape == (6, horizon, 7)
    torch.testing.assert_close(predicted, expected, rtol=0, atol=2e-5)
    torch.testing.assert_close(states, expected_states, rtol=0, atol=1e-9)
    chained = state.expand(6, -1)
    for t in range(horizon):
        chained = integrate_actions(chained, actions[:, t].double())
    torch.testing.assert_close(states[:, -1], chained, rtol=0, atol=1e-12)
    torch.testing.assert_close(model.rollout(tokens.expand(6, -1, -1), state.expand(6, -1), actions), predicted)
    assert (predicted[0] - predicted[1]).abs().max() > 1e-3  # different actions, different futures


def test_rollout_in_other_dtypes():
    model32 = tiny_world_model()
    tokens = model32.encode(images(1))
    state = torch.zeros(1, 7)
    actions = 0.05 * torch.randn(4, 2, 7, generator=torch.Generator().manual_seed(0))
    reference = model32.rollout(tokens, state, actions)
    model64 = tiny_world_model().to(torch.float64)
    out64 = model64.rollout(tokens.double(), state, actions)
    assert out64.dtype == torch.float64
    torch.testing.assert_close(out64.float(), reference, rtol=0, atol=1e-4)
    model16 = tiny_world_model().to(torch.bfloat16)
    out16 = model16.rollout(tokens, state, actions)
    assert out16.dtype == torch.bfloat16
    assert (out16.float() - reference).abs().mean() < 0.05


def test_rollout_and_step_refuse_bad_shapes(model):
    tokens = model.encode(images(1))
    with pytest.raises(ValueError, match="neither 1 nor"):
        model.rollout(tokens.expand(3, -1, -1), torch.zeros(1, 7), torch.zeros(2, 1, 7))
    with pytest.raises(ValueError, match="H>=1"):
        model.rollout(tokens, torch.zeros(1, 7), torch.zeros(2, 0, 7))
    with pytest.raises(ValueError, match="HW=16, D=48"):
        model.rollout(tokens[:, :8], torch.zeros(1, 7), torch.zeros(1, 1, 7))
    with pytest.raises(ValueError, match="to match reps"):
        model.step(tokens.unsqueeze(1), torch.zeros(1, 2, 7), torch.zeros(1, 2, 7))


def test_mismatched_parts_are_refused():
    with pytest.raises(ValueError, match="encoder tokens"):
        WorldModel(tiny_encoder(embed_dim=48), tiny_predictor(encoder_dim=96))
    with pytest.raises(ValueError, match="token grid"):
        WorldModel(tiny_encoder(image_size=64), tiny_predictor(image_size=96))


def test_rollout_chunking_and_options_do_not_change_results(model):
    tokens = model.encode(images(1))
    state = torch.tensor([[0.4, 0.1, 0.3, 3.1, 0.0, 0.2, 0.0]])
    actions = 0.05 * torch.randn(7, 2, 7, generator=torch.Generator().manual_seed(3))
    whole = model.rollout(tokens, state, actions)
    chunked = WorldModel(model.encoder, model.predictor, WorldModelConfig(rollout_chunk_size=3)).rollout(
        tokens, state, actions
    )
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-5)
    # Autocast is a CUDA-only option: on CPU the model stays in its own dtype and numbers.
    autocast = WorldModel(model.encoder, model.predictor, WorldModelConfig(autocast="bfloat16"))
    assert torch.equal(autocast.rollout(tokens, state, actions), whole)
    with pytest.raises(ValueError, match="autocast"):
        WorldModelConfig(autocast="int8")
    with pytest.raises(ValueError, match="rollout_chunk_size"):
        WorldModelConfig(rollout_chunk_size=0)


def test_world_model_stays_in_eval_without_grad(model):
    model.train()
    assert not model.training and not model.predictor.training and not model.encoder.training
    tokens = model.encode(images(1))
    out = model.rollout(tokens, torch.zeros(1, 7), torch.zeros(2, 1, 7))
    assert not out.requires_grad and not tokens.requires_grad


def test_non_finite_actions_are_refused(model):
    tokens = model.encode(images(1))
    with pytest.raises(ValueError, match="NaN or inf"):
        model.rollout(tokens, torch.zeros(1, 7), torch.full((2, 1, 7), float("nan")))
