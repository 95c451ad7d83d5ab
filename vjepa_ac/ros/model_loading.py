"""The planner node's world model and CEM planner, built from its ROS parameters (no ROS needed here)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["load_world_model_from_settings", "make_controller"]


def _torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_world_model_from_settings(settings):
    """Default model loader: `vjepa_ac.models.load_world_model` (empty checkpoint = embedded model)."""
    from vjepa_ac.models import ENCODER_PRESETS, load_world_model

    if settings.checkpoint and not Path(settings.checkpoint).expanduser().exists():
        raise FileNotFoundError(f"checkpoint not found: {settings.checkpoint}")
    kwargs = {"device": settings.device, "dtype": _torch_dtype(settings.dtype)}
    if settings.preset:
        # Official .pt files store no head count or resolution: the encoder preset supplies them.
        if settings.preset not in ENCODER_PRESETS:
            raise ValueError(f"unknown preset {settings.preset!r}; known: {', '.join(sorted(ENCODER_PRESETS))}")
        preset = ENCODER_PRESETS[settings.preset]
        kwargs.update(encoder_heads=preset.num_heads, image_size=preset.image_size)
    path = str(Path(settings.checkpoint).expanduser()) if settings.checkpoint else None
    return load_world_model(path, **kwargs).eval()


def make_controller(world_model, settings, planner=None):
    """The control loop with the CEM planner (unless `planner` is given) and the gripper readout the parameters
    name (`CEMConfig.from_mapping`)."""
    from vjepa_ac.planning import CEMConfig, CEMPlanner, GoalImageController
    from vjepa_ac.planning.goal_gripper import GoalGripper

    config = CEMConfig.from_mapping(settings)
    goal_gripper = None
    if config.gripper_goal_weight > 0:
        goal_gripper = GoalGripper.for_model(settings.checkpoint or None, settings.gripper_readout or None,
                                             settings.readout_min_confidence)
    threshold = settings.subgoal_energy_threshold
    planner = planner if planner is not None else CEMPlanner(world_model, config)
    return GoalImageController(world_model, planner, goal_gripper, settings.image_crop,
                               threshold if threshold >= 0 else None)
