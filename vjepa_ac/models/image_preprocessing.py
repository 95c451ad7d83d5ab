"""Camera images -> normalised encoder input, the way V-JEPA 2 was fed.

uint8 frames in any common ROS encoding (rgb8, bgr8, rgba8, bgra8, mono8) are turned into RGB,
resized to the model size, scaled as float in [0, 255] and normalised with the ImageNet mean/std
times 255. Square inputs get a plain resize (no crop), as the reference does. Non-square inputs are
centre-cropped to a square of their short side first and then resized, so the scene is never
stretched (the model was only trained on square frames).

Resizing is bilinear with antialiasing (torchvision's default for tensors), done in float.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SUPPORTED_ENCODINGS",
    "decode_image_bytes",
    "to_rgb",
    "as_image_batch",
    "center_crop_square",
    "resize_square",
    "images_to_frames",
    "images_to_clips",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# encoding -> (channels, index of R, G, B in the stored channel order); mono has one channel.
_ENCODINGS: dict[str, tuple[int, tuple[int, int, int]]] = {
    "rgb8": (3, (0, 1, 2)),
    "bgr8": (3, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
    "mono8": (1, (0, 0, 0)),
}
SUPPORTED_ENCODINGS = tuple(_ENCODINGS)


def _encoding(encoding: str) -> tuple[int, tuple[int, int, int]]:
    key = encoding.lower() if isinstance(encoding, str) else encoding
    if key not in _ENCODINGS:
        raise ValueError(f"unsupported image encoding {encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}")
    return _ENCODINGS[key]


def to_rgb(image: np.ndarray, encoding: str = "rgb8") -> np.ndarray:
    """uint8 `[H, W, C]` (or `[H, W]` for mono8) in `encoding` -> contiguous uint8 RGB `[H, W, 3]`."""
    channels, order = _encoding(encoding)
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if channels == 1 and image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] != channels:
        raise ValueError(f"{encoding} image must be [H, W, {channels}], got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image must not be empty, got shape {image.shape}")
    if channels == 3 and order == (0, 1, 2):
        return np.ascontiguousarray(image)
    return np.ascontiguousarray(image[:, :, list(order)])


def decode_image_bytes(
    data: bytes | bytearray | memoryview | np.ndarray,
    encoding: str,
    height: int,
    width: int,
    step: int | None = None,
) -> np.ndarray:
    """A raw row-major buffer (ROS `sensor_msgs/Image` fields) -> uint8 RGB `[height, width, 3]`.

    `step` is the row length in bytes (>= width * channels; rows may be padded); None means unpadded.
    """
    channels, _ = _encoding(encoding)
    for name, value in (("height", height), ("width", width)):
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    row_bytes = width * channels
    step = row_bytes if step is None else step
    if not isinstance(step, (int, np.integer)) or step < row_bytes:
        raise ValueError(f"step {step!r} is smaller than width * channels = {row_bytes} for {encoding}")
    buffer = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    buffer = buffer.reshape(-1)
    if buffer.dtype != np.uint8:
        raise ValueError(f"image buffer must hold uint8 bytes, got {buffer.dtype}")
    needed = step * (height - 1) + row_bytes
    if buffer.size < needed:
        raise ValueError(
            f"image buffer is truncated: {buffer.size} bytes for {height}x{width} {encoding} "
            f"with step {step} (need at least {needed})"
        )
    if buffer.size < step * height:
        buffer = np.concatenate([buffer, np.zeros(step * height - buffer.size, dtype=np.uint8)])
    rows = buffer[: step * height].reshape(height, step)[:, :row_bytes]
    return to_rgb(rows.reshape(height, width, channels), encoding)


def as_image_batch(images) -> torch.Tensor:
    """uint8 RGB `[H, W, 3]` or `[B, H, W, 3]` (numpy or torch) -> uint8 torch `[B, H, W, 3]`.

    Float images are refused: their scale (0-1 or 0-255) cannot be told apart reliably.
    """
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8:
            raise TypeError(f"images must be uint8 RGB, got numpy dtype {images.dtype}")
        # Read-only arrays (e.g. views of ROS message buffers) are copied: torch cannot wrap them safely.
        batch = torch.from_numpy(np.require(images, requirements=["C_CONTIGUOUS", "WRITEABLE"]))
    elif isinstance(images, torch.Tensor):
        if images.dtype != torch.uint8:
            raise TypeError(f"images must be uint8 RGB, got torch dtype {images.dtype}")
        batch = images
    else:
        raise TypeError(f"images must be a uint8 numpy array or torch tensor, got {type(images).__name__}")
    if batch.ndim == 3:
        batch = batch.unsqueeze(0)
    if batch.ndim != 4 or batch.shape[-1] != 3:
        raise ValueError(f"images must be RGB [H, W, 3] or [B, H, W, 3], got shape {tuple(batch.shape)}")
    if batch.shape[0] == 0 or batch.shape[1] == 0 or batch.shape[2] == 0:
        raise ValueError(f"images must not be empty, got shape {tuple(batch.shape)}")
    return batch


def center_crop_square(pixels: torch.Tensor) -> torch.Tensor:
    """`[..., H, W]` -> the centred `[..., s, s]` square, s = min(H, W)."""
    height, width = pixels.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return pixels[..., top : top + side, left : left + side]


def resize_square(pixels: torch.Tensor, size: int) -> torch.Tensor:
    """Float `[B, C, H, W]` -> `[B, C, size, size]` (centre crop if not square, then bilinear antialiased)."""
    if pixels.shape[-2] != pixels.shape[-1]:
        pixels = center_crop_square(pixels)
    if pixels.shape[-1] == size:
        return pixels
    return F.interpolate(pixels, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def images_to_frames(images, size: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """uint8 RGB `[B, H, W, 3]` / `[H, W, 3]` -> normalised float `[B, 3, size, size]`."""
    if not isinstance(size, int) or size <= 0:
        raise ValueError(f"size must be a positive int, got {size!r}")
    batch = as_image_batch(images)
    if device is not None:
        batch = batch.to(device)
    pixels = resize_square(batch.permute(0, 3, 1, 2).to(torch.float32), size)
    mean = torch.tensor(IMAGENET_MEAN, device=pixels.device).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(IMAGENET_STD, device=pixels.device).view(1, 3, 1, 1) * 255.0
    return ((pixels - mean) / std).to(dtype)


def images_to_clips(
    images, size: int, tubelet_size: int = 2, dtype: torch.dtype = torch.float32, device=None
) -> torch.Tensor:
    """uint8 RGB images -> normalised clips `[B, 3, tubelet_size, size, size]` (each still repeated in time)."""
    frames = images_to_frames(images, size, dtype, device)
    return frames.unsqueeze(2).expand(-1, -1, tubelet_size, -1, -1)
