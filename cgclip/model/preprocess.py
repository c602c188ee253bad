"""Preprocessing that travels with the weights: crop size, mean/std, clip length.

One resize + normalise path serves training (crops read from disk), evaluation and the tracker
(crops cut from a video frame with :func:`crop_boxes`), so a model sees the same pixels everywhere.
"""

from __future__ import annotations

import functools
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
        return self.standardize(pixels.permute(0, 3, 1, 2).float().div_(255.0))

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) float RGB in [0, 1] -> (x - mean) / std, NCHW-contiguous (compiled
        graphs expect it), on ``x``'s device."""
        mean, std = _mean_std(self.mean, self.std, x.device)
        return ((x - mean) / std).contiguous()

    def __call__(self, images_rgb: Sequence[np.ndarray]) -> torch.Tensor:
        """Any-size (h, w, 3) uint8 RGB images -> (N, 3, H, W) normalised tensor."""
        return self.to_tensor([self.resize(im) for im in images_rgb])


@functools.lru_cache(maxsize=16)
def _mean_std(
    mean: tuple[float, ...], std: tuple[float, ...], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(1, 3, 1, 1)`` mean and std on ``device``, made once: a host-to-device copy per batch
    from pageable memory waits for the work queued before it."""
    return (
        torch.tensor(mean, device=device).view(1, 3, 1, 1),
        torch.tensor(std, device=device).view(1, 3, 1, 1),
    )


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
    x1, y1, x2, y2 = _pixel_boxes(boxes, frame_bgr.shape[:2]).T
    bgr = np.stack(
        [preprocess.resize(frame_bgr[b:d, a:c]) for a, b, c, d in zip(x1, y1, x2, y2, strict=True)]
    )
    # BGR -> RGB in one vectorised call: a reversed-stride view made every later copy crawl
    # (4 ms a frame for 16 crops, measured on the GPU machine).
    rgb = cv2.cvtColor(bgr.reshape(-1, w_out, 3), cv2.COLOR_BGR2RGB)
    return rgb.reshape(len(boxes), h_out, w_out, 3)


def _pixel_boxes(boxes: np.ndarray, frame_hw: tuple[int, ...]) -> np.ndarray:
    """(N, 4) float xyxy -> (N, 4) int pixel bounds inside the frame, at least one pixel each."""
    fh, fw = frame_hw
    x1 = np.clip(np.floor(boxes[:, 0]), 0, fw - 1).astype(int)
    y1 = np.clip(np.floor(boxes[:, 1]), 0, fh - 1).astype(int)
    x2 = np.maximum(np.clip(np.ceil(boxes[:, 2]), 0, fw).astype(int), x1 + 1)
    y2 = np.maximum(np.clip(np.ceil(boxes[:, 3]), 0, fh).astype(int), y1 + 1)
    return np.stack([x1, y1, x2, y2], axis=1)


def crop_on_device(
    frame_bgr: np.ndarray, boxes_xyxy: np.ndarray, preprocess: Preprocess, device: Any
) -> torch.Tensor:
    """:func:`crop_pixels` + :meth:`Preprocess.normalize` on ``device``: (N, 3, H, W) float32
    there (N may be 0). The frame goes up once as uint8 and every crop is sampled from it on
    the device, replacing the host's per-crop resizes (the largest host cost of the embed stage
    on a GPU, docs/gpu.md).

    Same pixel bounds and sample points as :func:`crop_pixels`' ``cv2.resize``: bilinear at
    half-pixel centres, clamped inside the crop (cv2 repeats its edge pixel). A crop over twice
    the output height, which cv2 shrinks with ``INTER_AREA``, is sampled ``k`` times finer
    (``k = ceil(crop height / H)``) and averaged over ``k x k`` blocks. What differs from the
    host path is rounding (no uint8 step, within 1/255 when enlarging) and, when shrinking,
    how the area average is approximated."""
    import torch.nn.functional as F

    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    h_out, w_out = preprocess.size
    if len(boxes) == 0:
        return torch.empty((0, 3, h_out, w_out), device=device)
    fh, fw = frame_bgr.shape[:2]
    bounds = _pixel_boxes(boxes, (fh, fw))
    heights = bounds[:, 3] - bounds[:, 1]
    factor = np.where(heights > 2 * h_out, np.ceil(heights / h_out), 1).astype(int)
    frame = torch.from_numpy(np.ascontiguousarray(frame_bgr)).to(device)  # (h, w, 3) uint8
    rgb = frame.flip(-1).permute(2, 0, 1)[None].float().div_(255.0)  # (1, 3, h, w)
    out = torch.empty((len(boxes), 3, h_out, w_out), device=device)
    for k in np.unique(factor).tolist():
        rows = np.flatnonzero(factor == k)
        b = torch.from_numpy(bounds[rows].astype(np.float32)).to(device)  # (n, 4)
        gx = _source_grid(b[:, 0], b[:, 2], w_out * k, fw)  # (n, W k)
        gy = _source_grid(b[:, 1], b[:, 3], h_out * k, fh)  # (n, H k)
        n, hk, wk = len(rows), gy.shape[1], gx.shape[1]
        grid = torch.stack([gx[:, None, :].expand(n, hk, wk), gy[:, :, None].expand(n, hk, wk)], -1)
        crops = F.grid_sample(
            rgb.expand(n, -1, -1, -1), grid, mode="bilinear", align_corners=True
        )  # (n, 3, H k, W k)
        out[torch.from_numpy(rows).to(device)] = F.avg_pool2d(crops, k) if k > 1 else crops
    return preprocess.standardize(out)


def _source_grid(start: torch.Tensor, stop: torch.Tensor, size: int, extent: int) -> torch.Tensor:
    """``(n, size)`` grid_sample coordinates (align_corners=True) of ``size`` samples over
    pixels ``[start, stop)`` of an image ``extent`` pixels long: cv2's half-pixel source
    positions, clamped to the first and last pixel of the range."""
    j = torch.arange(size, device=start.device, dtype=torch.float32) + 0.5
    pos = start[:, None] + j[None, :] * ((stop - start) / size)[:, None] - 0.5
    pos = torch.minimum(torch.maximum(pos, start[:, None]), (stop - 1)[:, None])
    return pos * (2.0 / max(extent - 1, 1)) - 1.0


def crop_boxes(
    frame_bgr: np.ndarray, boxes_xyxy: np.ndarray, preprocess: Preprocess
) -> torch.Tensor:
    """:func:`crop_pixels`, normalised on the host: (N, 3, H, W) float32 (N may be 0)."""
    return preprocess.normalize(torch.from_numpy(crop_pixels(frame_bgr, boxes_xyxy, preprocess)))


def load_clip(frames: Sequence[str], indices: Sequence[int], preprocess: Preprocess) -> np.ndarray:
    """Read and resize frames[indices] -> (T, H, W, 3) uint8 RGB."""
    return np.stack([preprocess.resize(read_rgb(frames[i])) for i in indices])
