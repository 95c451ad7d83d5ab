"""Camera images in every supported encoding -> RGB -> resized, normalised encoder input."""

import numpy as np
import pytest
import torch

from vjepa_ac.models.image_preprocessing import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SUPPORTED_ENCODINGS,
    decode_image_bytes,
    images_to_clips,
    images_to_frames,
    to_rgb,
)

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def stored(encoding):
    """RGB test image laid out as `encoding` would store it."""
    if encoding == "rgb8":
        return RGB
    if encoding == "bgr8":
        return RGB[:, :, ::-1].copy()
    alpha = np.full((5, 7, 1), 200, np.uint8)
    if encoding == "rgba8":
        return np.concatenate([RGB, alpha], axis=2)
    if encoding == "bgra8":
        return np.concatenate([RGB[:, :, ::-1], alpha], axis=2)
    raise AssertionError(encoding)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
def test_colour_encodings_from_arrays_and_bytes(encoding):
    image = stored(encoding)
    assert np.array_equal(to_rgb(image, encoding), RGB)
    assert np.array_equal(decode_image_bytes(image.tobytes(), encoding, 5, 7), RGB)
    # rows padded to a larger step (as camera drivers do) are cropped back
    channels = image.shape[2]
    padded = np.zeros((5, 7 * channels + 5), np.uint8)
    padded[:, : 7 * channels] = image.reshape(5, -1)
    assert np.array_equal(decode_image_bytes(bytearray(padded.tobytes()), encoding.upper(), 5, 7, 7 * channels + 5), RGB)


def test_mono8_becomes_grey_rgb():
    grey = RNG.integers(0, 256, size=(4, 6), dtype=np.uint8)
    rgb = decode_image_bytes(memoryview(grey.tobytes()), "mono8", 4, 6)
    assert rgb.shape == (4, 6, 3) and all(np.array_equal(rgb[:, :, c], grey) for c in range(3))
    assert np.array_equal(to_rgb(grey, "mono8"), rgb)
    assert set(SUPPORTED_ENCODINGS) == {"rgb8", "bgr8", "rgba8", "bgra8", "mono8"}


def test_bad_buffers_and_encodings_are_refused():
    data = RGB.tobytes()
    with pytest.raises(ValueError, match="truncated"):
        decode_image_bytes(data[:-1], "rgb8", 5, 7)
    with pytest.raises(ValueError, match="unsupported image encoding 'yuv422'"):
        decode_image_bytes(data, "yuv422", 5, 7)
    with pytest.raises(ValueError, match="step"):
        decode_image_bytes(data, "rgb8", 5, 7, step=20)
    with pytest.raises(ValueError, match="height"):
        decode_image_bytes(data, "rgb8", 0, 7)
    with pytest.raises(ValueError, match=r"\[H, W, 4\]"):
        to_rgb(RGB, "rgba8")
    with pytest.raises(ValueError, match="uint8"):
        to_rgb(RGB.astype(np.float32), "rgb8")
    with pytest.raises(ValueError, match="RGB"):
        images_to_frames(np.zeros((2, 8, 8, 4), np.uint8), 8)
    with pytest.raises(TypeError, match="uint8"):
        images_to_frames(np.zeros((8, 8, 3), np.float64), 8)


def test_normalisation_and_two_frame_clips():
    image = RNG.integers(0, 256, size=(2, 16, 16, 3), dtype=np.uint8)
    frames = images_to_frames(image, 16)
    pixels = torch.from_numpy(image).permute(0, 3, 1, 2).double()
    expected = (pixels - 255 * torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).double()) / (
        255 * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1).double()
    )
    torch.testing.assert_close(frames.double(), expected, rtol=0, atol=1e-5)
    clips = images_to_clips(image, 16)
    assert clips.shape == (2, 3, 2, 16, 16) and torch.equal(clips[:, :, 0], clips[:, :, 1])
    assert torch.equal(clips[:, :, 0], frames)


def test_square_resize_and_non_square_centre_crop():
    flat = np.full((1, 32, 32, 3), 77, np.uint8)
    torch.testing.assert_close(images_to_frames(flat, 8), images_to_frames(flat[:, :8, :8], 8))  # plain resize
    square = RNG.integers(0, 256, size=(1, 12, 12, 3), dtype=np.uint8)
    wide = np.concatenate([np.zeros((1, 12, 6, 3), np.uint8), square, np.zeros((1, 12, 6, 3), np.uint8)], axis=2)
    torch.testing.assert_close(images_to_frames(wide, 12), images_to_frames(square, 12), rtol=0, atol=0)
    tall = np.concatenate([np.zeros((1, 4, 12, 3), np.uint8), square, np.zeros((1, 4, 12, 3), np.uint8)], axis=1)
    torch.testing.assert_close(images_to_frames(tall, 6), images_to_frames(square, 6), rtol=0, atol=0)
