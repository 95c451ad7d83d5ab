"""Model configurations and named presets (the published sizes and small CPU sizes).

Configs are frozen dataclasses that round-trip through plain dicts (`to_dict` / `from_dict`), which
is what our checkpoint `config.json` stores, and can be made from the reference constructors' keyword
arguments (`from_reference`), which is what the parity fixtures store.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from vjepa_ac.models.rope import rope_segment_size

__all__ = [
    "EncoderConfig",
    "PredictorConfig",
    "ENCODER_PRESETS",
    "PREDICTOR_PRESETS",
    "WORLD_MODEL_PRESETS",
    "encoder_preset",
    "predictor_preset",
    "predictor_config_for",
]


def _from_dict(cls, values: dict[str, Any]):
    """Build a config dataclass, naming unknown fields instead of raising a bare TypeError."""
    if not isinstance(values, dict):
        raise ValueError(f"{cls.__name__} must be given as a dict, got {type(values).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {unknown} (known: {sorted(names)})")
    return cls(**values)


def _check_positive_ints(owner: str, config, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{owner}.{name} must be a positive int, got {value!r}")


# -- reference constructor kwargs (parity fixtures) ---------------------------------------------------
# Options of the reference constructors that change the computation but do not exist here (learned or
# sincos position embeddings, SwiGLU MLPs, custom attention scales) are refused, never ignored;
# options that only size buffers built on the fly here (`num_frames`, `use_sdpa`, …) are dropped.
def _image_size(value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"img_size must be an int or (height, width), got {value!r}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _refuse_unsupported(kwargs: dict[str, Any]) -> None:
    if not kwargs.get("use_rope", True):
        raise ValueError("use_rope=False (learned/sincos position embeddings) is not supported")
    if kwargs.get("use_silu", False):
        raise ValueError("use_silu=True (SwiGLU MLP) is not supported; V-JEPA 2 uses GELU")
    if kwargs.get("qk_scale") is not None:
        raise ValueError("a custom qk_scale is not supported")
    if kwargs.get("handle_nonsquare_inputs") is False:
        raise ValueError("handle_nonsquare_inputs=False is not supported")


def _hidden(kwargs: dict[str, Any], width: int) -> int:
    return int(width * float(kwargs.get("mlp_ratio", 4.0)))



@dataclass(frozen=True)
class EncoderConfig:
    """RoPE ViT over tubelets. `image_size` is what the weights were trained at (images get resized to it)."""

    image_size: int = 256
    patch_size: int = 16
    tubelet_size: int = 2
    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_hidden_dim: int = 4096
    qkv_bias: bool = True
    layer_norm_eps: float = 1e-6
    in_channels: int = 3

    def __post_init__(self):
        _check_positive_ints(
            "EncoderConfig",
            self,
            ("image_size", "patch_size", "tubelet_size", "embed_dim", "depth", "num_heads", "mlp_hidden_dim", "in_channels"),
        )
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        rope_segment_size(self.embed_dim // self.num_heads)

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def grid_size(self) -> int:
        return self.image_size // self.patch_size

    @property
    def tokens_per_frame(self) -> int:
        return self.grid_size**2

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EncoderConfig:
        return _from_dict(cls, values)

    @classmethod
    def from_reference(cls, kwargs: dict[str, Any]) -> EncoderConfig:
        """`VisionTransformer(**kwargs)` -> config (square images only: the encoder itself takes any grid)."""
        _refuse_unsupported(kwargs)
        height, width = _image_size(kwargs.get("img_size", 224))
        if height != width:
            raise ValueError(f"encoder img_size must be square, got {height}x{width}")
        embed_dim = int(kwargs.get("embed_dim", 768))
        return cls(
            image_size=height,
            patch_size=int(kwargs.get("patch_size", 16)),
            tubelet_size=int(kwargs.get("tubelet_size", 2)),
            embed_dim=embed_dim,
            depth=int(kwargs.get("depth", 12)),
            num_heads=int(kwargs.get("num_heads", 12)),
            mlp_hidden_dim=_hidden(kwargs, embed_dim),
            qkv_bias=bool(kwargs.get("qkv_bias", True)),
            layer_norm_eps=float(kwargs.get("layer_norm_eps", 1e-6)),
            in_channels=int(kwargs.get("in_chans", 3)),
        )


@dataclass(frozen=True)
class PredictorConfig:
    """V-JEPA 2-AC predictor. The token grid is `image_size x image_width` (None: square) / `patch_size`."""

    image_size: int = 256
    patch_size: int = 16
    encoder_dim: int = 1408
    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_hidden_dim: int = 4096
    qkv_bias: bool = True
    layer_norm_eps: float = 1e-6
    action_dim: int = 7
    use_extrinsics: bool = False
    frame_causal: bool = True
    image_width: int | None = None
    # Not in the reference: wrap state Euler angles around this orientation before the state encoder
    # (see ac_predictor.wrap_state_euler). None keeps the reference behaviour.
    state_euler_center: tuple[float, float, float] | None = None
    # Not in the reference: output = the input frame's tokens + the predicted change, so a narrow predictor need
    # not rebuild the whole frame through its width (experiments/yaw_visibility.py: that rebuilding error exceeds
    # a yaw turn's change). False keeps the reference behaviour.
    residual_output: bool = False

    def __post_init__(self):
        if self.state_euler_center is not None:
            center = tuple(float(v) for v in self.state_euler_center)
            if len(center) != 3:
                raise ValueError(f"state_euler_center must have 3 angles, got {self.state_euler_center!r}")
            object.__setattr__(self, "state_euler_center", center)
        _check_positive_ints(
            "PredictorConfig",
            self,
            ("image_size", "patch_size", "encoder_dim", "embed_dim", "depth", "num_heads", "mlp_hidden_dim", "action_dim"),
        )
        if self.image_width is not None:
            _check_positive_ints("PredictorConfig", self, ("image_width",))
        if self.image_size % self.patch_size or self.width % self.patch_size:
            raise ValueError(
                f"image size {self.image_size}x{self.width} is not a multiple of patch_size {self.patch_size}"
            )
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        if self.action_dim < 2:
            raise ValueError("action_dim must be at least 2 (extrinsics use action_dim - 1)")
        rope_segment_size(self.embed_dim // self.num_heads)

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def width(self) -> int:
        return self.image_size if self.image_width is None else self.image_width

    @property
    def grid_height(self) -> int:
        return self.image_size // self.patch_size

    @property
    def grid_width(self) -> int:
        return self.width // self.patch_size

    @property
    def tokens_per_frame(self) -> int:
        return self.grid_height * self.grid_width

    @property
    def conditioning_tokens(self) -> int:
        return 3 if self.use_extrinsics else 2

    @property
    def tokens_per_step(self) -> int:
        return self.conditioning_tokens + self.tokens_per_frame

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        if not self.residual_output:  # configs of reference-style predictors stay as they were written before it
            del values["residual_output"]
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PredictorConfig:
        return _from_dict(cls, values)

    @classmethod
    def from_reference(cls, kwargs: dict[str, Any]) -> PredictorConfig:
        """`VisionTransformerPredictorAC(**kwargs)` -> config."""
        _refuse_unsupported(kwargs)
        height, width = _image_size(kwargs.get("img_size", 224))
        embed_dim = int(kwargs.get("predictor_embed_dim", 384))
        return cls(
            image_size=height,
            image_width=None if width == height else width,
            patch_size=int(kwargs.get("patch_size", 16)),
            encoder_dim=int(kwargs.get("embed_dim", 768)),
            embed_dim=embed_dim,
            depth=int(kwargs.get("depth", 6)),
            num_heads=int(kwargs.get("num_heads", 12)),
            mlp_hidden_dim=_hidden(kwargs, embed_dim),
            qkv_bias=bool(kwargs.get("qkv_bias", True)),
            layer_norm_eps=float(kwargs.get("layer_norm_eps", 1e-6)),
            action_dim=int(kwargs.get("action_embed_dim", 7)),
            use_extrinsics=bool(kwargs.get("use_extrinsics", False)),
            frame_causal=bool(kwargs.get("is_frame_causal", True)),
        )


ENCODER_PRESETS: dict[str, EncoderConfig] = {
    # Published V-JEPA 2 encoders (256 px, patch 16, tubelet 2).
    "vit_large": EncoderConfig(embed_dim=1024, depth=24, num_heads=16, mlp_hidden_dim=4096),
    "vit_huge": EncoderConfig(embed_dim=1280, depth=32, num_heads=16, mlp_hidden_dim=5120),
    "vit_giant": EncoderConfig(embed_dim=1408, depth=40, num_heads=22, mlp_hidden_dim=6144),
    "vit_giant_384": EncoderConfig(image_size=384, embed_dim=1408, depth=40, num_heads=22, mlp_hidden_dim=6144),
    # Small CPU encoders for the embedded simulation model: 64 px, patch 16 -> 4x4 = 16 tokens per frame
    # (a finer grid makes every CEM sample pay for 4x the tokens). vit_micro = the tiny-a fixture encoder.
    "vit_tiny": EncoderConfig(image_size=64, patch_size=16, embed_dim=128, depth=4, num_heads=4, mlp_hidden_dim=512),
    "vit_micro": EncoderConfig(image_size=64, patch_size=16, embed_dim=96, depth=2, num_heads=4, mlp_hidden_dim=384),
    # The shipped embedded model (trained in MuJoCo by `vjepa-ac-train-embedded`): 4x4 tokens of a 128 px
    # frame. 32 px patches keep the token count (and so CEM's cost) of vit_tiny while each token sees the
    # small gripper in 4x the pixels; the 64 px / patch 16 version missed reach goals by 2-6 cm in depth.
    "vit_embedded": EncoderConfig(image_size=128, patch_size=32, embed_dim=128, depth=4, num_heads=4,
                                  mlp_hidden_dim=512),
}

PREDICTOR_PRESETS: dict[str, PredictorConfig] = {
    # The published V-JEPA 2-AC predictor on the ViT-g encoder (305,220,992 parameters).
    "ac_vit_giant": PredictorConfig(encoder_dim=1408, embed_dim=1024, depth=24, num_heads=16, mlp_hidden_dim=4096),
    # Small CPU predictors: width 64, 2 blocks, 4 heads (head_dim 16: 12 rotated + 4 unrotated channels).
    # 800 samples x 10 CEM iterations cost about 1 s of one core (bench/model_throughput.py).
    # ac_micro = the tiny-a fixture predictor.
    "ac_tiny": PredictorConfig(
        image_size=64, patch_size=16, encoder_dim=128, embed_dim=64, depth=2, num_heads=4, mlp_hidden_dim=256
    ),
    "ac_micro": PredictorConfig(
        image_size=64, patch_size=16, encoder_dim=96, embed_dim=64, depth=2, num_heads=4, mlp_hidden_dim=256
    ),
    # The shipped embedded model: sized so CEM at 800 samples x 10 iterations stays under ~2 s per action on
    # 2 CPU cores. States are wrapped around a pointing-down hand (see ac_predictor.wrap_state_euler).
    "ac_embedded": PredictorConfig(
        image_size=128, patch_size=32, encoder_dim=128, embed_dim=64, depth=4, num_heads=4, mlp_hidden_dim=256,
        state_euler_center=(3.141592653589793, 0.0, 0.0),
    ),
    # ac_embedded predicting the change on top of its input frame (residual_output); an experiment, not shipped.
    "ac_embedded_residual": PredictorConfig(
        image_size=128, patch_size=32, encoder_dim=128, embed_dim=64, depth=4, num_heads=4, mlp_hidden_dim=256,
        state_euler_center=(3.141592653589793, 0.0, 0.0), residual_output=True,
    ),
}

# Named encoder + predictor pairs.
WORLD_MODEL_PRESETS: dict[str, tuple[str, str]] = {
    "vjepa2_ac_vit_giant": ("vit_giant", "ac_vit_giant"),
    "tiny": ("vit_tiny", "ac_tiny"),
    "micro": ("vit_micro", "ac_micro"),
    "embedded": ("vit_embedded", "ac_embedded"),
}

_ALIASES = {"vit_l": "vit_large", "vit_h": "vit_huge", "vit_g": "vit_giant", "vit_g_384": "vit_giant_384"}


def encoder_preset(name: str, **overrides: Any) -> EncoderConfig:
    """A named encoder config, optionally with fields replaced (e.g. `image_size=128`)."""
    key = _ALIASES.get(name, name)
    if key not in ENCODER_PRESETS:
        raise ValueError(f"unknown encoder preset {name!r}; known: {sorted(ENCODER_PRESETS)}")
    return dataclasses.replace(ENCODER_PRESETS[key], **overrides)


def predictor_preset(name: str, **overrides: Any) -> PredictorConfig:
    if name not in PREDICTOR_PRESETS:
        raise ValueError(f"unknown predictor preset {name!r}; known: {sorted(PREDICTOR_PRESETS)}")
    return dataclasses.replace(PREDICTOR_PRESETS[name], **overrides)


def predictor_config_for(encoder: EncoderConfig, name: str, **overrides: Any) -> PredictorConfig:
    """A predictor preset re-targeted to `encoder`'s width and token grid."""
    fields = {"image_size": encoder.image_size, "patch_size": encoder.patch_size, "encoder_dim": encoder.embed_dim}
    fields.update(overrides)
    return predictor_preset(name, **fields)
