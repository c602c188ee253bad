"""HOG + linear SVM people detection (Dalal & Triggs) in numpy, matching OpenCV's HOGDescriptor.

OpenCV 5 moved ``HOGDescriptor`` to the contrib modules, so the offline ``--detector hog`` needs
its own copy. This file computes the same 3780-d descriptor as OpenCV 4's default (64x128 window,
16x16 blocks, 8x8 stride and cells, 9 unsigned bins, gamma correction, Gaussian block weighting
with sigma 4, bilinear cell interpolation, L2-Hys) and scores it with OpenCV's default people SVM
(``data/hog_people_svm.npy``: ``cv2.HOGDescriptor_getDefaultPeopleDetector()``, OpenCV 4.x,
Apache-2.0). When the installed OpenCV still has ``HOGDescriptor`` it is used directly.

Shapes: the image is cut into 8x8 *tiles*; ``tile_hist`` ``(Ty, Tx, 9, 16)`` holds, for each
tile and bin, the weighted votes for the 16 (quadrant-in-block, cell) pairs; a block's 36-d
histogram is the sum of its four tiles' matching entries, and a window's score is a correlation
of the ``(By, Bx, 36)`` block map with the ``(15, 7, 36)`` SVM weights.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

WIN_W, WIN_H, CELL, NBINS = 64, 128, 8, 9
BLOCKS_X, BLOCKS_Y = WIN_W // CELL - 1, WIN_H // CELL - 1  # 7 x 15 blocks per window
_SVM_PATH = Path(__file__).resolve().parent / "data" / "hog_people_svm.npy"


def _tile_weights() -> np.ndarray:
    """``(64, 16)``: weight of each pixel of a tile for (quadrant q, cell c) at column ``q*4 + c``.

    A block is 16x16 pixels = 2x2 tiles (quadrants) = 2x2 cells; each pixel votes for up to four
    cells with bilinear weights, times a Gaussian centred on the block (OpenCV's HOGCache).
    """
    sigma = 4.0
    w = np.zeros((16, 16, 4))  # block pixel (i, j) -> weight per cell (cx * 2 + cy)
    for i in range(16):
        for j in range(16):
            gauss = np.exp(-((i - 8.0) ** 2 + (j - 8.0) ** 2) / (2 * sigma**2))
            cy = (i + 0.5) / CELL - 0.5
            cx = (j + 0.5) / CELL - 0.5
            y0, x0 = int(np.floor(cy)), int(np.floor(cx))
            fy, fx = cy - y0, cx - x0
            for yy, wy in ((y0, 1 - fy), (y0 + 1, fy)):
                for xx, wx in ((x0, 1 - fx), (x0 + 1, fx)):
                    if 0 <= yy < 2 and 0 <= xx < 2:
                        w[i, j, xx * 2 + yy] += gauss * wy * wx
    out = np.zeros((64, 16))
    for qy in range(2):
        for qx in range(2):
            q = qx * 2 + qy
            block = w[qy * 8 : qy * 8 + 8, qx * 8 : qx * 8 + 8].reshape(64, 4)
            out[:, q * 4 : q * 4 + 4] = block
    return out


_TILE_W = _tile_weights()
_GAMMA = np.sqrt(np.arange(256, dtype=np.float32))


def _gradient_votes(img: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` BGR uint8 -> ``(H, W, 9)`` magnitude votes per orientation bin."""
    g = _GAMMA[img]  # gamma correction, as OpenCV
    # [-1, 0, 1] derivatives with reflect-101 borders (cv2.Sobel with ksize=1), as OpenCV.
    dx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=1, borderType=cv2.BORDER_REFLECT_101)
    dy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=1, borderType=cv2.BORDER_REFLECT_101)
    if dx.ndim == 3:  # the channel with the strongest gradient wins
        mag2 = dx * dx + dy * dy
        best = mag2.argmax(axis=2)
        rows, cols = np.indices(best.shape, sparse=True)
        dx, dy = dx[rows, cols, best], dy[rows, cols, best]
    mag, angle = cv2.cartToPolar(np.ascontiguousarray(dx), np.ascontiguousarray(dy))
    angle = angle * np.float32(NBINS / np.pi) - np.float32(0.5)
    lo = np.floor(angle)
    frac = angle - lo
    lo = lo.astype(np.int64) % NBINS
    hi = (lo + 1) % NBINS
    base = np.arange(mag.size).reshape(mag.shape) * NBINS
    idx = np.concatenate([(base + lo).ravel(), (base + hi).ravel()])
    weights = np.concatenate([(mag * (1 - frac)).ravel(), (mag * frac).ravel()])
    votes = np.bincount(idx, weights=weights, minlength=mag.size * NBINS)
    return votes.astype(np.float32).reshape(mag.shape + (NBINS,))


def block_features(img: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` image -> ``(By, Bx, 36)`` L2-Hys normalised block histograms (stride 8)."""
    votes = _gradient_votes(img)
    ty, tx = img.shape[0] // CELL, img.shape[1] // CELL
    tiles = votes[: ty * CELL, : tx * CELL].reshape(ty, CELL, tx, CELL, NBINS)
    tiles = tiles.transpose(0, 2, 4, 1, 3).reshape(ty, tx, NBINS, 64)
    th = tiles @ _TILE_W.astype(np.float32)  # (Ty, Tx, 9, 16)
    by, bx = ty - 1, tx - 1
    blocks = np.zeros((by, bx, 4, NBINS), dtype=np.float32)  # per cell (cx*2+cy), bin
    for qy in range(2):
        for qx in range(2):
            q = qx * 2 + qy
            part = th[qy : qy + by, qx : qx + bx, :, q * 4 : q * 4 + 4]  # (By, Bx, 9, 4)
            blocks += part.transpose(0, 1, 3, 2)
    blocks = blocks.reshape(by, bx, 36)
    # L2-Hys: normalise, clip at 0.2, normalise again (OpenCV's epsilon choices).
    norm = np.sqrt((blocks**2).sum(axis=2, keepdims=True)) + 36 * 0.1
    blocks = np.minimum(blocks / norm, 0.2)
    norm = np.sqrt((blocks**2).sum(axis=2, keepdims=True)) + 1e-3
    return blocks / norm


def window_descriptor(img64x128: np.ndarray) -> np.ndarray:
    """The 3780-d descriptor of one 128x64 window, in OpenCV's order (blocks x-major)."""
    b = block_features(img64x128)  # (15, 7, 36)
    return b.transpose(1, 0, 2).reshape(-1)


class HogPeopleDetector:
    """Multi-scale sliding-window people detector -> ``(boxes (N, 4) xyxy, margins (N,))``."""

    def __init__(
        self, scale: float = 1.05, stride: int = 8, hit_threshold: float = 0.0, max_levels: int = 64
    ) -> None:
        self.scale = float(scale)
        self.stride = max(int(stride) // CELL, 1) * CELL
        self.hit_threshold = float(hit_threshold)
        self.max_levels = max_levels
        svm = np.load(_SVM_PATH).astype(np.float32)
        self.bias = float(svm[-1])
        # (Bx, By, 36) in descriptor order -> (By, Bx, 36) to line up with block maps.
        self.weights = svm[:-1].reshape(BLOCKS_X, BLOCKS_Y, 36).transpose(1, 0, 2).copy()
        self._native = None
        if hasattr(cv2, "HOGDescriptor"):
            self._native = cv2.HOGDescriptor()
            self._native.setSVMDetector(svm)

    def score_map(self, img: np.ndarray) -> np.ndarray:
        """SVM margins ``(Ny, Nx)`` of every window at stride 8 in ``img`` (top-left grid)."""
        blocks = block_features(img)
        ny, nx = blocks.shape[0] - BLOCKS_Y + 1, blocks.shape[1] - BLOCKS_X + 1
        if ny <= 0 or nx <= 0:
            return np.zeros((0, 0), dtype=np.float32)
        score = np.full((ny, nx), self.bias, dtype=np.float32)
        for by in range(BLOCKS_Y):
            for bx in range(BLOCKS_X):
                score += blocks[by : by + ny, bx : bx + nx] @ self.weights[by, bx]
        return score

    def detect(self, frame: np.ndarray, upscale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        if upscale != 1.0:
            frame = cv2.resize(frame, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_LINEAR)
        if self._native is not None:
            rects, weights = self._native.detectMultiScale(
                frame,
                hitThreshold=self.hit_threshold,
                winStride=(self.stride, self.stride),
                scale=self.scale,
            )
            rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
            boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
            return boxes / upscale, np.asarray(weights, dtype=np.float64).reshape(-1)
        boxes, margins = [], []
        h, w = frame.shape[:2]
        s = 1.0
        step = self.stride // CELL
        for _ in range(self.max_levels):
            sw, sh = round(w / s), round(h / s)
            if sw < WIN_W or sh < WIN_H:
                break
            img = frame if s == 1.0 else cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_LINEAR)
            score = self.score_map(img)[::step, ::step]
            ys, xs = np.nonzero(score >= self.hit_threshold)
            if len(ys):
                x0, y0 = xs * self.stride, ys * self.stride
                boxes.append(np.stack([x0, y0, x0 + WIN_W, y0 + WIN_H], axis=1) * s)
                margins.append(score[ys, xs])
            s *= self.scale
        if not boxes:
            return np.zeros((0, 4)), np.zeros(0)
        return np.concatenate(boxes) / upscale, np.concatenate(margins).astype(np.float64)
