"""Preprocessing that travels with the weights: crop size, mean/std, clip length.

One resize + normalise path serves training (crops read from disk), evaluation and the tracker
(crops cut from a video frame with :func:`crop_boxes`), so a model sees the same pixels everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from cgclip.errors import UserError


@dataclass(frozen=True)
class Preprocess:
    size: tuple[int, int]  # (H, W)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    clip_len: int = 8  # frames per tracklet the model was trained with

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocess:
        return cls(
            size=(int(data["size"][0]), int(data["size"][1])),
            mean=tuple(float(x) for x in data["mean"]),
            std=tuple(float(x) for x in data["std"]),
            clip_len=int(data.get("clip_len", 8)),
        )

    def resize(self, rgb: np.ndarray) -> np.ndarray:
        """(h, w, 3) uint8 RGB -> (H, W, 3) uint8, bilinear (area when shrinking a lot)."""
        h, w = self.size
        interp = cv2.INTER_AREA if rgb.shape[0] > 2 * h else cv2.INTER_LINEAR
        return cv2.resize(rgb, (w, h), interpolation=interp)

    def to_tensor(self, images: Sequence[np.ndarray] | np.ndarray) -> torch.Tensor:
        """Resized (H, W, 3) uint8 RGB images -> (N, 3, H, W) float32, normalised."""
        batch = images if isinstance(images, np.ndarray) else np.stack(images)
        return self.normalize(torch.from_numpy(np.ascontiguousarray(batch)))

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """(N, H, W, 3) uint8 RGB on any device -> (N, 3, H, W) float32 normalised there.

        The tracker uploads uint8 crops and normalises on the GPU: a quarter of the bytes to copy,
        and no per-pixel float work on the host (docs/gpu.md)."""
        x = pixels.permute(0, 3, 1, 2).float().div_(255.0)
        mean = torch.tensor(self.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, 3, 1, 1)
        return ((x - mean) / std).contiguous()  # NCHW-contiguous: compiled graphs expect it

    def __call__(self, images_rgb: Sequence[np.ndarray]) -> torch.Tensor:
        """Any-size (h, w, 3) uint8 RGB images -> (N, 3, H, W) normalised tensor."""
        return self.to_tensor([self.resize(im) for im in images_rgb])


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as (h, w, 3) uint8 RGB; UserError if missing or unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        if not Path(path).exists():
            raise UserError(f"image not found: {path}")
        raise UserError(
            f"cannot decode image {path} (corrupt or not an image); remove or replace it"
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def crop_pixels(
    frame_bgr: np.ndarray, boxes_xyxy: np.ndarray, preprocess: Preprocess
) -> np.ndarray:
    """Cut person crops from a video frame, resized for the image encoder but not normalised.

    frame_bgr (h, w, 3) uint8 as OpenCV decodes it; boxes_xyxy (N, 4) pixels (x1, y1, x2, y2),
    possibly extending past the frame. Boxes are clipped to the frame and keep at least one pixel,
    so a box fully outside the frame gives the nearest edge pixel rather than an error.
    Returns (N, H, W, 3) uint8 RGB, C-contiguous (N may be 0); ``preprocess.normalize`` finishes
    the job on whichever device the encoder runs.
    """
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
        raise ValueError(f"frame must be (h, w, 3) BGR, got shape {frame_bgr.shape}")
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    h_out, w_out = preprocess.size
    if len(boxes) == 0:
        return np.empty((0, h_out, w_out, 3), np.uint8)
    fh, fw = frame_bgr.shape[:2]
    x1 = np.clip(np.floor(boxes[:, 0]), 0, fw - 1).astype(int)
    y1 = np.clip(np.floor(boxes[:, 1]), 0, fh - 1).astype(int)
    x2 = np.clip(np.ceil(boxes[:, 2]), 0, fw).astype(int)
    y2 = np.clip(np.ceil(boxes[:, 3]), 0, fh).astype(int)
    x2 = np.maximum(x2, x1 + 1)
    y2 = np.maximum(y2, y1 + 1)
    bgr = np.stack(
        [preprocess.resize(frame_bgr[b:d, a:c]) for a, b, c, d in zip(x1, y1, x2, y2, strict=True)]
    )
    # BGR -> RGB in one vectorised call: a reversed-stride view made every later copy crawl
    # (4 ms a frame for 16 crops, measured on the GPU machine).
    rgb = cv2.cvtColor(bgr.reshape(-1, w_out, 3), cv2.COLOR_BGR2RGB)
    return rgb.reshape(len(boxes), h_out, w_out, 3)


def crop_boxes(
    frame_bgr: np.ndarray, boxes_xyxy: np.ndarray, preprocess: Preprocess
) -> torch.Tensor:
    """:func:`crop_pixels`, normalised on the host: (N, 3, H, W) float32 (N may be 0)."""
    return preprocess.normalize(torch.from_numpy(crop_pixels(frame_bgr, boxes_xyxy, preprocess)))


def load_clip(frames: Sequence[str], indices: Sequence[int], preprocess: Preprocess) -> np.ndarray:
    """Read and resize frames[indices] -> (T, H, W, 3) uint8 RGB."""
    return np.stack([preprocess.resize(read_rgb(frames[i])) for i in indices])
