"""Checkpoint loading/saving: our directory format, official .pt layouts, Hugging Face safetensors,
and the promised errors for corrupted, mismatched or unsafe files."""

import json

import numpy as np
import pytest
import torch
from models_support import fixture_dir, tiny_encoder, tiny_world_model
from safetensors.torch import save_file

import vjepa_ac.models.checkpoints as checkpoints
from vjepa_ac.models import (
    ENCODER_PRESETS,
    PREDICTOR_PRESETS,
    ActionConditionedPredictor,
    CheckpointError,
    VisionEncoder,
    WorldModel,
    infer_encoder_config,
    infer_predictor_config,
    load_encoder,
    load_world_model,
    save_encoder,
    save_world_model,
    world_model_image_size,
)
from vjepa_ac.models.checkpoints import load_state_dict_strict, strip_prefixes


class NotATensor:
    """Any pickled non-tensor object must be refused, never unpickled."""

    def __init__(self):
        self.payload = "x"


def images(count=2, size=64):
    return np.random.default_rng(1).integers(0, 256, size=(count, size, size, 3), dtype=np.uint8)


def official(tmp_path):
    return torch.load(fixture_dir() / "official_layout_tiny_a.pt", weights_only=True)


@torch.no_grad()
def test_our_format_round_trip(tmp_path):
    model = tiny_world_model(encode_batch_size=3)
    target = save_world_model(model, tmp_path / "model", metadata={"card": {"name": "tiny", "license": "Apache-2.0"}})
    config = json.loads((target / "config.json").read_text())
    assert config["format"] == "vjepa_ac.world_model" and config["image_size"] == 64
    assert config["encoder"]["embed_dim"] == 48 and config["predictor"]["embed_dim"] == 64
    loaded = load_world_model(target)
    assert loaded.metadata["card"]["name"] == "tiny" and loaded.config.encode_batch_size == 3
    tokens = model.encode(images())
    assert torch.equal(loaded.encode(images()), tokens)
    actions = 0.05 * torch.randn(4, 2, 7, generator=torch.Generator().manual_seed(0))
    assert torch.equal(loaded.rollout(tokens[:1], torch.zeros(1, 7), actions), model.rollout(tokens[:1], torch.zeros(1, 7), actions))
    assert load_world_model(target, dtype=torch.float64).dtype == torch.float64
    with pytest.raises(CheckpointError, match="JSON"):
        save_world_model(model, tmp_path / "bad", metadata={"x": object()})


def test_encoder_only_directory(tmp_path):
    encoder = tiny_encoder()
    save_encoder(encoder, tmp_path / "encoder", metadata={"stage": "pretrained"})
    loaded = load_encoder(tmp_path / "encoder")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), encoder.state_dict().values()))
    with pytest.raises(CheckpointError, match="encoder only"):
        load_world_model(tmp_path / "encoder")


def test_embedded_default_missing_or_present(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "EMBEDDED_MODEL_DIR", tmp_path / "embedded_model")
    with pytest.raises(CheckpointError, match="embedded model is missing"):
        load_world_model()
    save_world_model(tiny_world_model(), tmp_path / "embedded_model")
    assert isinstance(load_world_model(), WorldModel)


def test_image_size_is_read_without_loading_the_weights(tmp_path, monkeypatch):
    directory = save_world_model(tiny_world_model(), tmp_path / "model")
    assert world_model_image_size(directory) == 64
    (directory / "model.safetensors").write_bytes(b"not weights")  # the config alone answers
    assert world_model_image_size(directory) == 64
    monkeypatch.setattr(checkpoints, "EMBEDDED_MODEL_DIR", directory)
    assert world_model_image_size() == 64
    config = json.loads((directory / "config.json").read_text())
    config["encoder"]["image_size"] = "big"
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="encoder config is invalid"):
        world_model_image_size(directory)
    with pytest.raises(CheckpointError, match="not a vjepa_ac model directory"):
        world_model_image_size(tmp_path)


def test_official_layout_prefixes_and_pos_embed(tmp_path):
    checkpoint = official(tmp_path)
    assert "module.backbone.pos_embed" in checkpoint["encoder"]
    model = load_world_model(fixture_dir() / "official_layout_tiny_a.pt")
    assert (model.image_size, model.tokens_per_frame, model.embed_dim) == (64, 16, 96)
    assert model.predictor.config.num_heads == 4 and model.encoder.config.num_heads == 4
    # encoder-only loading prefers target_encoder and ignores the same pos_embed
    encoder = load_encoder(fixture_dir() / "official_layout_tiny_a.pt")
    assert torch.equal(encoder.blocks[0].attn.qkv.weight, model.encoder.blocks[0].attn.qkv.weight)
    assert strip_prefixes({"module.backbone.module.a": 1, "backbone.b": 2}) == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda enc, pred: enc.pop("module.backbone.blocks.1.mlp.fc2.bias"), r"missing keys \(1\): \['blocks.1.mlp.fc2.bias'\]"),
        (lambda enc, pred: enc.__setitem__("module.backbone.cls_token", torch.zeros(1, 1, 96)), "unexpected keys.*cls_token"),
        (lambda enc, pred: pred.__setitem__("module.backbone.predictor_blocks.1.mlp.fc1.weight", torch.zeros(128, 64)),
         "shape mismatches.*predictor_blocks.1.mlp.fc1.weight: file \\(128, 64\\) vs model \\(256, 64\\)"),
        (lambda enc, pred: enc.__setitem__("module.backbone.norm.bias", "not a tensor"), "non-tensor"),
    ],
)
def test_mismatched_official_files_name_the_keys(tmp_path, edit, message):
    checkpoint = official(tmp_path)
    edit(checkpoint["encoder"], checkpoint["predictor"])
    torch.save(checkpoint, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match=message):
        load_world_model(tmp_path / "edited.pt")


def test_mismatch_names_the_preset_that_would_fit():
    with torch.device("meta"):
        vit_large = VisionEncoder(ENCODER_PRESETS["vit_large"]).state_dict()
        vit_huge = VisionEncoder(ENCODER_PRESETS["vit_huge"])
    with pytest.raises(CheckpointError, match="width 1024, depth 24, heads 16.*fitting preset: vit_large"):
        load_state_dict_strict(vit_huge, vit_large, "test file", "encoder")


def test_configs_inferred_from_official_sized_state_dicts():
    with torch.device("meta"):
        for name in ("vit_large", "vit_huge", "vit_giant"):
            assert infer_encoder_config(VisionEncoder(ENCODER_PRESETS[name]).state_dict()) == ENCODER_PRESETS[name]
        predictor = ActionConditionedPredictor(PREDICTOR_PRESETS["ac_vit_giant"]).state_dict()
    assert infer_predictor_config(predictor) == PREDICTOR_PRESETS["ac_vit_giant"]
    with pytest.raises(CheckpointError, match="not a V-JEPA 2-AC predictor"):
        infer_predictor_config({"predictor_embed.weight": torch.zeros(4, 4), "mask_tokens.0": torch.zeros(1)})


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"encoder": NotATensor(), "predictor": {}}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refusing to load.*not plain tensors"):
        load_world_model(tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_encoder(tmp_path / "evil.pt")


def test_corrupted_files_are_refused(tmp_path):
    (tmp_path / "garbage.pt").write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="cannot read"):
        load_world_model(tmp_path / "garbage.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_world_model(tmp_path / "absent.pt")
    directory = save_world_model(tiny_world_model(), tmp_path / "model")
    blob = (directory / "model.safetensors").read_bytes()
    (directory / "model.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="cannot read safetensors"):
        load_world_model(directory)
    (directory / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="not a vjepa_ac.world_model config"):
        load_world_model(directory)


def test_wrong_config_in_our_format_is_refused(tmp_path):
    directory = save_world_model(tiny_world_model(), tmp_path / "model")
    config = json.loads((directory / "config.json").read_text())
    config["predictor"]["depth"] = 3
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"missing keys \(\d+\): \['predictor_blocks.2"):
        load_world_model(directory)
    config["predictor"]["depth"] = 2
    config["encoder"]["unknown_field"] = 1
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="unknown EncoderConfig fields"):
        load_world_model(directory)


def hf_tensors(encoder: VisionEncoder) -> dict:
    """Our encoder written the way transformers' VJEPA2Model names it (q/k/v split)."""
    out = {}
    for name, value in encoder.state_dict().items():
        parts = name.split(".")
        if name.startswith("patch_embed."):
            out["encoder.embeddings.patch_embeddings.proj." + parts[-1]] = value
        elif name.startswith("norm."):
            out["encoder.layernorm." + parts[-1]] = value
        elif ".attn.qkv." in name:
            for index, role in enumerate(("query", "key", "value")):
                out[f"encoder.layer.{parts[1]}.attention.{role}.{parts[-1]}"] = value.chunk(3)[index].clone()
        elif ".attn.proj." in name:
            out[f"encoder.layer.{parts[1]}.attention.proj.{parts[-1]}"] = value
        else:
            out["encoder.layer." + ".".join(parts[1:])] = value
    return {k: v.contiguous() for k, v in out.items()}


@torch.no_grad()
def test_hugging_face_layout(tmp_path):
    encoder = tiny_encoder(embed_dim=48, heads=3)
    tensors = hf_tensors(encoder)
    tensors["predictor.embeddings.predictor_embeddings.weight"] = torch.zeros(2, 2)  # skipped: another module
    save_file(tensors, str(tmp_path / "model.safetensors"))
    hf_config = {"hidden_size": 48, "num_hidden_layers": 2, "num_attention_heads": 3, "mlp_ratio": 2.0,
                 "patch_size": 16, "crop_size": 64, "tubelet_size": 2, "layer_norm_eps": 1e-6, "qkv_bias": True}
    (tmp_path / "config.json").write_text(json.dumps(hf_config))
    loaded = load_encoder(tmp_path)
    assert loaded.config == encoder.config
    clip = torch.randn(2, 3, 2, 64, 64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(loaded(clip), encoder(clip), rtol=0, atol=0)
    # without a config.json next to the file the config is inferred (heads: 4 below width 512, or given)
    alone = tmp_path / "alone"
    alone.mkdir()
    save_file(tensors, str(alone / "weights.safetensors"))
    assert load_encoder(alone / "weights.safetensors", num_heads=3, image_size=64).config == encoder.config
    tensors["encoder.layer.0.attention.rotary.weight"] = torch.zeros(1)
    save_file(tensors, str(alone / "weights.safetensors"))
    with pytest.raises(CheckpointError, match="unexpected Hugging Face encoder key"):
        load_encoder(alone / "weights.safetensors", num_heads=3)
    del tensors["encoder.layer.0.attention.rotary.weight"], tensors["encoder.layer.1.attention.value.bias"]
    save_file(tensors, str(alone / "weights.safetensors"))
    with pytest.raises(CheckpointError, match="missing \\['value'\\]"):
        load_encoder(alone / "weights.safetensors", num_heads=3)
