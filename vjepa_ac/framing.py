"""Bring camera frames and goal image files to the square input the world model was trained on.

Goal images and live frames go through the same crop + resize, so a goal file taken with the real
camera and the live stream compare like for like in latent space.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage

__all__ = ["CROP_MODES", "fit_to_square", "read_image_file"]

CROP_MODES = ("center", "none")


def fit_to_square(rgb: np.ndarray, size: int, crop: str = "center") -> np.ndarray:
    """Center-crop to a square (crop="center") or squash (crop="none"), then resize to `size`."""
    if crop not in CROP_MODES:
        raise ValueError(f"crop must be one of {CROP_MODES}, got {crop!r}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    height, width = rgb.shape[:2]
    if crop == "center" and height != width:
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        rgb = rgb[top : top + side, left : left + side]
    if rgb.shape[0] == size and rgb.shape[1] == size:
        return np.ascontiguousarray(rgb)
    resized = PILImage.fromarray(np.ascontiguousarray(rgb)).resize((size, size), PILImage.BILINEAR)
    return np.array(resized, dtype=np.uint8)  # writable copy: torch.from_numpy warns on read-only arrays


def read_image_file(path: str | Path) -> np.ndarray:
    """uint8 `[H, W, 3]` RGB from a PNG/JPG/...; raises ValueError with the path on any failure."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"goal image file not found: {path}")
    try:
        with PILImage.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except Exception as exc:  # PIL raises many types for corrupt files
        raise ValueError(f"cannot read image {path}: {exc}") from exc
