"""What every checkpoint format shares: safe reading, prefix stripping, config inference and strict loading.

Every load is strict: a missing key, an unexpected key or a shape mismatch raises `CheckpointError`
naming the keys and the configuration the file's tensors actually describe, so nothing is ever
silently random-initialised. Pickle files are read with `torch.load(weights_only=True)` only.
"""

from __future__ import annotations

import math
import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vjepa_ac.models.presets import ENCODER_PRESETS, PREDICTOR_PRESETS, EncoderConfig, PredictorConfig

# Head counts cannot be read off tensor shapes. Published widths have known counts; every small
# preset of ours uses 4 heads, which is the fallback for widths below 512.
_KNOWN_HEADS = {1024: 16, 1280: 16, 1408: 22}
_SMALL_WIDTH_HEADS = 4
_PREFIXES = ("module.", "backbone.")


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or does not fit the model it is loaded into."""


# -- reading --------------------------------------------------------------------------------------------
def safe_torch_load(path: str | os.PathLike) -> Any:
    """`torch.load(..., weights_only=True)` on CPU (memory-mapped when possible); refuses pickled objects."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        text = str(error)
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        if found:
            raise CheckpointError(
                f"refusing to load {path}: it contains pickled objects that are not plain tensors/containers "
                f"({found.group(1)}); only weights-only checkpoints are accepted"
            ) from error
        detail = re.search(r"WeightsUnpickler error: \s*(.+?)\n", text + "\n", re.S)
        reason = detail.group(1).strip() if detail else text.splitlines()[0]
        raise CheckpointError(f"cannot read checkpoint {path}: not a weights-only torch file ({reason})") from error
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from error


def strip_prefixes(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Drop leading `module.` / `backbone.` (DDP / wrapper prefixes, in any order and repetition)."""
    stripped: dict[str, Any] = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise CheckpointError(f"state dict key {key!r} is not a string")
        name = key
        while name.startswith(_PREFIXES):
            name = name[len("module.") :] if name.startswith("module.") else name[len("backbone.") :]
        if name in stripped:
            raise CheckpointError(f"two keys map to {name!r} after stripping module./backbone. prefixes")
        stripped[name] = value
    return stripped


def tensor_dict(state_dict: Any, what: str) -> dict[str, torch.Tensor]:
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(f"{what} is not a state dict (got {type(state_dict).__name__})")
    bad = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{what} holds non-tensor values under keys {bad[:8]}")
    return dict(state_dict)


# -- inferring configs from tensors ----------------------------------------------------------------
def _block_indices(state_dict: Mapping[str, Any], prefix: str) -> list[int]:
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.")
    return sorted({int(m.group(1)) for key in state_dict if (m := pattern.match(key))})


def _guess_heads(width: int, num_heads: int | None) -> int:
    if num_heads is not None:
        return num_heads
    if width in _KNOWN_HEADS:
        return _KNOWN_HEADS[width]
    if width < 512 and width % _SMALL_WIDTH_HEADS == 0:
        return _SMALL_WIDTH_HEADS
    if width % 64 == 0:
        return width // 64
    raise CheckpointError(f"cannot infer the head count for width {width}; pass num_heads explicitly")


def require(state_dict: Mapping[str, Any], key: str, what: str) -> torch.Tensor:
    if key not in state_dict:
        raise CheckpointError(f"{what} has no {key!r}; keys start with {sorted(state_dict)[:6]}")
    return state_dict[key]


def infer_encoder_config(
    state_dict: Mapping[str, torch.Tensor], num_heads: int | None = None, image_size: int | None = None
) -> EncoderConfig:
    """Encoder config from reference-named tensors (prefixes already stripped).

    Width, depth, MLP width, patch and tubelet come from shapes. Heads: `num_heads`, else the
    published count for 1024/1280/1408, else 4 below width 512, else width/64. Image size:
    `image_size`, else 256 for published widths, else read from a `pos_embed` holding one square
    frame of tokens, else 256.
    """
    weight = require(state_dict, "patch_embed.proj.weight", "encoder state dict")
    if weight.ndim != 5:
        raise CheckpointError(f"patch_embed.proj.weight must be a Conv3d weight, got shape {tuple(weight.shape)}")
    width, channels, tubelet, patch, patch_w = weight.shape
    if patch != patch_w:
        raise CheckpointError(f"non-square patches {patch}x{patch_w} are not supported")
    depth = len(_block_indices(state_dict, "blocks"))
    if depth == 0:
        raise CheckpointError("encoder state dict has no blocks.{i}.* tensors")
    hidden = require(state_dict, "blocks.0.mlp.fc1.weight", "encoder state dict").shape[0]
    if image_size is None:
        image_size = 256
        pos_embed = state_dict.get("pos_embed")
        if width not in _KNOWN_HEADS and isinstance(pos_embed, torch.Tensor) and pos_embed.ndim == 3:
            side = math.isqrt(pos_embed.shape[1])
            if side * side == pos_embed.shape[1]:
                image_size = side * patch
    try:
        return EncoderConfig(
            image_size=int(image_size),
            patch_size=int(patch),
            tubelet_size=int(tubelet),
            embed_dim=int(width),
            depth=depth,
            num_heads=_guess_heads(int(width), num_heads),
            mlp_hidden_dim=int(hidden),
            qkv_bias="blocks.0.attn.qkv.bias" in state_dict,
            in_channels=int(channels),
        )
    except ValueError as error:
        raise CheckpointError(f"encoder tensors describe an impossible config: {error}") from error


def infer_predictor_config(
    state_dict: Mapping[str, torch.Tensor],
    num_heads: int | None = None,
    image_size: int = 256,
    patch_size: int = 16,
    use_extrinsics: bool = False,
) -> PredictorConfig:
    """AC predictor config from reference-named tensors. The token grid (image/patch) and whether
    extrinsics are used are not visible in the weights: they come from the arguments."""
    embed = require(state_dict, "predictor_embed.weight", "predictor state dict")
    if "action_encoder.weight" not in state_dict:
        raise CheckpointError(
            "predictor state dict has no action_encoder: it is not a V-JEPA 2-AC predictor "
            "(probably the mask-denoising predictor of a pretraining file; load its encoder with load_encoder)"
        )
    width, encoder_dim = embed.shape
    depth = len(_block_indices(state_dict, "predictor_blocks"))
    if depth == 0:
        raise CheckpointError("predictor state dict has no predictor_blocks.{i}.* tensors")
    hidden = require(state_dict, "predictor_blocks.0.mlp.fc1.weight", "predictor state dict").shape[0]
    try:
        return PredictorConfig(
            image_size=int(image_size),
            patch_size=int(patch_size),
            encoder_dim=int(encoder_dim),
            embed_dim=int(width),
            depth=depth,
            num_heads=_guess_heads(int(width), num_heads),
            mlp_hidden_dim=int(hidden),
            qkv_bias="predictor_blocks.0.attn.qkv.bias" in state_dict,
            action_dim=int(state_dict["action_encoder.weight"].shape[1]),
            use_extrinsics=use_extrinsics,
        )
    except ValueError as error:
        raise CheckpointError(f"predictor tensors describe an impossible config: {error}") from error


def _describe(config: EncoderConfig | PredictorConfig) -> str:
    presets = ENCODER_PRESETS if isinstance(config, EncoderConfig) else PREDICTOR_PRESETS
    shape_fields = ("embed_dim", "depth", "mlp_hidden_dim", "patch_size")
    fits = [
        name
        for name, preset in presets.items()
        if all(getattr(preset, f) == getattr(config, f) for f in shape_fields)
        and getattr(preset, "encoder_dim", None) == getattr(config, "encoder_dim", None)
    ]
    text = (
        f"width {config.embed_dim}, depth {config.depth}, heads {config.num_heads} (guessed), "
        f"mlp {config.mlp_hidden_dim}, patch {config.patch_size}"
    )
    if isinstance(config, PredictorConfig):
        text += f", encoder width {config.encoder_dim}"
    return text + (f"; fitting preset: {', '.join(fits)}" if fits else "; no preset fits")


def _hint(state_dict: Mapping[str, torch.Tensor], kind: str) -> str:
    if kind not in ("encoder", "predictor"):
        return ""
    try:
        config = infer_encoder_config(state_dict) if kind == "encoder" else infer_predictor_config(state_dict)
    except CheckpointError as error:
        return f"(could not infer a config from the file: {error})"
    return f"the file's tensors describe: {_describe(config)}"


def load_state_dict_strict(module: nn.Module, state_dict: Mapping[str, torch.Tensor], what: str, kind: str) -> None:
    """Copy `state_dict` into `module`; any missing/unexpected key or shape mismatch is a CheckpointError."""
    state_dict = tensor_dict(state_dict, what)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = [
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(state_dict))
        if tuple(state_dict[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys ({len(missing)}): {missing[:10]}{' …' if len(missing) > 10 else ''}")
    if unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {unexpected[:10]}{' …' if len(unexpected) > 10 else ''}")
    if mismatched:
        problems.append(f"shape mismatches ({len(mismatched)}): {mismatched[:6]}{' …' if len(mismatched) > 6 else ''}")
    if problems:
        raise CheckpointError(f"{what} does not fit the model: " + "; ".join(problems) + f". {_hint(state_dict, kind)}".rstrip(" ."))
    non_float = [k for k, v in state_dict.items() if not v.is_floating_point()]
    if non_float:
        raise CheckpointError(f"{what} has non-floating-point weights under {non_float[:8]}")
    # Modules built on the meta device take the loaded tensors as they are (no random init, no copy).
    on_meta = any(p.is_meta for p in module.parameters())
    module.load_state_dict(state_dict, strict=True, assign=on_meta)


def load_safetensors(files: list[Path]) -> dict[str, torch.Tensor]:
    """Tensors of one or more safetensors shards, read on CPU; a name repeated across shards is an error."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for file in files:
        try:
            part = load_file(str(file), device="cpu")
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(f"cannot read safetensors file {file}: {error}") from error
        duplicate = set(part) & set(tensors)
        if duplicate:
            raise CheckpointError(f"tensor names repeated across shards: {sorted(duplicate)[:5]}")
        tensors.update(part)
    return tensors

def empty_module(cls, config):
    """A module without initialised weights (meta device): loading assigns every tensor."""
    with torch.device("meta"):
        return cls(config)


def build_module(cls, config_cls, values: Any, what: str):
    try:
        return empty_module(cls, config_cls.from_dict(values))
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"{what} config is invalid: {error}") from error


def to_device_dtype(module: nn.Module, device, dtype) -> nn.Module:
    """Move to `device` in `dtype` (None: float32, whatever the file stored)."""
    return module.to(device=device, dtype=dtype or torch.float32)


