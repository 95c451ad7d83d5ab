"""Meta's official `.pt` files: pre-training files (encoder only) and V-JEPA 2-AC files (encoder + predictor)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vjepa_ac.models.ac_predictor import ActionConditionedPredictor
from vjepa_ac.models.checkpoints.common import (
    CheckpointError,
    empty_module,
    infer_encoder_config,
    infer_predictor_config,
    load_state_dict_strict,
    safe_torch_load,
    strip_prefixes,
    tensor_dict,
)
from vjepa_ac.models.vision_encoder import VisionEncoder

# Official encoders store a learned-looking `pos_embed` that RoPE models never use.
_IGNORED_ENCODER_KEYS = ("pos_embed",)


def read_checkpoint(path: Path) -> Mapping[str, Any]:
    """The file's top-level dict, read weights-only."""
    checkpoint = safe_torch_load(path)
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"{path} holds a {type(checkpoint).__name__}, not a checkpoint dict")
    return checkpoint


def official_encoder(checkpoint: Mapping[str, Any], path: Path, key: str | None, num_heads, image_size) -> VisionEncoder:
    """The encoder of an official dict (`key`, else `target_encoder`, else `encoder`, else a bare state
    dict), prefixes stripped and the unused `pos_embed` dropped (it only hints at the image size)."""
    if key is None:
        key = next((k for k in ("target_encoder", "encoder") if k in checkpoint), None)
    if key is not None and key in checkpoint:
        state = checkpoint[key]
    elif key is None and "patch_embed.proj.weight" in strip_prefixes({k: 0 for k in checkpoint if isinstance(k, str)}):
        state, key = checkpoint, "(top level)"
    else:
        raise CheckpointError(f"{path} has no encoder state dict {key or ''} (keys: {sorted(map(str, checkpoint))[:10]})")
    state = strip_prefixes(tensor_dict(state, f"{path} [{key}]"))
    weights = {k: v for k, v in state.items() if k not in _IGNORED_ENCODER_KEYS}
    encoder = empty_module(VisionEncoder, infer_encoder_config(state, num_heads, image_size))
    load_state_dict_strict(encoder, weights, f"{path} [{key}]", "encoder")
    return encoder


def official_predictor(
    checkpoint: Mapping[str, Any], path: Path, num_heads: int | None, grid: Mapping[str, int], use_extrinsics: bool
) -> ActionConditionedPredictor:
    """The AC predictor of an official dict. Its token grid (`image_size`, `patch_size`) is not in the
    weights: `grid` gives it (empty: the published 256 px, patch 16)."""
    if "predictor" not in checkpoint:
        raise CheckpointError(f"{path} has no 'predictor' entry (keys: {sorted(map(str, checkpoint))[:10]})")
    state = strip_prefixes(tensor_dict(checkpoint["predictor"], f"{path} [predictor]"))
    config = infer_predictor_config(state, num_heads=num_heads, use_extrinsics=use_extrinsics, **grid)
    predictor = empty_module(ActionConditionedPredictor, config)
    load_state_dict_strict(predictor, state, f"{path} predictor", "predictor")
    return predictor
