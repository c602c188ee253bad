"""Constant-velocity Kalman filter over person boxes, batched over tracks.

State per track (8): ``cx, cy, w, h, vcx, vcy, vw, vh`` (box centre, width, height and their
per-frame velocities). Measurement (4): ``cx, cy, w, h``. Noise scales with the box size as in
ByteTrack / BoT-SORT, so one setting works for near and far players.

The model is *separable*: the transition, the process and measurement noise and the initial
covariance never couple two box coordinates, so each coordinate and its velocity is an
independent two-state filter and the 8x8 covariance only ever has 12 non-zero entries. We keep
exactly those, as ``cov (N, 3, 4)``: for each coordinate its variance ``pp``, its covariance with
its velocity ``pv`` and the velocity variance ``vv``. Predict and update are then a handful of
elementwise numpy operations over all tracks (no matrix products, no inverses), which is what
keeps association under a millisecond per frame. :func:`full_covariance` expands to the 8x8 form.

Every function takes a batch: ``mean (N, 8)``, ``cov (N, 3, 4)``.
"""

from __future__ import annotations

import numpy as np

PP, PV, VV = 0, 1, 2  # rows of the compact covariance


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` corners -> ``(N, 4)`` centre, width, height."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    wh = b[:, 2:] - b[:, :2]
    return np.concatenate([b[:, :2] + wh / 2, wh], axis=1)


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` centre, width, height -> ``(N, 4)`` corners."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    half = b[:, 2:] / 2
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)


def state_to_xyxy(mean: np.ndarray) -> np.ndarray:
    """``(N, 8)`` states -> ``(N, 4)`` boxes (corners)."""
    return cxcywh_to_xyxy(mean[:, :4])


def full_covariance(cov: np.ndarray) -> np.ndarray:
    """Compact ``(N, 3, 4)`` -> the equivalent ``(N, 8, 8)`` covariance matrix."""
    n = len(cov)
    full = np.zeros((n, 8, 8))
    i = np.arange(4)
    full[:, i, i] = cov[:, PP]
    full[:, i, i + 4] = full[:, i + 4, i] = cov[:, PV]
    full[:, i + 4, i + 4] = cov[:, VV]
    return full


def _size(mean: np.ndarray) -> np.ndarray:
    """``(N, 4)`` of (w, h, w, h): the scale of each coordinate's noise, never below 1 pixel."""
    wh = np.maximum(mean[:, 2:4], 1.0)
    return np.concatenate([wh, wh], axis=1)


class KalmanBoxFilter:
    """Batched separable constant-velocity Kalman filter (see the module docstring).

    ``std_position`` and ``std_velocity`` are noise standard deviations relative to the box size
    (ByteTrack's 1/20 and 1/160); raise ``std_velocity`` for fast, erratic motion.
    ``confidence_noise`` k > 0 is StrongSORT's NSA Kalman: a box given with its confidence ``c``
    has its measurement variance times ``k (1 - c)``, so confident boxes move the state more.
    """

    def __init__(
        self,
        std_position: float = 1 / 20,
        std_velocity: float = 1 / 160,
        confidence_noise: float = 0.0,
    ) -> None:
        self.std_position = float(std_position)
        self.std_velocity = float(std_velocity)
        self.confidence_noise = float(confidence_noise)

    def initiate(self, boxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start tracks at ``(N, 4)`` boxes with zero velocity -> ``mean (N, 8), cov (N, 3, 4)``."""
        z = xyxy_to_cxcywh(boxes_xyxy)
        mean = np.concatenate([z, np.zeros_like(z)], axis=1)
        size = np.tile(z[:, 2:], 2)
        cov = np.zeros((len(z), 3, 4))
        cov[:, PP] = (2 * self.std_position * size) ** 2
        cov[:, VV] = (10 * self.std_velocity * size) ** 2
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One frame ahead: ``x += v``; ``P = F P F^T + Q`` -> same shapes."""
        if len(mean) == 0:
            return mean, cov
        size = _size(mean)
        pp, pv, vv = cov[:, PP], cov[:, PV], cov[:, VV]
        out = np.empty_like(cov)
        out[:, PP] = pp + 2 * pv + vv + (self.std_position * size) ** 2
        out[:, PV] = pv + vv
        out[:, VV] = vv + (self.std_velocity * size) ** 2
        mean = mean.copy()
        mean[:, :4] += mean[:, 4:]
        return mean, out

    def update(
        self,
        mean: np.ndarray,
        cov: np.ndarray,
        boxes_xyxy: np.ndarray,
        confidence: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct ``(N, 8), (N, 3, 4)`` with ``(N, 4)`` measured boxes -> corrected state.
        ``confidence (N,)`` scales each box's measurement noise when ``confidence_noise`` is set
        (without it, or without confidences, the noise is fixed)."""
        if len(mean) == 0:
            return mean, cov
        pp, pv, vv = cov[:, PP], cov[:, PV], cov[:, VV]
        r = (self.std_position * _size(mean)) ** 2  # measurement variance per coordinate
        if confidence is not None and self.confidence_noise > 0:
            c = np.clip(np.asarray(confidence, dtype=np.float64).reshape(-1, 1), 0.0, 1.0)
            r = r * (self.confidence_noise * (1.0 - c))
        s = pp + r  # innovation variance per coordinate
        kp, kv = pp / s, pv / s  # Kalman gain for the coordinate and its velocity
        innovation = xyxy_to_cxcywh(boxes_xyxy) - mean[:, :4]
        mean = mean.copy()
        mean[:, :4] += kp * innovation
        mean[:, 4:] += kv * innovation
        out = np.empty_like(cov)
        out[:, PP] = pp * (1 - kp)
        out[:, PV] = pv * (1 - kp)
        out[:, VV] = vv - kv * pv
        return mean, out

    @staticmethod
    def warp(
        mean: np.ndarray, cov: np.ndarray, affine: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Move states into the next camera frame given a ``(2, 3)`` similarity transform.

        Centres get the full transform, centre velocities its linear part, sizes and their
        velocities its scale. Covariances scale by scale^2; the small rotation a camera makes
        between two frames is not applied to them, which keeps the filter separable.
        """
        if len(mean) == 0:
            return mean, cov
        a = np.asarray(affine, dtype=np.float64)
        lin, shift = a[:, :2], a[:, 2]
        scale = float(np.sqrt(abs(np.linalg.det(lin))))
        mean = mean.copy()
        mean[:, 0:2] = mean[:, 0:2] @ lin.T + shift
        mean[:, 4:6] = mean[:, 4:6] @ lin.T
        mean[:, 2:4] *= scale
        mean[:, 6:8] *= scale
        return mean, cov * scale**2
