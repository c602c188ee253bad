"""Constant-velocity Kalman filter over person boxes, batched over tracks.

State per track (8): ``cx, cy, w, h, vcx, vcy, vw, vh`` (box centre, width, height and their
per-frame velocities). Measurement (4): ``cx, cy, w, h``. Noise scales with the box size as in
ByteTrack / BoT-SORT, so one setting works for near and far players.

Every function takes a batch: ``mean`` is ``(N, 8)`` and ``cov`` is ``(N, 8, 8)``; all work is
numpy-vectorised so predicting 30 tracks costs about as much as predicting one.
"""

from __future__ import annotations

import numpy as np

_NDIM = 4
# x_{t+1} = F x_t: position += velocity.
_F = np.eye(2 * _NDIM)
_F[:_NDIM, _NDIM:] = np.eye(_NDIM)


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


class KalmanBoxFilter:
    """Batched constant-velocity Kalman filter (see the module docstring for the state layout).

    ``std_position`` and ``std_velocity`` are noise standard deviations relative to the box size
    (ByteTrack's 1/20 and 1/160); raise ``std_velocity`` for fast, erratic motion (sports).
    """

    def __init__(self, std_position: float = 1 / 20, std_velocity: float = 1 / 160) -> None:
        self.std_position = float(std_position)
        self.std_velocity = float(std_velocity)

    def initiate(self, boxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start tracks at ``(N, 4)`` boxes with zero velocity -> ``mean (N, 8), cov (N, 8, 8)``."""
        z = xyxy_to_cxcywh(boxes_xyxy)
        mean = np.concatenate([z, np.zeros_like(z)], axis=1)
        wh = np.tile(z[:, 2:], 2)  # (w, h, w, h) per track
        std = np.concatenate(
            [2 * self.std_position * wh, 10 * self.std_velocity * wh], axis=1
        )  # (N, 8)
        cov = np.zeros((len(z), 8, 8))
        idx = np.arange(8)
        cov[:, idx, idx] = std**2
        return mean, cov

    def _wh(self, mean: np.ndarray) -> np.ndarray:
        """``(N, 4)`` of (w, h, w, h) used to scale noise; never below 1 pixel."""
        wh = np.maximum(mean[:, 2:4], 1.0)
        return np.concatenate([wh, wh], axis=1)

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step ahead: ``(N, 8), (N, 8, 8)`` -> same shapes."""
        if len(mean) == 0:
            return mean, cov
        wh = self._wh(mean)
        q = np.concatenate([(self.std_position * wh) ** 2, (self.std_velocity * wh) ** 2], axis=1)
        mean = mean @ _F.T
        cov = _F @ cov @ _F.T
        idx = np.arange(8)
        cov[:, idx, idx] += q
        return mean, cov

    def project(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Measurement-space mean ``(N, 4)`` and innovation covariance ``(N, 4, 4)``."""
        wh = self._wh(mean)[:, :4]
        r = (self.std_position * wh) ** 2
        s = cov[:, :_NDIM, :_NDIM].copy()
        idx = np.arange(_NDIM)
        s[:, idx, idx] += r
        return mean[:, :_NDIM], s

    def update(
        self, mean: np.ndarray, cov: np.ndarray, boxes_xyxy: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct ``(N, 8), (N, 8, 8)`` with ``(N, 4)`` measured boxes -> corrected state."""
        if len(mean) == 0:
            return mean, cov
        z = xyxy_to_cxcywh(boxes_xyxy)
        proj_mean, s = self.project(mean, cov)
        pht = cov[:, :, :_NDIM]  # P H^T, (N, 8, 4)
        gain = np.linalg.solve(s, pht.transpose(0, 2, 1)).transpose(0, 2, 1)  # (N, 8, 4)
        innovation = z - proj_mean
        mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        cov = cov - gain @ s @ gain.transpose(0, 2, 1)
        return mean, cov

    @staticmethod
    def warp(
        mean: np.ndarray, cov: np.ndarray, affine: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Move states into the next camera frame given a ``(2, 3)`` similarity transform.

        Centres get the full transform, velocities the linear part, and sizes the scale factor.
        """
        if len(mean) == 0:
            return mean, cov
        lin = np.asarray(affine, dtype=np.float64)[:, :2]
        shift = np.asarray(affine, dtype=np.float64)[:, 2]
        scale = float(np.sqrt(abs(np.linalg.det(lin))))
        jac = np.zeros((8, 8))
        jac[0:2, 0:2] = lin
        jac[2:4, 2:4] = np.eye(2) * scale
        jac[4:6, 4:6] = lin
        jac[6:8, 6:8] = np.eye(2) * scale
        mean = mean @ jac.T
        mean[:, 0:2] += shift
        cov = jac @ cov @ jac.T
        return mean, cov


def state_to_xyxy(mean: np.ndarray) -> np.ndarray:
    """``(N, 8)`` states -> ``(N, 4)`` predicted boxes (corners)."""
    return cxcywh_to_xyxy(mean[:, :_NDIM])
