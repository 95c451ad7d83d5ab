"""Our format: a directory with `model.safetensors` and `config.json`.

`model.safetensors` holds `encoder.<name>` / `predictor.<name>` under the reference parameter names;
`config.json` holds the encoder and predictor configs, the image size and free metadata (model-card fields).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from vjepa_ac.models.ac_predictor import ActionConditionedPredictor
from vjepa_ac.models.checkpoints.common import (
    CheckpointError,
    build_module,
    load_safetensors,
    load_state_dict_strict,
)
from vjepa_ac.models.presets import EncoderConfig, PredictorConfig
from vjepa_ac.models.vision_encoder import VisionEncoder
from vjepa_ac.models.world_model import WorldModel

FORMAT_NAME = "vjepa_ac.world_model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def read_config(directory: Path) -> dict[str, Any]:
    """config.json of one of our model directories, with its format and version checked."""
    path = directory / CONFIG_FILE
    if not path.is_file() or not (directory / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{directory} is not a vjepa_ac model directory (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot read {path}: {error}") from error
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path} is not a {FORMAT_NAME} config (format field: {config.get('format')!r})")
    if config.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has format_version {config.get('format_version')!r}; this code reads {FORMAT_VERSION}")
    return config


def _split_ours(tensors: dict[str, torch.Tensor], directory: Path) -> dict[str, dict[str, torch.Tensor]]:
    groups: dict[str, dict[str, torch.Tensor]] = {"encoder": {}, "predictor": {}}
    for key, value in tensors.items():
        group, _, name = key.partition(".")
        if group not in groups or not name:
            raise CheckpointError(f"unexpected key {key!r} in {directory / WEIGHTS_FILE} (want encoder.* / predictor.*)")
        groups[group][name] = value
    return groups


def load_ours(directory: Path, need_predictor: bool):
    """(encoder, predictor or None, config) of one of our directories, strictly loaded."""
    config = read_config(directory)
    groups = _split_ours(load_safetensors([directory / WEIGHTS_FILE]), directory)
    encoder = build_module(VisionEncoder, EncoderConfig, config.get("encoder"), f"{directory} encoder")
    load_state_dict_strict(encoder, groups["encoder"], f"{directory} encoder weights", "encoder")
    predictor = None
    if config.get("predictor") is not None:
        predictor = build_module(ActionConditionedPredictor, PredictorConfig, config["predictor"], f"{directory} predictor")
        load_state_dict_strict(predictor, groups["predictor"], f"{directory} predictor weights", "predictor")
    elif groups["predictor"]:
        raise CheckpointError(f"{directory} has predictor.* weights but no predictor config")
    elif need_predictor:
        raise CheckpointError(f"{directory} holds an encoder only (no predictor); it cannot make a world model")
    return encoder, predictor, config


def _atomic_write(directory: Path, name: str, write) -> None:
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, directory / name)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _save(directory, encoder: VisionEncoder, predictor: ActionConditionedPredictor | None, extra: dict) -> Path:
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"encoder.{k}": v.detach().to("cpu").contiguous().clone() for k, v in encoder.state_dict().items()}
    if predictor is not None:
        tensors.update(
            {f"predictor.{k}": v.detach().to("cpu").contiguous().clone() for k, v in predictor.state_dict().items()}
        )
    config = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "image_size": encoder.config.image_size,
        "tokens_per_frame": encoder.config.tokens_per_frame,
        "embed_dim": encoder.config.embed_dim,
        "encoder": encoder.config.to_dict(),
        "predictor": None if predictor is None else predictor.config.to_dict(),
        **extra,
    }
    try:
        text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    except TypeError as error:
        raise CheckpointError(f"metadata must be JSON-serialisable: {error}") from error
    _atomic_write(directory, WEIGHTS_FILE, lambda path: save_file(tensors, path, metadata={"format": FORMAT_NAME}))
    _atomic_write(directory, CONFIG_FILE, lambda path: Path(path).write_text(text))
    return directory


def save_world_model(world_model: WorldModel, directory, metadata: dict[str, Any] | None = None) -> Path:
    """Write `model.safetensors` + `config.json` into `directory` (created if needed); returns it."""
    if not isinstance(world_model, WorldModel):
        raise TypeError(f"save_world_model needs a WorldModel, got {type(world_model).__name__}")
    merged = {**world_model.metadata, **(metadata or {})}
    return _save(
        directory,
        world_model.encoder,
        world_model.predictor,
        {"world_model": world_model.config.to_dict(), "metadata": merged},
    )


def save_encoder(encoder: VisionEncoder, directory, metadata: dict[str, Any] | None = None) -> Path:
    """Encoder-only directory in our format (e.g. after encoder pretraining); `load_encoder` reads it."""
    if not isinstance(encoder, VisionEncoder):
        raise TypeError(f"save_encoder needs a VisionEncoder, got {type(encoder).__name__}")
    return _save(directory, encoder, None, {"metadata": dict(metadata or {})})
