"""Camera-motion compensation with sparse optical flow (as in BoT-SORT's ``sparseOptFlow``).

Corner features on the background (detections masked out, since people move on their own) are
followed from the previous frame with pyramidal Lucas-Kanade, and a similarity transform is
fitted with RANSAC. The tracker warps its Kalman states with it before predicting, so a panning
camera does not look like every player running the other way.
"""

from __future__ import annotations

import cv2
import numpy as np

_IDENTITY = np.eye(2, 3)


class CameraMotion:
    """Estimates the ``(2, 3)`` similarity mapping the previous frame onto the current one."""

    def __init__(self, downscale: int = 2, max_corners: int = 300, min_points: int = 8) -> None:
        self.downscale = max(int(downscale), 1)
        self.max_corners = max_corners
        self.min_points = min_points
        self._prev: np.ndarray | None = None

    def reset(self) -> None:
        self._prev = None

    def estimate(self, frame: np.ndarray, boxes_xyxy: np.ndarray | None = None) -> np.ndarray:
        """``frame (H, W, 3)`` BGR (or gray) and this frame's ``(N, 4)`` boxes -> ``(2, 3)``.

        Identity on the first frame and whenever too few background points can be followed.
        """
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        s = self.downscale
        if s > 1:
            gray = cv2.resize(
                gray, (gray.shape[1] // s, gray.shape[0] // s), interpolation=cv2.INTER_AREA
            )
        prev, self._prev = self._prev, gray
        if prev is None or prev.shape != gray.shape:
            return _IDENTITY.copy()
        mask = np.full(prev.shape, 255, dtype=np.uint8)
        h, w = prev.shape
        mask[: h // 50 + 1] = mask[-(h // 50 + 1) :] = 0  # borders often hold overlays / black bars
        if boxes_xyxy is not None and len(boxes_xyxy):
            for x1, y1, x2, y2 in np.asarray(boxes_xyxy, dtype=np.float64) / s:
                mask[
                    max(int(y1), 0) : max(int(y2) + 1, 0), max(int(x1), 0) : max(int(x2) + 1, 0)
                ] = 0
        pts = cv2.goodFeaturesToTrack(
            prev,
            maxCorners=self.max_corners,
            qualityLevel=0.01,
            minDistance=1,
            blockSize=3,
            mask=mask,
        )
        if pts is None or len(pts) < self.min_points:
            return _IDENTITY.copy()
        nxt, status, _err = cv2.calcOpticalFlowPyrLK(prev, gray, pts, None)
        ok = status.reshape(-1) == 1
        if ok.sum() < self.min_points:
            return _IDENTITY.copy()
        affine, _inliers = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC)
        if affine is None or not np.isfinite(affine).all():
            return _IDENTITY.copy()
        affine = affine.astype(np.float64)
        affine[:, 2] *= s
        return affine
