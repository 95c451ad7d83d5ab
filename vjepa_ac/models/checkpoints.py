"""Loading and saving model weights: official V-JEPA 2(-AC) `.pt` files, Hugging Face safetensors, ours.

Every load is strict: a missing key, an unexpected key or a shape mismatch raises `CheckpointError`
naming the keys and the configuration the file's tensors actually describe, so nothing is ever
silently random-initialised. Pickle files are read with `torch.load(weights_only=True)` only.

Our format is a directory with `model.safetensors` (keys `encoder.<name>` / `predictor.<name>` under
the reference parameter names) and `config.json` (encoder and predictor configs, image size and free
metadata such as model-card fields).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vjepa_ac.models.ac_predictor import ActionConditionedPredictor
from vjepa_ac.models.presets import ENCODER_PRESETS, PREDICTOR_PRESETS, EncoderConfig, PredictorConfig
from vjepa_ac.models.vision_encoder import VisionEncoder
from vjepa_ac.models.world_model import WorldModel, WorldModelConfig

__all__ = [
    "CheckpointError",
    "EMBEDDED_MODEL_DIR",
    "FORMAT_NAME",
    "FORMAT_VERSION",
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
]

EMBEDDED_MODEL_DIR = Path(__file__).resolve().parents[1] / "assets" / "embedded_model"
FORMAT_NAME = "vjepa_ac.world_model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"

# Head counts cannot be read off tensor shapes. Published widths have known counts; every small
# preset of ours uses 4 heads, which is the fallback for widths below 512.
_KNOWN_HEADS = {1024: 16, 1280: 16, 1408: 22}
_SMALL_WIDTH_HEADS = 4
_PREFIXES = ("module.", "backbone.")
_IGNORED_ENCODER_KEYS = ("pos_embed",)


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


def _tensor_dict(state_dict: Any, what: str) -> dict[str, torch.Tensor]:
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


def _require(state_dict: Mapping[str, Any], key: str, what: str) -> torch.Tensor:
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
    weight = _require(state_dict, "patch_embed.proj.weight", "encoder state dict")
    if weight.ndim != 5:
        raise CheckpointError(f"patch_embed.proj.weight must be a Conv3d weight, got shape {tuple(weight.shape)}")
    width, channels, tubelet, patch, patch_w = weight.shape
    if patch != patch_w:
        raise CheckpointError(f"non-square patches {patch}x{patch_w} are not supported")
    depth = len(_block_indices(state_dict, "blocks"))
    if depth == 0:
        raise CheckpointError("encoder state dict has no blocks.{i}.* tensors")
    hidden = _require(state_dict, "blocks.0.mlp.fc1.weight", "encoder state dict").shape[0]
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
    embed = _require(state_dict, "predictor_embed.weight", "predictor state dict")
    if "action_encoder.weight" not in state_dict:
        raise CheckpointError(
            "predictor state dict has no action_encoder: it is not a V-JEPA 2-AC predictor "
            "(probably the mask-denoising predictor of a pretraining file; load its encoder with load_encoder)"
        )
    width, encoder_dim = embed.shape
    depth = len(_block_indices(state_dict, "predictor_blocks"))
    if depth == 0:
        raise CheckpointError("predictor state dict has no predictor_blocks.{i}.* tensors")
    hidden = _require(state_dict, "predictor_blocks.0.mlp.fc1.weight", "predictor state dict").shape[0]
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
    state_dict = _tensor_dict(state_dict, what)
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


# -- Hugging Face layout ----------------------------------------------------------------------------
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


def _hf_config(directory: Path) -> dict[str, Any] | None:
    path = directory / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot read {path}: {error}") from error
    return values if isinstance(values, dict) and "hidden_size" in values else None


def _load_safetensors(files: list[Path]) -> dict[str, torch.Tensor]:
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


def _load_hf_encoder(path: Path, num_heads: int | None, image_size: int | None) -> VisionEncoder:
    files = sorted(path.glob("*.safetensors")) if path.is_dir() else [path]
    if not files:
        raise CheckpointError(f"no .safetensors files in {path}")
    state_dict = hf_encoder_state_dict(_load_safetensors(files))
    hf = _hf_config(path if path.is_dir() else path.parent)
    if hf is not None:
        try:
            config = EncoderConfig(
                image_size=int(image_size or hf.get("crop_size", 256)),
                patch_size=int(hf.get("patch_size", 16)),
                tubelet_size=int(hf.get("tubelet_size", 2)),
                embed_dim=int(hf["hidden_size"]),
                depth=int(hf["num_hidden_layers"]),
                num_heads=int(num_heads or hf["num_attention_heads"]),
                mlp_hidden_dim=int(_require(state_dict, "blocks.0.mlp.fc1.weight", "HF encoder").shape[0]),
                qkv_bias=bool(hf.get("qkv_bias", True)),
                layer_norm_eps=float(hf.get("layer_norm_eps", 1e-6)),
                in_channels=int(hf.get("in_chans", 3)),
            )
        except (KeyError, ValueError, TypeError) as error:
            raise CheckpointError(f"Hugging Face config.json next to {path} is unusable: {error}") from error
    else:
        config = infer_encoder_config(state_dict, num_heads, image_size)
    encoder = _empty(VisionEncoder, config)
    load_state_dict_strict(encoder, state_dict, f"Hugging Face encoder {path}", "encoder")
    return encoder


# -- our format -------------------------------------------------------------------------------------
def _read_our_config(directory: Path) -> dict[str, Any]:
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


def _empty(cls, config):
    """A module without initialised weights (meta device): loading assigns every tensor."""
    with torch.device("meta"):
        return cls(config)


def _build(cls, config_cls, values: Any, what: str):
    try:
        return _empty(cls, config_cls.from_dict(values))
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"{what} config is invalid: {error}") from error


def _load_ours(directory: Path, need_predictor: bool):
    config = _read_our_config(directory)
    groups = _split_ours(_load_safetensors([directory / WEIGHTS_FILE]), directory)
    encoder = _build(VisionEncoder, EncoderConfig, config.get("encoder"), f"{directory} encoder")
    load_state_dict_strict(encoder, groups["encoder"], f"{directory} encoder weights", "encoder")
    predictor = None
    if config.get("predictor") is not None:
        predictor = _build(ActionConditionedPredictor, PredictorConfig, config["predictor"], f"{directory} predictor")
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


# -- official files ---------------------------------------------------------------------------------
def _official_dict(path: Path) -> Mapping[str, Any]:
    checkpoint = safe_torch_load(path)
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"{path} holds a {type(checkpoint).__name__}, not a checkpoint dict")
    return checkpoint


def _official_encoder(checkpoint: Mapping[str, Any], path: Path, key: str | None, num_heads, image_size) -> VisionEncoder:
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
    state = strip_prefixes(_tensor_dict(state, f"{path} [{key}]"))
    weights = {k: v for k, v in state.items() if k not in _IGNORED_ENCODER_KEYS}
    encoder = _empty(VisionEncoder, infer_encoder_config(state, num_heads, image_size))
    load_state_dict_strict(encoder, weights, f"{path} [{key}]", "encoder")
    return encoder


def _device_dtype(module: nn.Module, device, dtype) -> nn.Module:
    """Move to `device` in `dtype` (None: float32, whatever the file stored)."""
    return module.to(device=device, dtype=dtype or torch.float32)


def load_encoder(
    path, device="cpu", dtype: torch.dtype | None = None, num_heads: int | None = None,
    image_size: int | None = None, key: str | None = None,
) -> VisionEncoder:
    """A `VisionEncoder` from our directory, an official `.pt` (AC or encoder-only; `target_encoder`
    preferred, or `key`), or Hugging Face VJEPA2 safetensors (file or directory)."""
    path = Path(path)
    if path.is_dir() and (path / CONFIG_FILE).is_file() and _hf_config(path) is None:
        encoder, _, _ = _load_ours(path, need_predictor=False)
    elif path.suffix == ".safetensors" or path.is_dir():
        encoder = _load_hf_encoder(path, num_heads, image_size)
    else:
        encoder = _official_encoder(_official_dict(path), path, key, num_heads, image_size)
    return _device_dtype(encoder.eval(), device, dtype)


def load_predictor(
    path, encoder_config: EncoderConfig | None = None, device="cpu", dtype: torch.dtype | None = None,
    num_heads: int | None = None, use_extrinsics: bool = False,
) -> ActionConditionedPredictor:
    """The AC predictor of our directory or of an official AC `.pt` file (grid from `encoder_config`)."""
    path = Path(path)
    if path.is_dir():
        _, predictor, _ = _load_ours(path, need_predictor=True)
    else:
        checkpoint = _official_dict(path)
        if "predictor" not in checkpoint:
            raise CheckpointError(f"{path} has no 'predictor' entry (keys: {sorted(map(str, checkpoint))[:10]})")
        state = strip_prefixes(_tensor_dict(checkpoint["predictor"], f"{path} [predictor]"))
        grid = {} if encoder_config is None else {"image_size": encoder_config.image_size, "patch_size": encoder_config.patch_size}
        config = infer_predictor_config(state, num_heads=num_heads, use_extrinsics=use_extrinsics, **grid)
        predictor = _empty(ActionConditionedPredictor, config)
        load_state_dict_strict(predictor, state, f"{path} predictor", "predictor")
    return _device_dtype(predictor.eval(), device, dtype)


def world_model_image_size(path=None) -> int:
    """The frame size a world model takes, read from our config alone (the weights stay on disk).

    Official `.pt` files store no size (it is inferred from their tensors), so they are loaded.
    """
    directory = EMBEDDED_MODEL_DIR if path is None else Path(path)
    if directory.is_dir():
        config = _read_our_config(directory)  # validated as loading validates it; the encoder is built on meta
        return _build(VisionEncoder, EncoderConfig, config.get("encoder"), f"{directory} encoder").config.image_size
    return load_world_model(path).image_size


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
        encoder, predictor, stored = _load_ours(path, need_predictor=True)
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
        checkpoint = _official_dict(path)
        if "predictor" not in checkpoint or "encoder" not in checkpoint:
            raise CheckpointError(
                f"{path} is not a V-JEPA 2-AC checkpoint (needs 'encoder' and 'predictor'; has {sorted(map(str, checkpoint))[:10]})"
            )
        encoder = _official_encoder(checkpoint, path, "encoder", encoder_heads, image_size)
        predictor_state = strip_prefixes(_tensor_dict(checkpoint["predictor"], f"{path} [predictor]"))
        predictor = _empty(
            ActionConditionedPredictor,
            infer_predictor_config(
                predictor_state,
                num_heads=predictor_heads,
                image_size=encoder.config.image_size,
                patch_size=encoder.config.patch_size,
            ),
        )
        load_state_dict_strict(predictor, predictor_state, f"{path} predictor", "predictor")
        metadata = {"source": str(path)}
    try:
        world_model = WorldModel(encoder, predictor, config, metadata=metadata)
    except ValueError as error:
        raise CheckpointError(f"{path}: encoder and predictor do not fit together: {error}") from error
    return _device_dtype(world_model, device, dtype)
