"""HOG + linear SVM people detection (Dalal & Triggs) in numpy, matching OpenCV 4's HOGDescriptor.

OpenCV 5 moved ``HOGDescriptor`` to the contrib modules, so the offline ``--detector hog`` needs
its own copy. This file computes the same 3780-d descriptor as OpenCV 4's default (64x128 window,
16x16 blocks, 8x8 stride and cells, 9 unsigned bins, gamma correction, Gaussian block weighting
with sigma 4, bilinear cell interpolation, L2-Hys) and scores it with OpenCV's default people SVM
(``data/hog_people_svm.npy``: ``cv2.HOGDescriptor_getDefaultPeopleDetector()``, OpenCV 4.x,
Apache-2.0). :meth:`HogPeopleDetector.detect` returns the raw hits of OpenCV 4's
``detectMultiScale(img, hitThreshold, winStride, padding=(0, 0), scale, groupThreshold=0)``: the
same pyramid (``INTER_LINEAR_EXACT`` resizes, ``cvRound`` sizes), windows and margins.

How it stays fast in numpy (every step is one vectorised call over a whole pyramid level):

- gradients: gamma table (``cv2.LUT``), ``[-1, 0, 1]`` derivatives of the three channels, the
  strongest channel per pixel, ``cv2.cartToPolar``;
- orientation votes: nine planes ``mag * max(0, 1 - |u - centre|)`` (the linear interpolation
  between the two nearest bins), each written by a few ``cv2`` calls into one ``(9, H, W)`` array;
- cell histograms: the Gaussian x bilinear weight of a pixel in a 16x16 block is separable, so
  the weighted sums over each 8x8 *tile* are two small matrix products (``_AXIS_W``: 8 pixels to
  4 (quadrant, cell) pairs per axis); a block's 36 values are the sums of its four tiles;
- the SVM: one matrix product of every block with the 105 per-block weight vectors, then 105
  shifted adds (the correlation of the ``(By, Bx)`` block map with the ``(15, 7)`` window).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

WIN_W, WIN_H, CELL, NBINS = 64, 128, 8, 9
BLOCKS_X, BLOCKS_Y = WIN_W // CELL - 1, WIN_H // CELL - 1  # 7 x 15 blocks per window
_SVM_PATH = Path(__file__).resolve().parent / "data" / "hog_people_svm.npy"


def _axis_weights() -> np.ndarray:
    """``(4, 8)``: along one axis, the weight of tile pixel ``r`` for (quadrant q, cell c) at row
    ``q * 2 + c``: the 1-d Gaussian (sigma 4, centred on the 16-pixel block) times the bilinear
    weight of the pixel for cell ``c`` (OpenCV's HOGCache: cell coordinate ``(i + 0.5) / 8 - 0.5``).
    A pixel's 2-d weight for a (quadrant, cell) pair is the product of its two axes' weights."""
    sigma = 4.0
    out = np.zeros((4, 8))
    for q in range(2):
        for r in range(8):
            i = q * 8 + r  # position in the block
            gauss = np.exp(-((i - 8.0) ** 2) / (2 * sigma**2))
            pos = (i + 0.5) / CELL - 0.5
            c0 = int(np.floor(pos))
            frac = pos - c0
            for c, w in ((c0, 1 - frac), (c0 + 1, frac)):
                if 0 <= c < 2:
                    out[q * 2 + c, r] += gauss * w
    return out


_AXIS_W = _axis_weights().astype(np.float32)
_GAMMA = np.sqrt(np.arange(256, dtype=np.float32)).reshape(1, 256)
_BIN_SCALE = np.float32(NBINS / np.pi)


def _orientation_votes(img: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` BGR uint8 -> ``(9, H, W)`` float32 magnitude votes per orientation bin.

    As OpenCV 4: gamma (square root) table, ``[-1, 0, 1]`` derivatives with reflect-101 borders,
    the channel with the largest squared magnitude (red, then green, then blue on ties), and each
    pixel's magnitude split linearly between the two bins nearest to its unsigned orientation.
    """
    g = cv2.LUT(img, _GAMMA)
    dx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=1, borderType=cv2.BORDER_REFLECT_101)
    dy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=1, borderType=cv2.BORDER_REFLECT_101)
    if dx.ndim == 3:
        bx, gx, rx = cv2.split(dx)
        by, gy, ry = cv2.split(dy)
        best = cv2.add(cv2.multiply(rx, rx), cv2.multiply(ry, ry))
        for cx, cy in ((gx, gy), (bx, by)):
            m = cv2.add(cv2.multiply(cx, cx), cv2.multiply(cy, cy))
            take = m > best
            np.copyto(rx, cx, where=take)
            np.copyto(ry, cy, where=take)
            np.maximum(best, m, out=best)
        dx, dy = rx, ry
    mag, angle = cv2.cartToPolar(dx, dy)
    # u in [0, 9): orientation in bin units, unsigned (angle mod pi); bin k is centred on k + 0.5.
    u = cv2.multiply(angle, float(_BIN_SCALE))
    u -= np.float32(NBINS) * (u >= NBINS)
    votes = np.empty((NBINS,) + mag.shape, dtype=np.float32)
    for k in range(NBINS):
        dist = cv2.absdiff(u, k + 0.5)
        if k == 0:  # u in [8.5, 9) also votes for bin 0 (wrap-around)
            dist = cv2.min(dist, cv2.absdiff(u, NBINS + 0.5))
        elif k == NBINS - 1:  # u in [0, 0.5) also votes for bin 8
            dist = cv2.min(dist, cv2.add(u, 0.5))
        w = cv2.subtract(1.0, dist)
        cv2.max(w, 0.0, dst=w)
        cv2.multiply(w, mag, dst=votes[k])
    return votes


def block_features(img: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` image -> ``(By, Bx, 36)`` L2-Hys normalised block histograms (stride 8).

    A block's 36 values are its four cells' 9 bins, cells in OpenCV's order (``cx * 2 + cy``).
    """
    votes = _orientation_votes(img)
    ty, tx = img.shape[0] // CELL, img.shape[1] // CELL
    v = votes[:, : ty * CELL, : tx * CELL]
    # x: (9 * ty * 8 * tx, 8) @ (8, 4) -> per tile row pixel, (qx, cx) pairs
    vx = v.reshape(-1, CELL) @ _AXIS_W.T  # (9*ty*8*tx, 4)
    vx = vx.reshape(NBINS, ty, CELL, tx * 4)
    # y: (4, 8) @ (8, tx*4) per (bin, tile row) -> (9, ty, 4 (qy, cy), tx, 4 (qx, cx))
    th = np.matmul(_AXIS_W, vx).reshape(NBINS, ty, 4, tx, 4)
    by, bx = ty - 1, tx - 1
    blocks = np.zeros((by, bx, 2, 2, NBINS), dtype=np.float32)  # (.., cx, cy, bin)
    for qy in range(2):
        for qx in range(2):
            part = th[:, qy : qy + by, qy * 2 : qy * 2 + 2, qx : qx + bx, qx * 2 : qx * 2 + 2]
            # part: (9, by, cy, bx, cx) -> (by, bx, cx, cy, 9)
            blocks += part.transpose(1, 3, 4, 2, 0)
    blocks = blocks.reshape(by, bx, 36)
    # L2-Hys: normalise, clip at 0.2, normalise again (OpenCV's epsilon choices).
    norm = np.sqrt(np.einsum("ijk,ijk->ij", blocks, blocks))[..., None] + np.float32(36 * 0.1)
    blocks = np.minimum(blocks / norm, np.float32(0.2))
    norm = np.sqrt(np.einsum("ijk,ijk->ij", blocks, blocks))[..., None] + np.float32(1e-3)
    return blocks / norm


def window_descriptor(img64x128: np.ndarray) -> np.ndarray:
    """The 3780-d descriptor of one 128x64 window, in OpenCV's order (blocks x-major)."""
    b = block_features(img64x128)  # (15, 7, 36)
    return b.transpose(1, 0, 2).reshape(-1)


def pyramid(width: int, height: int, scale: float, max_levels: int = 64) -> list[float]:
    """The scales of OpenCV 4's ``detectMultiScale`` pyramid for a ``width x height`` image:
    1, scale, scale^2, ... while the shrunken image still holds a 64x128 window (the first
    scale at which it does not is kept too, as OpenCV does; it has no windows)."""
    scales, s = [], 1.0
    for _ in range(max_levels):
        scales.append(s)
        if round(width / s) < WIN_W or round(height / s) < WIN_H or scale <= 1:
            break
        s *= scale
    return scales


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
        # (Bx, By, 36) in descriptor order -> (By, Bx, 36) to line up with block maps, then
        # (36, By * Bx): one column per block offset of the window.
        self.weights = svm[:-1].reshape(BLOCKS_X, BLOCKS_Y, 36).transpose(1, 0, 2).copy()
        self._w_cols = np.ascontiguousarray(self.weights.reshape(-1, 36).T)

    def score_map(self, img: np.ndarray) -> np.ndarray:
        """SVM margins ``(Ny, Nx)`` of every window at stride 8 in ``img`` (top-left grid)."""
        blocks = block_features(img)
        ny, nx = blocks.shape[0] - BLOCKS_Y + 1, blocks.shape[1] - BLOCKS_X + 1
        if ny <= 0 or nx <= 0:
            return np.zeros((0, 0), dtype=np.float32)
        per = blocks.reshape(-1, 36) @ self._w_cols  # (By * Bx, 105): block x offset weights
        per = per.reshape(blocks.shape[0], blocks.shape[1], BLOCKS_Y, BLOCKS_X)
        score = np.full((ny, nx), self.bias, dtype=np.float32)
        for oy in range(BLOCKS_Y):
            for ox in range(BLOCKS_X):
                score += per[oy : oy + ny, ox : ox + nx, oy, ox]
        return score

    def detect(self, frame: np.ndarray, upscale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Every window whose margin reaches ``hit_threshold``, on every pyramid level, in the
        frame's coordinates (``upscale`` enlarges the frame first: it finds smaller people)."""
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        if upscale != 1.0:
            frame = cv2.resize(frame, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_LINEAR)
        boxes, margins = [], []
        h, w = frame.shape[:2]
        step = self.stride // CELL
        for s in pyramid(w, h, self.scale, self.max_levels):
            sw, sh = int(np.rint(w / s)), int(np.rint(h / s))
            if sw < WIN_W or sh < WIN_H:
                break
            img = (
                frame
                if (sw, sh) == (w, h)
                else cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_LINEAR_EXACT)
            )
            score = self.score_map(img)[::step, ::step]
            ys, xs = np.nonzero(score >= self.hit_threshold)
            if len(ys):
                x0 = np.rint(xs * self.stride * s)
                y0 = np.rint(ys * self.stride * s)
                bw, bh = np.rint(WIN_W * s), np.rint(WIN_H * s)
                boxes.append(np.stack([x0, y0, x0 + bw, y0 + bh], axis=1))
                margins.append(score[ys, xs])
        if not boxes:
            return np.zeros((0, 4)), np.zeros(0)
        return np.concatenate(boxes) / upscale, np.concatenate(margins).astype(np.float64)
