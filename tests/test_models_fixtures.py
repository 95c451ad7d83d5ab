"""Every reference fixture reproduced to 1e-5: encoder, AC predictor (full and cached), the official
checkpoint layout through the loader, and one full world-model step."""

import torch
from models_support import fixture_dir, load_fixture

from vjepa_ac.models import (
    ActionConditionedPredictor,
    EncoderConfig,
    PredictorConfig,
    VisionEncoder,
    WorldModel,
    load_world_model,
)

TOLERANCE = 1e-5


def max_error(actual, expected):
    assert actual.shape == expected.shape
    return (actual.double() - expected.double()).abs().max().item()


def encoder_from(fixture):
    encoder = VisionEncoder(EncoderConfig.from_reference(fixture["config"]))
    encoder.load_state_dict(fixture["state_dict"], strict=True)
    return encoder.eval()


def predictor_from(fixture):
    predictor = ActionConditionedPredictor(PredictorConfig.from_reference(fixture["config"]))
    predictor.load_state_dict(fixture["state_dict"], strict=True)
    return predictor.eval()


@torch.no_grad()
def test_encoder_tiny_a():
    fixture = load_fixture("encoder_tiny_a.pt")
    tokens = encoder_from(fixture)(fixture["inputs"]["clip"])
    assert max_error(tokens, fixture["outputs"]["tokens"]) <= TOLERANCE


@torch.no_grad()
def test_ac_predictor_tiny_a_full_and_cached():
    fixture = load_fixture("ac_predictor_tiny_a.pt")
    predictor = predictor_from(fixture)
    inputs, expected = fixture["inputs"], fixture["outputs"]["pred"]
    assert max_error(predictor(inputs["x"], inputs["actions"], inputs["states"]), expected) <= TOLERANCE
    cache, outputs = None, []
    for t in range(inputs["actions"].shape[1]):
        out, cache = predictor.forward_step(inputs["x"][:, 16 * t : 16 * (t + 1)], inputs["actions"][:, t],
                                            inputs["states"][:, t], cache)
        outputs.append(out)
    assert max_error(torch.cat(outputs, dim=1), expected) <= TOLERANCE


@torch.no_grad()
def test_official_layout_through_the_loader():
    world_model = load_world_model(fixture_dir() / "official_layout_tiny_a.pt")
    encoder_fixture = load_fixture("encoder_tiny_a.pt")
    predictor_fixture = load_fixture("ac_predictor_tiny_a.pt")
    assert world_model.encoder.config == EncoderConfig.from_reference(encoder_fixture["config"])
    assert world_model.predictor.config == PredictorConfig.from_reference(predictor_fixture["config"])
    tokens = world_model.encoder(encoder_fixture["inputs"]["clip"])
    assert max_error(tokens, encoder_fixture["outputs"]["tokens"]) <= TOLERANCE
    inputs = predictor_fixture["inputs"]
    pred = world_model.predictor(inputs["x"], inputs["actions"], inputs["states"])
    assert max_error(pred, predictor_fixture["outputs"]["pred"]) <= TOLERANCE


@torch.no_grad()
def test_world_model_step_from_pose_vectors():
    step = load_fixture("pose_vectors.pt")["world_model_step"]
    assert step["predictor_fixture"] == "ac_predictor_tiny_a.pt"
    world_model = WorldModel(encoder_from(load_fixture("encoder_tiny_a.pt")),
                             predictor_from(load_fixture("ac_predictor_tiny_a.pt")))
    next_rep, next_pose = world_model.step(step["reps"], step["actions"], step["poses"])
    assert next_pose.dtype == torch.float64 and next_pose.shape == (4, 1, 7)
    assert max_error(next_rep, step["next_rep"]) <= TOLERANCE
    assert max_error(next_pose, step["next_pose"]) <= TOLERANCE
    # Rolling out from the first context frame equals teacher forcing on its own predictions and poses.
    first_rep, first_pose = world_model.step(step["reps"][:, :1], step["actions"][:, :1], step["poses"][:, :1])
    second_rep, _ = world_model.step(
        torch.cat([step["reps"][:, :1], first_rep], dim=1),
        step["actions"],
        torch.cat([step["poses"][:, :1].double(), first_pose], dim=1),
    )
    rolled = world_model.rollout(step["reps"][:, 0], step["poses"][:, 0], step["actions"])
    assert max_error(rolled, second_rep[:, 0]) <= TOLERANCE
