"""Hugging Face `transformers` VJEPA2 files (safetensors + config.json): the encoder, renamed to ours."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from vjepa_ac.models.checkpoints.common import (
    CheckpointError,
    empty_module,
    infer_encoder_config,
    load_safetensors,
    load_state_dict_strict,
    require,
)
from vjepa_ac.models.presets import EncoderConfig
from vjepa_ac.models.vision_encoder import VisionEncoder

CONFIG_FILE = "config.json"

_HF_RULES = [
    (re.compile(r"^embeddings\.patch_embeddings\.proj\.(weight|bias)$"), r"patch_embed.proj.\1"),
    (re.compile(r"^layer\.(\d+)\.(norm1|norm2)\.(weight|bias)$"), r"blocks.\1.\2.\3"),
    (re.compile(r"^layer\.(\d+)\.attention\.proj\.(weight|bias)$"), r"blocks.\1.attn.proj.\2"),
    (re.compile(r"^layer\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)$"), r"blocks.\1.mlp.\2.\3"),
    (re.compile(r"^layernorm\.(weight|bias)$"), r"norm.\1"),
]
_HF_QKV = re.compile(r"^layer\.(\d+)\.attention\.(query|key|value)\.(weight|bias)$")
_HF_OTHER_GROUPS = ("predictor.", "pooler.", "classifier.")


def hf_encoder_state_dict(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers' VJEPA2 encoder tensors (`encoder.layer.{i}.attention.query…`) -> reference names.

    q/k/v are fused into `attn.qkv` (rows in q, k, v order). The HF mask-denoising predictor and
    classification heads are other modules and are skipped; anything else unknown is an error.
    """
    encoder: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        name = key[len("vjepa2.") :] if key.startswith("vjepa2.") else key
        if name.startswith(_HF_OTHER_GROUPS):
            continue
        if not name.startswith("encoder."):
            raise CheckpointError(f"unexpected key {key!r} in a Hugging Face VJEPA2 file")
        encoder[name[len("encoder.") :]] = value
    if not encoder:
        raise CheckpointError("no encoder.* tensors found in the Hugging Face file")
    converted: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for name, value in encoder.items():
        match = _HF_QKV.match(name)
        if match:
            qkv.setdefault((match.group(1), match.group(3)), {})[match.group(2)] = value
            continue
        for pattern, replacement in _HF_RULES:
            if pattern.match(name):
                converted[pattern.sub(replacement, name)] = value
                break
        else:
            raise CheckpointError(f"unexpected Hugging Face encoder key 'encoder.{name}'")
    for (layer, kind), parts in sorted(qkv.items()):
        if set(parts) != {"query", "key", "value"}:
            raise CheckpointError(
                f"layer {layer} {kind}: missing {sorted({'query', 'key', 'value'} - set(parts))} of query/key/value"
            )
        converted[f"blocks.{layer}.attn.qkv.{kind}"] = torch.cat([parts["query"], parts["key"], parts["value"]], dim=0)
    return converted


def hf_config(directory: Path) -> dict[str, Any] | None:
    """The folder's config.json if it is a Hugging Face one (it has `hidden_size`), else None."""
    path = directory / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot read {path}: {error}") from error
    return values if isinstance(values, dict) and "hidden_size" in values else None


def load_hf_encoder(path: Path, num_heads: int | None, image_size: int | None) -> VisionEncoder:
    """The encoder of a Hugging Face file or folder; its config.json, when there is one, gives the shape."""
    files = sorted(path.glob("*.safetensors")) if path.is_dir() else [path]
    if not files:
        raise CheckpointError(f"no .safetensors files in {path}")
    state_dict = hf_encoder_state_dict(load_safetensors(files))
    hf = hf_config(path if path.is_dir() else path.parent)
    if hf is not None:
        try:
            config = EncoderConfig(
                image_size=int(image_size or hf.get("crop_size", 256)),
                patch_size=int(hf.get("patch_size", 16)),
                tubelet_size=int(hf.get("tubelet_size", 2)),
                embed_dim=int(hf["hidden_size"]),
                depth=int(hf["num_hidden_layers"]),
                num_heads=int(num_heads or hf["num_attention_heads"]),
                mlp_hidden_dim=int(require(state_dict, "blocks.0.mlp.fc1.weight", "HF encoder").shape[0]),
                qkv_bias=bool(hf.get("qkv_bias", True)),
                layer_norm_eps=float(hf.get("layer_norm_eps", 1e-6)),
                in_channels=int(hf.get("in_chans", 3)),
            )
        except (KeyError, ValueError, TypeError) as error:
            raise CheckpointError(f"Hugging Face config.json next to {path} is unusable: {error}") from error
    else:
        config = infer_encoder_config(state_dict, num_heads, image_size)
    encoder = empty_module(VisionEncoder, config)
    load_state_dict_strict(encoder, state_dict, f"Hugging Face encoder {path}", "encoder")
    return encoder
