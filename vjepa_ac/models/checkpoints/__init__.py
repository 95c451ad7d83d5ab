"""Loading and saving model weights: official V-JEPA 2(-AC) `.pt` files, Hugging Face safetensors, ours.

One module per format (`official`, `huggingface`, `ours`) over the shared strict loading in `common`;
the functions here pick the format from the path. Nothing is ever silently random-initialised, and
pickle files are read weights-only.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vjepa_ac.models.ac_predictor import ActionConditionedPredictor
from vjepa_ac.models.checkpoints.common import (
    CheckpointError,
    build_module,
    infer_encoder_config,
    infer_predictor_config,
    load_state_dict_strict,
    safe_torch_load,
    strip_prefixes,
    to_device_dtype,
)
from vjepa_ac.models.checkpoints.huggingface import hf_config, hf_encoder_state_dict, load_hf_encoder
from vjepa_ac.models.checkpoints.official import official_encoder, official_predictor, read_checkpoint
from vjepa_ac.models.checkpoints.ours import (
    CONFIG_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    WEIGHTS_FILE,
    load_ours,
    read_config,
    save_encoder,
    save_world_model,
)
from vjepa_ac.models.presets import EncoderConfig
from vjepa_ac.models.vision_encoder import VisionEncoder
from vjepa_ac.models.world_model import WorldModel, WorldModelConfig

__all__ = [
    "CheckpointError",
    "EMBEDDED_MODEL_DIR",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "WEIGHTS_FILE",
    "safe_torch_load",
    "strip_prefixes",
    "infer_encoder_config",
    "infer_predictor_config",
    "hf_encoder_state_dict",
    "load_state_dict_strict",
    "load_encoder",
    "load_predictor",
    "load_world_model",
    "save_world_model",
    "save_encoder",
    "world_model_camera",
    "world_model_image_size",
]

EMBEDDED_MODEL_DIR = Path(__file__).resolve().parents[2] / "assets" / "embedded_model"


def load_encoder(
    path, device="cpu", dtype: torch.dtype | None = None, num_heads: int | None = None,
    image_size: int | None = None, key: str | None = None,
) -> VisionEncoder:
    """A `VisionEncoder` from our directory, an official `.pt` (AC or encoder-only; `target_encoder`
    preferred, or `key`), or Hugging Face VJEPA2 safetensors (file or directory)."""
    path = Path(path)
    if path.is_dir() and (path / CONFIG_FILE).is_file() and hf_config(path) is None:
        encoder, _, _ = load_ours(path, need_predictor=False)
    elif path.suffix == ".safetensors" or path.is_dir():
        encoder = load_hf_encoder(path, num_heads, image_size)
    else:
        encoder = official_encoder(read_checkpoint(path), path, key, num_heads, image_size)
    return to_device_dtype(encoder.eval(), device, dtype)


def load_predictor(
    path, encoder_config: EncoderConfig | None = None, device="cpu", dtype: torch.dtype | None = None,
    num_heads: int | None = None, use_extrinsics: bool = False,
) -> ActionConditionedPredictor:
    """The AC predictor of our directory or of an official AC `.pt` file (grid from `encoder_config`)."""
    path = Path(path)
    if path.is_dir():
        _, predictor, _ = load_ours(path, need_predictor=True)
    else:
        grid = {} if encoder_config is None else {"image_size": encoder_config.image_size, "patch_size": encoder_config.patch_size}
        predictor = official_predictor(read_checkpoint(path), path, num_heads, grid, use_extrinsics)
    return to_device_dtype(predictor.eval(), device, dtype)


def world_model_image_size(path=None) -> int:
    """The frame size a world model takes, read from our config alone (the weights stay on disk).

    Official `.pt` files store no size (it is inferred from their tensors), so they are loaded.
    """
    directory = EMBEDDED_MODEL_DIR if path is None else Path(path)
    if directory.is_dir():
        config = read_config(directory)  # validated as loading validates it; the encoder is built on meta
        return build_module(VisionEncoder, EncoderConfig, config.get("encoder"), f"{directory} encoder").config.image_size
    return load_world_model(path).image_size


def world_model_camera(path=None) -> str:
    """The scene camera (`TaskOptions.camera`) a model was trained on, from its config: simulated evaluations
    render through it. Official checkpoints and models that record none: "default"."""
    directory = EMBEDDED_MODEL_DIR if path is None else Path(path)
    if not directory.is_dir():
        return "default"
    return str(read_config(directory).get("metadata", {}).get("camera", "default"))


def load_world_model(
    path=None,
    device="cpu",
    dtype: torch.dtype | None = None,
    config: WorldModelConfig | None = None,
    encoder_heads: int | None = None,
    predictor_heads: int | None = None,
    image_size: int | None = None,
) -> WorldModel:
    """A `WorldModel` from our directory (None: the embedded default) or an official AC `.pt` file.

    For official files, head counts and the image size are not stored; they default to the
    published values (see `infer_encoder_config`) and can be given explicitly.
    """
    if path is None:
        path = EMBEDDED_MODEL_DIR
        if not (path / CONFIG_FILE).is_file():
            raise CheckpointError(
                f"the embedded model is missing: {path} has no {CONFIG_FILE}/{WEIGHTS_FILE}. "
                "Train it (vjepa-ac-train-embedded) or pass the path of a model directory or official .pt file."
            )
    path = Path(path)
    if path.is_dir():
        encoder, predictor, stored = load_ours(path, need_predictor=True)
        metadata = stored.get("metadata") or {}
        if config is None and isinstance(stored.get("world_model"), dict):
            try:
                config = WorldModelConfig(**stored["world_model"])
            except (TypeError, ValueError) as error:
                raise CheckpointError(f"{path} world_model options are invalid: {error}") from error
    else:
        if path.suffix == ".safetensors":
            raise CheckpointError(
                f"{path} is a safetensors file: Hugging Face files hold an encoder only (use load_encoder); "
                "our world models are directories"
            )
        checkpoint = read_checkpoint(path)
        if "predictor" not in checkpoint or "encoder" not in checkpoint:
            raise CheckpointError(
                f"{path} is not a V-JEPA 2-AC checkpoint (needs 'encoder' and 'predictor'; has {sorted(map(str, checkpoint))[:10]})"
            )
        encoder = official_encoder(checkpoint, path, "encoder", encoder_heads, image_size)
        grid = {"image_size": encoder.config.image_size, "patch_size": encoder.config.patch_size}
        predictor = official_predictor(checkpoint, path, predictor_heads, grid, use_extrinsics=False)
        metadata = {"source": str(path)}
    try:
        world_model = WorldModel(encoder, predictor, config, metadata=metadata)
    except ValueError as error:
        raise CheckpointError(f"{path}: encoder and predictor do not fit together: {error}") from error
    return to_device_dtype(world_model, device, dtype)
