"""Shared helpers for the model tests: fixture location, seeded small models."""

import os
from pathlib import Path

import pytest
import torch

from vjepa_ac.models import (
    ActionConditionedPredictor,
    EncoderConfig,
    PredictorConfig,
    VisionEncoder,
    WorldModel,
    initialize_weights,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURE_ENV = "VJEPA_AC_FIXTURES"
# Opt-out for a clone without the shared material; without it the parity tests fail rather than pass unchecked.
SKIP_ENV = "VJEPA_AC_SKIP_PARITY"


def fixture_dir() -> Path:
    """$VJEPA_AC_FIXTURES, else `<repo>/../shared/fixtures/vjepa2` (CI keeps shared/ beside the clone)."""
    directory = Path(os.environ.get(FIXTURE_ENV, REPO_ROOT.parent / "shared" / "fixtures" / "vjepa2"))
    if not directory.is_dir():
        message = f"reference fixtures not found at {directory}: the shared material is absent (set {FIXTURE_ENV})"
        if os.environ.get(SKIP_ENV) == "1":
            pytest.skip(f"{message}; {SKIP_ENV}=1")
        pytest.fail(f"{message}; no parity check can run ({SKIP_ENV}=1 skips them knowingly)")
    return directory


def load_fixture(name: str) -> dict:
    return torch.load(str(fixture_dir() / name), map_location="cpu", weights_only=True)


def seeded(module, seed: int):
    """Re-initialise with the reference recipe, then nudge LayerNorms/biases so every tensor matters."""
    generator = torch.Generator().manual_seed(seed)
    initialize_weights(module, std=0.1, generator=generator)
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.endswith("bias") or "norm" in name:
                param.add_(0.1 * torch.randn(param.shape, generator=generator))
    return module.eval()


def tiny_encoder(image_size=64, embed_dim=48, heads=3, depth=2, seed=0, patch_size=16) -> VisionEncoder:
    config = EncoderConfig(
        image_size=image_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth, num_heads=heads,
        mlp_hidden_dim=2 * embed_dim,
    )
    return seeded(VisionEncoder(config), seed)


def tiny_predictor(
    image_size=64, encoder_dim=48, embed_dim=64, heads=2, depth=2, use_extrinsics=False, seed=1, image_width=None,
    patch_size=16,
) -> ActionConditionedPredictor:
    config = PredictorConfig(
        image_size=image_size, image_width=image_width, patch_size=patch_size, encoder_dim=encoder_dim,
        embed_dim=embed_dim, depth=depth, num_heads=heads, mlp_hidden_dim=2 * embed_dim, use_extrinsics=use_extrinsics,
    )
    return seeded(ActionConditionedPredictor(config), seed)


def tiny_world_model(seed=0, **config) -> WorldModel:
    from vjepa_ac.models import WorldModelConfig

    return WorldModel(tiny_encoder(seed=seed), tiny_predictor(seed=seed + 1), WorldModelConfig(**config))


def random_world_model(encoder_dim: int, encoder_depth: int, predictor_dim: int, predictor_depth: int = 2,
                       image_size: int = 64, heads: int = 4, generators=None) -> WorldModel:
    """A real `WorldModel` at toy size with the reference initialisation and MLP ratio 2.

    `generators` (encoder, predictor) make it independent of the global RNG; None draws from it.
    """
    encoder = VisionEncoder(EncoderConfig(image_size=image_size, patch_size=16, embed_dim=encoder_dim,
                                          depth=encoder_depth, num_heads=heads, mlp_hidden_dim=2 * encoder_dim))
    predictor = ActionConditionedPredictor(PredictorConfig(
        image_size=image_size, patch_size=16, encoder_dim=encoder_dim, embed_dim=predictor_dim,
        depth=predictor_depth, num_heads=heads, mlp_hidden_dim=2 * predictor_dim))
    encoder_generator, predictor_generator = generators or (None, None)
    initialize_weights(encoder, generator=encoder_generator)
    initialize_weights(predictor, generator=predictor_generator)
    return WorldModel(encoder, predictor)
