"""Build the world model a post-training run starts from: official/our checkpoint, a pre-trained encoder, or a preset."""

from __future__ import annotations

import torch

from vjepa_ac.models import (
    ActionConditionedPredictor,
    WorldModel,
    initialize_weights,
    load_encoder,
    load_world_model,
)


def fresh_predictor_for(encoder, predictor_preset: str, seed: int) -> ActionConditionedPredictor:
    from vjepa_ac.models.presets import predictor_config_for

    predictor = ActionConditionedPredictor(predictor_config_for(encoder.config, predictor_preset))
    initialize_weights(predictor, generator=torch.Generator().manual_seed(seed))
    return predictor


def build_world_model(init_from: str | None, encoder_path: str | None, preset: str | None,
                      predictor_preset: str, seed: int,
                      encoder_branch: str = "target_encoder") -> tuple[WorldModel, dict]:
    """Exactly one source: `init_from` (encoder + AC predictor), `encoder_path` (+ fresh predictor) or `preset`.

    `encoder_branch` picks which encoder of a pre-training checkpoint is frozen: V-JEPA keeps the EMA target,
    but its momentum ramps to 1, so features the student learns late never reach it.
    """
    chosen = [name for name, value in (("--init-from", init_from), ("--encoder", encoder_path), ("--preset", preset))
              if value is not None]
    if len(chosen) != 1:
        raise ValueError(f"give exactly one of --init-from, --encoder, --preset (got {chosen or 'none'})")
    if init_from is not None:
        return load_world_model(init_from), {"init_from": str(init_from)}
    if encoder_path is not None:
        from vjepa_ac.training.encoder.encoder_pretrainer import (
            is_pretraining_checkpoint,
            load_pretrained_encoder,
        )

        if is_pretraining_checkpoint(encoder_path):
            encoder = load_pretrained_encoder(encoder_path, which=encoder_branch)
        elif encoder_branch != "target_encoder":
            raise ValueError(f"encoder branch {encoder_branch!r} needs a pre-training checkpoint, not {encoder_path}")
        else:
            encoder = load_encoder(encoder_path)
        predictor = fresh_predictor_for(encoder, predictor_preset, seed)
        return WorldModel(encoder, predictor), {"encoder": str(encoder_path), "encoder_branch": encoder_branch,
                                                "predictor_preset": predictor_preset}
    from vjepa_ac.models import VisionEncoder
    from vjepa_ac.models.presets import WORLD_MODEL_PRESETS, encoder_preset

    if preset not in WORLD_MODEL_PRESETS:
        raise ValueError(f"unknown --preset {preset!r}; known: {sorted(WORLD_MODEL_PRESETS)}")
    encoder_name, predictor_name = WORLD_MODEL_PRESETS[preset]
    encoder = VisionEncoder(encoder_preset(encoder_name))
    initialize_weights(encoder, generator=torch.Generator().manual_seed(seed + 1))
    predictor = fresh_predictor_for(encoder, predictor_name, seed)
    # A random encoder is only useful for smoke tests and throughput measurements.
    return WorldModel(encoder, predictor), {"preset": preset, "random_encoder": True}
