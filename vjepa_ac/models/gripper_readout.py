"""Gripper readout: whether a goal image shows the hand closed, read from the image's pixels.

Why it exists: a small world model's image energy hardly changes between an open and a closed hand (the
embedded model's fingers cover a few dozen pixels of a 128 px frame and its 16 tokens keep almost nothing
of them), so CEM's gripper actions are close to random, and grasps and releases fail even when the arm goes
to the right place. Readouts of the frozen encoder's tokens did no better (validation balanced accuracy
0.61 on the gripper setpoint; docs/embedded_model.md). A small convolutional network on the goal image's
pixels, trained on the robot's own episodes with their recorded gripper setpoints, tells the planner which
gripper state the goal shows (`CEMConfig.gripper_goal_weight`). It reads whatever the pixels give: fingers
where they are visible, and the context that comes with them (a cube in the air is held).

It lives next to a world model as `gripper_readout.safetensors` (weights, and its input size in the header).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "GRIPPER_READOUT_FILE",
    "GripperReadout",
    "decide",
    "load_gripper_readout",
    "save_gripper_readout",
]

GRIPPER_READOUT_FILE = "gripper_readout.safetensors"
FORMAT_NAME = "vjepa_ac.gripper_readout"
FORMAT_VERSION = 1
CHANNELS = (16, 32, 64, 64)  # four stride-2 convolutions: 128 px -> an 8 x 8 grid


class GripperReadout(nn.Module):
    """p(closed | RGB image) from four stride-2 convolutions and a linear layer over the last grid.

    The linear layer keeps where things are (no global pooling): "the cube is between the fingers, off
    the table" is a relation between places in the image.
    """

    def __init__(self, image_size: int = 128, metadata: dict[str, Any] | None = None):
        super().__init__()
        if image_size < 16 or image_size % 16:
            raise ValueError(f"image_size must be a multiple of 16 (>= 16), got {image_size}")
        self.image_size = int(image_size)
        layers, channels = [], 3
        for i, out in enumerate(CHANNELS):
            layers += [nn.Conv2d(channels, out, 5 if i == 0 else 3, stride=2, padding=2 if i == 0 else 1), nn.GELU()]
            channels = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels * (image_size // 16) ** 2, 1)
        self.metadata = dict(metadata or {})

    def logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """Logits [B] of normalised frames [B, 3, S, S] (`images_to_pixels`)."""
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != (3, self.image_size, self.image_size):
            raise ValueError(f"gripper readout needs frames [B, 3, {self.image_size}, {self.image_size}], "
                             f"got {tuple(pixels.shape)}")
        return self.head(self.features(pixels).flatten(1))[:, 0]

    def images_to_pixels(self, images) -> torch.Tensor:
        """uint8 RGB [H, W, 3] or [B, H, W, 3] (any size: centre-cropped and resized, as the encoder's input)
        -> ImageNet-normalised frames [B, 3, S, S]."""
        from vjepa_ac.models.image_preprocessing import images_to_frames

        return images_to_frames(images, self.image_size, torch.float32, self.head.weight.device)

    @torch.no_grad()
    def probability_closed(self, images) -> np.ndarray:
        """p(closed) [B] for uint8 RGB images."""
        return torch.sigmoid(self.logits(self.images_to_pixels(images))).cpu().numpy()

    def goal_closedness(self, image, min_confidence: float = 0.8) -> float | None:
        """1.0 (closed) or 0.0 (open) for one goal image, or None when the readout is less sure than
        `min_confidence` either way."""
        return decide(float(self.probability_closed(image)[0]), min_confidence)


def decide(probability_closed: float, min_confidence: float = 0.8) -> float | None:
    """1.0 (closed), 0.0 (open) or None (less sure than `min_confidence` either way) for a readout probability."""
    if not 0.5 <= min_confidence < 1.0:
        raise ValueError(f"min_confidence must be in [0.5, 1), got {min_confidence!r}")
    if not np.isfinite(probability_closed):
        raise ValueError("gripper readout produced a non-finite probability")
    if probability_closed >= min_confidence:
        return 1.0
    if probability_closed <= 1.0 - min_confidence:
        return 0.0
    return None


def save_gripper_readout(readout: GripperReadout, path) -> Path:
    """Write `readout` to `path` (a model directory, or a `.safetensors` file name)."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        path = path / GRIPPER_READOUT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: t.detach().to("cpu", torch.float32).contiguous() for name, t in readout.state_dict().items()}
    header = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "image_size": str(readout.image_size),
              "metadata": json.dumps(readout.metadata, sort_keys=True)}
    temporary = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(temporary), metadata=header)
    temporary.chmod(0o644)  # a model file others read, like model.safetensors
    temporary.replace(path)
    return path


def load_gripper_readout(path, required: bool = False, device="cpu") -> GripperReadout | None:
    """The readout at `path` (a model directory or a `.safetensors` file).

    A directory without a readout gives None unless `required`; a file that is missing, of another format
    or with other tensors raises `CheckpointError` (nothing is left randomly initialised).
    """
    from safetensors import safe_open

    from vjepa_ac.models.checkpoints import CheckpointError, load_state_dict_strict

    path = Path(path)
    file = path / GRIPPER_READOUT_FILE if path.is_dir() else path
    if not file.is_file():
        if path.is_dir() and not required:
            return None
        raise CheckpointError(f"gripper readout not found: {file}")
    try:
        with safe_open(str(file), framework="pt") as handle:
            header = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as error:  # safetensors raises its own error types for torn or foreign files
        raise CheckpointError(f"cannot read gripper readout {file}: {error}") from error
    if header.get("format") != FORMAT_NAME or header.get("format_version") != str(FORMAT_VERSION):
        raise CheckpointError(f"{file} is not a {FORMAT_NAME} v{FORMAT_VERSION} file (header {header})")
    try:
        readout = GripperReadout(int(header.get("image_size", "")), json.loads(header.get("metadata") or "{}"))
    except ValueError as error:
        raise CheckpointError(f"{file}: bad header: {error}") from error
    load_state_dict_strict(readout, tensors, f"gripper readout {file}", "gripper readout")
    if not all(bool(torch.isfinite(t).all()) for t in tensors.values()):
        raise CheckpointError(f"{file} holds non-finite weights")
    return readout.to(device).eval()
