"""sensor_msgs/Image <-> uint8 RGB numpy arrays without cv_bridge (not installable from PyPI).

Every malformed message is rejected with an `ImageConversionError` naming the problem, so a broken
camera driver shows up as a clear diagnostic instead of a crash or a silently garbled image.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SUPPORTED_ENCODINGS", "ImageConversionError", "image_msg_to_rgb", "rgb_to_image_msg"]

# encoding -> (channels, index of R, G, B in the pixel; None for grey)
_LAYOUTS = {
    "rgb8": (3, (0, 1, 2)),
    "bgr8": (3, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
    "mono8": (1, None),
    "8uc1": (1, None),
    "8uc3": (3, (2, 1, 0)),  # OpenCV's default channel order
}
SUPPORTED_ENCODINGS = tuple(_LAYOUTS)
MAX_SIDE = 8192


class ImageConversionError(ValueError):
    """The message cannot be turned into an RGB image; the text says why."""


def image_msg_to_rgb(msg) -> np.ndarray:
    """Return a contiguous uint8 `[H, W, 3]` RGB copy of a sensor_msgs/Image."""
    encoding = str(msg.encoding).strip().lower()
    if encoding not in _LAYOUTS:
        raise ImageConversionError(
            f"unsupported image encoding {msg.encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}"
        )
    channels, order = _LAYOUTS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
        raise ImageConversionError(f"image size {width}x{height} outside 1..{MAX_SIDE} pixels")
    row_bytes = width * channels
    if step < row_bytes:
        raise ImageConversionError(f"step {step} is smaller than width*channels = {row_bytes} for {encoding}")
    data = msg.data
    buffer = np.frombuffer(data if isinstance(data, bytes | bytearray) else memoryview(data), dtype=np.uint8)
    # The last row needs only row_bytes, not a full step (some drivers trim the padding).
    needed = step * (height - 1) + row_bytes
    if buffer.size < needed:
        raise ImageConversionError(
            f"image data truncated: {buffer.size} bytes for {width}x{height} {encoding} with step {step} "
            f"(need {needed})"
        )
    if buffer.size > step * height:
        raise ImageConversionError(f"image data has {buffer.size} bytes, more than step*height = {step * height}")
    # Rows read in place (a trimmed last row needs no padding): memory stays bounded by the pixels, never
    # by the declared step*height.
    rows = np.lib.stride_tricks.as_strided(buffer, shape=(height, row_bytes), strides=(step, 1), writeable=False)
    pixels = rows.reshape(height, width, channels)
    if order is None:
        return np.ascontiguousarray(np.repeat(pixels, 3, axis=2))
    return np.ascontiguousarray(pixels[:, :, list(order)])


def rgb_to_image_msg(rgb: np.ndarray, frame_id: str = "", stamp=None):
    """Wrap a uint8 `[H, W, 3]` RGB array as an rgb8 sensor_msgs/Image."""
    from sensor_msgs.msg import Image

    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageConversionError(f"expected a uint8 [H, W, 3] array, got {rgb.dtype} {rgb.shape}")
    msg = Image()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = "rgb8"
    msg.is_bigendian = 0
    msg.step = int(rgb.shape[1]) * 3
    msg.data = np.ascontiguousarray(rgb).tobytes()
    return msg
