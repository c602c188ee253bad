"""Crops for the tracker, preprocessing, and restricted random sampling."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from cgclip.errors import UserError
from cgclip.model import Preprocess, crop_boxes, crop_on_device, crop_pixels, read_rgb

PRE = Preprocess(size=(64, 32), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def unnormalise(x: torch.Tensor) -> torch.Tensor:
    return x * 0.25 + 0.5


def test_crop_boxes_cuts_the_right_region_in_rgb():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[10:50, 20:40] = (255, 0, 0)  # BGR blue
    frame[60:100, 150:170] = (0, 0, 255)  # BGR red
    boxes = np.array([[20, 10, 40, 50], [150, 60, 170, 100]], np.float32)
    x = crop_boxes(frame, boxes, PRE)
    assert x.shape == (2, 3, 64, 32) and x.dtype == torch.float32
    rgb = unnormalise(x).mean(dim=(2, 3))
    torch.testing.assert_close(rgb[0], torch.tensor([0.0, 0.0, 1.0]))  # blue in RGB order
    torch.testing.assert_close(rgb[1], torch.tensor([1.0, 0.0, 0.0]))


def test_boxes_past_the_frame_are_clipped():
    frame = np.full((50, 50, 3), 255, np.uint8)
    frame[:, :10] = 0
    x = crop_boxes(frame, np.array([[-30, -5, 10, 60], [60, 60, 80, 90]]), PRE)
    assert x.shape == (2, 3, 64, 32)
    torch.testing.assert_close(unnormalise(x[0]).max(), torch.tensor(0.0))  # only the black strip
    torch.testing.assert_close(unnormalise(x[1]).min(), torch.tensor(1.0))  # nearest corner pixel


def test_no_boxes_gives_an_empty_batch():
    assert crop_boxes(np.zeros((10, 10, 3), np.uint8), np.zeros((0, 4)), PRE).shape == (
        0,
        3,
        64,
        32,
    )


def test_crop_boxes_matches_the_model_preprocess(make_tiny_model):
    model = make_tiny_model()
    frame = np.random.default_rng(0).integers(0, 255, (120, 80, 3), dtype=np.uint8)
    x = crop_boxes(frame, np.array([[10, 10, 42, 74]]), model.preprocess)
    manual = cv2.cvtColor(frame[10:74, 10:42], cv2.COLOR_BGR2RGB)
    torch.testing.assert_close(x, model.preprocess([manual]))
    assert model.encode_frames(x, keep="all").shape == (1, 9, 64)


def test_crop_pixels_are_the_uint8_rgb_crops_that_normalise_to_crop_boxes():
    """The tracker uploads crop_pixels' bytes and normalises on the device: same input as the
    host path, contiguous so the upload is one copy."""
    frame = np.random.default_rng(3).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    boxes = np.array([[5, 4, 37, 70], [60, 10, 100, 88]], np.float32)
    px = crop_pixels(frame, boxes, PRE)
    assert px.shape == (2, 64, 32, 3) and px.dtype == np.uint8 and px.flags.c_contiguous
    expected = cv2.cvtColor(PRE.resize(frame[10:88, 60:100]), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(px[1], expected)
    torch.testing.assert_close(PRE.normalize(torch.from_numpy(px)), crop_boxes(frame, boxes, PRE))
    assert crop_pixels(frame, np.zeros((0, 4)), PRE).shape == (0, 64, 32, 3)


def test_crop_on_device_samples_what_the_host_resize_samples():
    """Enlarged, fractional, past the frame, shrunk over 2x (cv2's INTER_AREA) and one-pixel
    boxes: the device path (here on the CPU) is within rounding of the host path."""
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8), (0, 0), 3)
    boxes = np.array(
        [
            [10, 10, 30, 50],
            [100.3, 20.7, 140.2, 110.1],
            [-30, -5, 10, 60],
            [50, 20, 110, 280],  # 260 px tall for a 64 px output
            [390, 290, 420, 320],
            [500, 400, 510, 420],  # outside: the nearest corner pixel
        ],
        float,
    )
    host, device = crop_boxes(frame, boxes, PRE), crop_on_device(frame, boxes, PRE, "cpu")
    assert device.shape == host.shape and device.dtype == torch.float32
    assert device.is_contiguous()
    diff = (unnormalise(host) - unnormalise(device)).abs()
    assert diff.max() < 1.5 / 255  # cv2 rounds to uint8; the device path does not
    assert crop_on_device(frame, np.zeros((0, 4)), PRE, "cpu").shape == (0, 3, 64, 32)


def test_crop_on_device_repeats_the_crop_edge_as_cv2_does():
    frame = np.full((50, 50, 3), 255, np.uint8)
    frame[:, :10] = 0
    x = crop_on_device(frame, np.array([[-30, -5, 10, 60]]), PRE, "cpu")
    torch.testing.assert_close(unnormalise(x).max(), torch.tensor(0.0))  # never the white beyond


def test_normalisation_values():
    x = PRE.to_tensor(np.full((1, 64, 32, 3), 255, np.uint8))
    torch.testing.assert_close(x, torch.full((1, 3, 64, 32), 2.0))


def test_read_rgb_errors(tmp_path):
    with pytest.raises(UserError, match="image not found"):
        read_rgb(tmp_path / "missing.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(UserError, match="cannot decode"):
        read_rgb(bad)
