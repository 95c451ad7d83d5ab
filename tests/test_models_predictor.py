"""AC predictor: reference parity, block-causal structure, cached stepping, extrinsics and input checks."""

import pytest
import torch
from models_support import tiny_predictor

from vjepa_ac.models import (
    ENCODER_PRESETS,
    PREDICTOR_PRESETS,
    ActionConditionedPredictor,
    EncoderConfig,
    PredictorConfig,
    VisionEncoder,
    block_causal_mask,
)

HW = 16  # tiny predictors: 64 px at patch 16


def inputs(batch=2, steps=3, encoder_dim=48, extrinsics=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, steps * HW, encoder_dim, generator=g)
    actions = 0.1 * torch.randn(batch, steps, 7, generator=g)
    states = torch.randn(batch, steps, 7, generator=g)
    ext = torch.randn(batch, steps, 6, generator=g) if extrinsics else None
    return x, actions, states, ext


@torch.no_grad()
@pytest.mark.parametrize("extrinsics", [False, True])
def test_block_causal(extrinsics):
    predictor = tiny_predictor(use_extrinsics=extrinsics)
    x, actions, states, ext = inputs(extrinsics=extrinsics)
    base = predictor(x, actions, states, ext)
    # Changing step 2 leaves steps 0 and 1 untouched.
    x2, actions2 = x.clone(), actions.clone()
    x2[:, 2 * HW :] += 1.0
    actions2[:, 2] += 0.5
    later = predictor(x2, actions2, states, ext)
    assert (later[:, : 2 * HW] - base[:, : 2 * HW]).abs().max() < 1e-6
    assert (later[:, 2 * HW :] - base[:, 2 * HW :]).abs().max() > 1e-3
    # A step's own action reaches that step's patch tokens (same-step attention).
    actions3 = actions.clone()
    actions3[:, 0] += 0.5
    changed = predictor(x, actions3, states, ext)
    assert (changed[:, :HW] - base[:, :HW]).abs().max() > 1e-3
    if extrinsics:
        ext2 = ext.clone()
        ext2[:, 1] += 1.0
        moved = predictor(x, actions, states, ext2)
        assert (moved[:, :HW] - base[:, :HW]).abs().max() < 1e-6
        assert (moved[:, HW : 2 * HW] - base[:, HW : 2 * HW]).abs().max() > 1e-3


@torch.no_grad()
@pytest.mark.parametrize("extrinsics,width", [(False, None), (True, None), (False, 96)])
def test_cached_steps_equal_full_forward(extrinsics, width):
    predictor = tiny_predictor(use_extrinsics=extrinsics, image_width=width)
    per_frame = predictor.config.tokens_per_frame
    g = torch.Generator().manual_seed(1)
    steps = 4
    x = torch.randn(2, steps * per_frame, 48, generator=g)
    actions, states = torch.randn(2, steps, 7, generator=g), torch.randn(2, steps, 7, generator=g)
    ext = torch.randn(2, steps, 6, generator=g) if extrinsics else None
    full = predictor(x, actions, states, ext)
    cache, outs = None, []
    for t in range(steps):
        out, cache = predictor.forward_step(
            x[:, t * per_frame : (t + 1) * per_frame], actions[:, t], states[:, t], cache, None if ext is None else ext[:, t]
        )
        outs.append(out)
    assert cache.steps == steps
    torch.testing.assert_close(torch.cat(outs, 1), full, rtol=0, atol=1e-5)


@torch.no_grad()
def test_cache_broadcasts_from_batch_one():
    predictor = tiny_predictor()
    x, actions, states, _ = inputs(batch=1, steps=2)
    _, cache = predictor.forward_step(x[:, :HW], actions[:, 0], states[:, 0])
    more_actions = torch.cat([actions[:, 1], actions[:, 1] + 0.3])
    out, _ = predictor.forward_step(x[:, HW:].expand(2, -1, -1), more_actions, states[:, 1].expand(2, -1), cache)
    full = predictor(x, actions, states)[:, HW:]
    torch.testing.assert_close(out[:1], full, rtol=0, atol=1e-5)
    assert (out[1] - out[0]).abs().max() > 1e-3


def test_bad_inputs_are_refused():
    predictor = tiny_predictor()
    x, actions, states, _ = inputs()
    with pytest.raises(ValueError, match="multiple of 16 tokens"):
        predictor(x[:, :-1], actions, states)
    with pytest.raises(ValueError, match="actions must have shape"):
        predictor(x, actions[:, :2], states)
    with pytest.raises(ValueError, match="use_extrinsics=False"):
        predictor(x, actions, states, torch.zeros(2, 3, 6))
    with pytest.raises(ValueError, match="uses extrinsics"):
        tiny_predictor(use_extrinsics=True)(x, actions, states)
    with pytest.raises(ValueError, match="one frame"):
        predictor.forward_step(x[:, : 2 * HW], actions[:, 0], states[:, 0])


def test_reference_options_we_do_not_have_are_refused():
    with pytest.raises(ValueError, match="SwiGLU"):
        PredictorConfig.from_reference({"use_silu": True})
    with pytest.raises(ValueError, match="use_rope"):
        EncoderConfig.from_reference({"use_rope": False})
    with pytest.raises(ValueError, match="num_heads"):
        PredictorConfig(embed_dim=100, num_heads=16)
    with pytest.raises(ValueError, match="too small"):
        PredictorConfig(embed_dim=20, num_heads=4)  # head_dim 5 leaves no room for 3D RoPE


@torch.no_grad()
def test_without_frame_causality_every_step_sees_every_step():
    config = PredictorConfig.from_reference(
        {"img_size": 64, "patch_size": 16, "embed_dim": 48, "predictor_embed_dim": 64, "depth": 2, "num_heads": 2,
         "mlp_ratio": 2.0, "is_frame_causal": False}
    )
    assert config.frame_causal is False
    predictor = tiny_predictor()
    open_predictor = ActionConditionedPredictor(config)
    open_predictor.load_state_dict(predictor.state_dict())
    x, actions, states, _ = inputs()
    changed = actions.clone()
    changed[:, 2] += 0.5
    assert (open_predictor(x, changed, states)[:, :HW] - open_predictor(x, actions, states)[:, :HW]).abs().max() > 1e-4
    with pytest.raises(RuntimeError, match="frame-causal"):
        open_predictor.forward_step(x[:, :HW], actions[:, 0], states[:, 0])


def test_official_parameter_counts():
    with torch.device("meta"):
        encoder = VisionEncoder(ENCODER_PRESETS["vit_giant"])
        predictor = ActionConditionedPredictor(PREDICTOR_PRESETS["ac_vit_giant"])
    assert sum(p.numel() for p in encoder.parameters()) == 1_012_173_952
    assert sum(p.numel() for p in predictor.parameters()) == 305_220_992
    assert encoder.blocks[0].mlp.fc1.out_features == 6144 and encoder.blocks[0].attn.head_dim == 64
    assert predictor.predictor_blocks[0].attn.head_dim == 64 and len(predictor.predictor_blocks) == 24


@torch.no_grad()
def test_official_sizes_run_on_the_meta_device():
    """Shapes through the published sizes (head_dim 64: 3 x 20 rotated + 4 unrotated) without memory."""
    with torch.device("meta"):
        encoder = VisionEncoder(ENCODER_PRESETS["vit_giant"])
        predictor = ActionConditionedPredictor(PREDICTOR_PRESETS["ac_vit_giant"])
        tokens = encoder(torch.empty(1, 3, 2, 256, 256))
        assert tokens.shape == (1, 256, 1408)
        pred = predictor(torch.empty(1, 2 * 256, 1408), torch.empty(1, 2, 7), torch.empty(1, 2, 7))
        assert pred.shape == (1, 512, 1408)
        step, cache = predictor.forward_step(tokens, torch.empty(3, 7), torch.empty(3, 7))
        assert step.shape == (3, 256, 1408) and cache.layers[0][0].shape == (3, 16, 258, 64)


def test_presets_match_the_published_sizes():
    sizes = {name: (c.embed_dim, c.depth, c.num_heads, c.mlp_hidden_dim) for name, c in ENCODER_PRESETS.items()}
    assert sizes["vit_large"] == (1024, 24, 16, 4096)
    assert sizes["vit_huge"] == (1280, 32, 16, 5120)
    assert sizes["vit_giant"] == (1408, 40, 22, 6144)
    assert ENCODER_PRESETS["vit_giant"].image_size == 256 and ENCODER_PRESETS["vit_giant"].tokens_per_frame == 256


def test_block_causal_mask_is_built_once_per_length():
    mask = block_causal_mask(3, 2)
    expected = torch.tensor([[1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0],
                             [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(mask, expected)
    predictor = tiny_predictor()
    first = predictor.attention_mask(3, torch.device("cpu"))
    assert first is predictor.attention_mask(3, torch.device("cpu")) and first.shape == (54, 54)
    assert predictor.attention_mask(1, torch.device("cpu")) is None  # one step: everything visible


@torch.no_grad()
def test_residual_output_adds_the_input_frame_and_keeps_the_cache_exact():
    import dataclasses

    base = tiny_predictor()
    config = dataclasses.replace(base.config, residual_output=True)
    predictor = ActionConditionedPredictor(config)
    predictor.load_state_dict(base.state_dict())  # same parameters: only the output differs
    x, actions, states, _ = inputs(batch=2, steps=3)
    torch.testing.assert_close(predictor(x, actions, states), base(x, actions, states) + x, rtol=0, atol=1e-6)
    cache, outs = None, []
    for t in range(3):
        out, cache = predictor.forward_step(x[:, t * HW : (t + 1) * HW], actions[:, t], states[:, t], cache)
        outs.append(out)
    torch.testing.assert_close(torch.cat(outs, 1), predictor(x, actions, states), rtol=0, atol=1e-5)
    # With a zero change the prediction is the input frame: nothing to rebuild.
    predictor.predictor_proj.weight.zero_()
    predictor.predictor_proj.bias.zero_()
    torch.testing.assert_close(predictor(x, actions, states), x, rtol=0, atol=0)
    # Saved configs name the option only when it is on, so reference-style configs are written as before.
    assert "residual_output" not in base.config.to_dict()
    assert PredictorConfig.from_dict(config.to_dict()) == config
    assert PREDICTOR_PRESETS["ac_embedded_residual"].residual_output
