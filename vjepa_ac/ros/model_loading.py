"""The planner node's world model and CEM planner, built from its ROS parameters (no ROS needed here)."""

from __future__ import annotations

import inspect
from pathlib import Path

__all__ = ["load_world_model_from_settings", "cem_config_from_settings", "make_cem_planner"]


def _torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_world_model_from_settings(settings):
    """Default model loader: `vjepa_ac.models.load_world_model` (empty checkpoint = embedded model)."""
    from vjepa_ac.models import load_world_model

    if settings.checkpoint and not Path(settings.checkpoint).expanduser().exists():
        raise FileNotFoundError(f"checkpoint not found: {settings.checkpoint}")
    accepted = inspect.signature(load_world_model).parameters
    kwargs = {"device": settings.device}
    if settings.preset:
        # Official .pt files store no head count or resolution: the encoder preset supplies them.
        from vjepa_ac.models import ENCODER_PRESETS

        if settings.preset not in ENCODER_PRESETS:
            raise ValueError(f"unknown preset {settings.preset!r}; known: {', '.join(sorted(ENCODER_PRESETS))}")
        preset = ENCODER_PRESETS[settings.preset]
        for name, value in (("encoder_heads", preset.num_heads), ("image_size", preset.image_size)):
            if name in accepted:
                kwargs[name] = value
    if "dtype" in accepted:
        kwargs["dtype"] = _torch_dtype(settings.dtype)
    model = load_world_model(str(Path(settings.checkpoint).expanduser()) if settings.checkpoint else None, **kwargs)
    if "dtype" not in accepted and settings.dtype != "float32":
        model = model.to(dtype=_torch_dtype(settings.dtype))
    if hasattr(model, "eval"):
        model.eval()
    return model


def cem_config_from_settings(settings):
    from vjepa_ac.planning.cem import CEMConfig

    return CEMConfig(
        samples=settings.samples,
        iterations=settings.iterations,
        top_k=settings.top_k,
        horizon=settings.horizon,
        l1_radius=settings.l1_radius,
        rotation_enabled=settings.rotation_enabled,
        rotation_radius=settings.rotation_radius,
        gripper_enabled=settings.gripper_enabled,
        gripper_max=settings.gripper_max,
        frozen_dims=tuple(settings.frozen_dimensions),
        momentum_mean=settings.momentum_mean,
        momentum_std=settings.momentum_std,
        anchor_to_observation=settings.anchor_to_observation,
        gripper_goal_weight=settings.gripper_goal_weight,
        seed=settings.seed,
    )


def make_cem_planner(world_model, settings):
    from vjepa_ac.planning.cem import CEMPlanner

    return CEMPlanner(world_model, cem_config_from_settings(settings))
