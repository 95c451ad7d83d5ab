"""Deprecated import path kept for callers written against it: use `image_preprocessing`."""

from vjepa_ac.models.image_preprocessing import (  # noqa: F401
    IMAGENET_MEAN,
    IMAGENET_STD,
    as_image_batch,
    images_to_clips,
    resize_square,
)
