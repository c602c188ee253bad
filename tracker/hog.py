"""HOG + linear SVM people detection (Dalal & Triggs) in numpy, matching OpenCV 4's HOGDescriptor.

OpenCV 5 moved ``HOGDescriptor`` to the contrib modules, so the offline ``--detector hog`` needs
its own copy. This file computes the same 3780-d descriptor as OpenCV 4's default (64x128 window,
16x16 blocks, 8x8 stride and cells, 9 unsigned bins, gamma correction, Gaussian block weighting
with sigma 4, bilinear cell interpolation, L2-Hys) and scores it with OpenCV's default people SVM
(``data/hog_people_svm.npy``: ``cv2.HOGDescriptor_getDefaultPeopleDetector()``, OpenCV 4.x,
Apache-2.0). :meth:`HogPeopleDetector.detect` returns the raw hits of OpenCV 4's
``detectMultiScale(img, hitThreshold, winStride, padding=(0, 0), scale, groupThreshold=0)``: the
same pyramid (``INTER_LINEAR_EXACT`` resizes, ``cvRound`` sizes), windows and margins.

How it stays fast in numpy (``benchmarks/hog_detector.py``: within ~1.2-1.4x of OpenCV 4's C++ on
one core): each pyramid level is processed in bands of tile rows small enough that a band's nine
vote planes stay in cache, and every step is a vectorised call over a band or a level:

- gradients: per channel a gamma table (``cv2.LUT``), ``[-1, 0, 1]`` derivatives and
  ``cv2.cartToPolar``; the strongest channel wins per pixel (masked copies);
- orientation votes: nine planes ``mag * max(0, 1 - |u - centre|)`` (the linear interpolation
  between the two nearest bins), each written by a few ``cv2`` calls;
- cell histograms: the Gaussian x bilinear weight of a pixel in a 16x16 block is separable, so
  the weighted sums over each 8x8 *tile* are two small matrix products (``_AXIS_W``: 8 pixels to
  4 (quadrant, cell) pairs per axis); a block's 36 values are the sums of its four tiles;
- the SVM: one matrix product of every block with the 105 per-position weight vectors of a
  window, then one strided sum over the 105 positions (the correlation of the ``(By, Bx)``
  block map with the ``(15, 7)`` window).
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


def _gradient(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(h, W, 3)`` BGR uint8 -> magnitude ``(h, W)`` and orientation ``u`` in bin units.

    As OpenCV 4: gamma (square root) table, ``[-1, 0, 1]`` derivatives with reflect-101 borders,
    the channel with the largest magnitude (red, then green, then blue on ties), and
    ``u = (angle mod pi) * 9 / pi`` in ``[0, 9)``; bin ``k`` is centred on ``u = k + 0.5``.
    """
    planes = cv2.split(img)[::-1] if img.ndim == 3 else [img]  # red, green, blue
    mag = angle = None
    for plane in planes:
        g = cv2.LUT(plane, _GAMMA)
        dx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=1, borderType=cv2.BORDER_REFLECT_101)
        dy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=1, borderType=cv2.BORDER_REFLECT_101)
        m, a = cv2.cartToPolar(dx, dy)
        if mag is None:
            mag, angle = m, a
        else:  # this channel's gradient is stronger: take it
            stronger = cv2.compare(m, mag, cv2.CMP_GT)
            cv2.copyTo(m, stronger, mag)
            cv2.copyTo(a, stronger, angle)
    u = cv2.multiply(angle, float(_BIN_SCALE))
    u -= np.float32(NBINS) * (u >= NBINS)
    return mag, u


def _orientation_votes(mag: np.ndarray, u: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Magnitude votes per orientation bin into ``out`` ``(9, h, w)``: each pixel's magnitude
    split linearly between the two bins nearest to its orientation (with wrap-around)."""
    dist = np.empty_like(mag)
    for k in range(NBINS):
        cv2.absdiff(u, k + 0.5, dst=dist)
        if k == 0:  # u in [8.5, 9) also votes for bin 0
            cv2.min(dist, cv2.absdiff(u, NBINS + 0.5), dst=dist)
        elif k == NBINS - 1:  # u in [0, 0.5) also votes for bin 8
            cv2.min(dist, cv2.add(u, 0.5), dst=dist)
        cv2.subtract(1.0, dist, dst=dist)
        cv2.max(dist, 0.0, dst=dist)
        cv2.multiply(dist, mag, dst=out[k])
    return out


_BAND_PIXELS = 1 << 16  # pixels per band of tile rows: its nine vote planes stay in cache


def tile_histograms(img: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` image -> ``(Ty, Tx, 4, 4, 9)``: for each 8x8 tile, the votes of its pixels
    per (x quadrant, x cell), (y quadrant, y cell) and bin, weighted as in a 16x16 block.

    Works in bands of tile rows so the nine vote planes of a band stay in cache; the gradient of
    a band is taken with one halo row on each side, so it equals the whole image's.
    """
    h, w = img.shape[:2]
    ty, tx = h // CELL, w // CELL
    out = np.empty((ty, tx, 4, 4, NBINS), dtype=np.float32)
    band = max(1, _BAND_PIXELS // max(w, 1) // CELL)  # tile rows per band
    votes = np.empty((NBINS, band * CELL, tx * CELL), dtype=np.float32)
    for t0 in range(0, ty, band):
        t1 = min(t0 + band, ty)
        y0, y1 = t0 * CELL, t1 * CELL
        ya, yb = max(y0 - 1, 0), min(y1 + 1, h)
        mag, u = _gradient(img[ya:yb])
        rows = slice(y0 - ya, y0 - ya + y1 - y0)
        v = votes if t1 - t0 == band else np.empty((NBINS, y1 - y0, tx * CELL), np.float32)
        _orientation_votes(mag[rows, : tx * CELL], u[rows, : tx * CELL], v)
        nb = t1 - t0
        # x: (9 * nb * 8 * tx, 8) @ (8, 4) -> (qx, cx) pairs; y: (4, 8) @ (8, tx * 4) per row
        vx = (v.reshape(-1, CELL) @ _AXIS_W.T).reshape(NBINS, nb, CELL, tx * 4)
        th = np.matmul(_AXIS_W, vx).reshape(NBINS, nb, 4, tx, 4)
        out[t0:t1] = th.transpose(1, 3, 4, 2, 0)
    return out


def block_features(img: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` image -> ``(By, Bx, 36)`` L2-Hys normalised block histograms (stride 8).

    A block's 36 values are its four cells' 9 bins, cells in OpenCV's order (``cx * 2 + cy``).
    """
    th = tile_histograms(img)  # (ty, tx, (qx, cx), (qy, cy), bin)
    # A block is 2x2 tiles: add the x quadrants, then the y quadrants -> (by, bx, cx, cy, bin).
    pairs = th[:, :-1, 0:2] + th[:, 1:, 2:4]
    blocks = pairs[:-1, :, :, 0:2] + pairs[1:, :, :, 2:4]
    blocks = blocks.reshape(blocks.shape[0], blocks.shape[1], 36)
    # L2-Hys: normalise, clip at 0.2, normalise again (OpenCV's epsilon choices).
    norm = np.sqrt(np.einsum("ijk,ijk->ij", blocks, blocks)) + np.float32(36 * 0.1)
    blocks *= (1 / norm)[..., None]
    np.minimum(blocks, np.float32(0.2), out=blocks)
    norm = np.sqrt(np.einsum("ijk,ijk->ij", blocks, blocks)) + np.float32(1e-3)
    blocks *= (1 / norm)[..., None]
    return blocks


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
        # (105, 36): one row per block position in the window.
        self.weights = svm[:-1].reshape(BLOCKS_X, BLOCKS_Y, 36).transpose(1, 0, 2).copy()
        self._w_rows = np.ascontiguousarray(self.weights.reshape(-1, 36))  # (105, 36)

    def score_map(self, img: np.ndarray) -> np.ndarray:
        """SVM margins ``(Ny, Nx)`` of every window at stride 8 in ``img`` (top-left grid)."""
        blocks = block_features(img)
        ny, nx = blocks.shape[0] - BLOCKS_Y + 1, blocks.shape[1] - BLOCKS_X + 1
        if ny <= 0 or nx <= 0:
            return np.zeros((0, 0), dtype=np.float32)
        # (105, By * Bx): every block scored with the weights of each block position in a window
        per = self._w_rows @ blocks.reshape(-1, 36).T
        per = per.reshape(BLOCKS_Y, BLOCKS_X, blocks.shape[0], blocks.shape[1])
        # window (y, x) adds per[oy, ox, y + oy, x + ox] over the 105 offsets: one strided view
        s0, s1, s2, s3 = per.strides
        shifted = np.lib.stride_tricks.as_strided(
            per, (BLOCKS_Y, BLOCKS_X, ny, nx), (s0 + s2, s1 + s3, s2, s3), writeable=False
        )
        return shifted.sum(axis=(0, 1), dtype=np.float32) + np.float32(self.bias)

    def detect(
        self, frame: np.ndarray, upscale: float = 1.0, clip: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every window whose margin reaches ``hit_threshold``, on every pyramid level, in the
        frame's coordinates (``upscale`` enlarges the frame first: it finds smaller people).
        ``clip`` cuts windows at the frame's edges, as OpenCV does."""
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
        out = np.concatenate(boxes)
        if clip:  # OpenCV's clipObjects
            np.clip(out, 0, [w, h, w, h], out=out)
        return out / upscale, np.concatenate(margins).astype(np.float64)
