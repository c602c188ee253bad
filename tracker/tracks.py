"""Track state as a structure of arrays: one row per track, so every step is vectorised.

:class:`TrackTable` holds, per track row, the ids, life-cycle state and counters, the Kalman
state (``mean (N, 8)``, ``cov (N, 3, 4)``, see :mod:`tracker.kalman`), the state saved at the last
observation (for OC-SORT's re-update), the last observed box and the motion direction, the
tracklet embeddings ``emb (N, E)`` (``has_emb`` marks rows that have one); plus two Python lists
aligned with the rows: a short history of observed centres and the rolling window of per-frame
appearance features, and the detections a tentative track has had (see ``Tracker.backfill``). The tracker reads and writes the arrays directly; rows are removed only
through :meth:`TrackTable.keep`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from tracker.kalman import KalmanBoxFilter, cxcywh_to_xyxy, xyxy_to_cxcywh

TENTATIVE, TRACKED, LOST = 0, 1, 2
STATE_NAMES = ("tentative", "tracked", "lost")
# Per-track arrays: name -> (trailing shape, dtype).
ARRAYS: dict[str, tuple[tuple[int, ...], Any]] = {
    "ids": ((), np.int64),  # 0 until confirmed
    "state": ((), np.int8),
    "confirmed": ((), bool),
    "hits": ((), np.int64),
    "start": ((), np.int64),
    "last_frame": ((), np.int64),
    "score": ((), np.float64),
    "mean": ((8,), np.float64),
    "cov": ((3, 4), np.float64),
    "saved_mean": ((8,), np.float64),  # filter state right after the last observation (ORU)
    "saved_cov": ((3, 4), np.float64),
    "last_box": ((4,), np.float64),
    "direction": ((2,), np.float64),  # unit motion direction from past observations (OCM)
    "window_changed": ((), bool),
    "window_frame": ((), np.int64),  # frame of the latest per-frame feature in the window
    "has_emb": ((), bool),  # the row of ``emb`` holds a tracklet embedding
}
LISTS = ("history", "window", "pending")
HISTORY = 8  # observed centres kept per track for the motion direction


@dataclass(frozen=True)
class TrackInfo:
    """A read-only snapshot of one track (see ``Tracker.tracks``)."""

    track_id: int  # 0 while tentative
    state: str  # "tentative", "tracked" or "lost"
    box: np.ndarray  # (4,) last observed box, xyxy
    velocity: np.ndarray  # (4,) Kalman velocity of (cx, cy, w, h) per frame
    hits: int
    start_frame: int
    last_frame: int
    has_embedding: bool


class TrackTable:
    """Rows of track state (see the module docstring); ``window`` is the feature window W."""

    ids: np.ndarray
    state: np.ndarray
    confirmed: np.ndarray
    hits: np.ndarray
    start: np.ndarray
    last_frame: np.ndarray
    score: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    saved_mean: np.ndarray
    saved_cov: np.ndarray
    last_box: np.ndarray
    direction: np.ndarray
    window_changed: np.ndarray
    window_frame: np.ndarray
    has_emb: np.ndarray
    emb: np.ndarray  # (N, E) float32 tracklet embeddings; E is set by the first one stored
    history: list[deque[tuple[int, float, float]]]
    window: list[deque[Any]]
    pending: list[list[tuple[int, Any]]]  # (frame, detection) of a tentative track, for backfill

    def __init__(self, window: int) -> None:
        self.window_size = int(window)
        for name, (shape, dtype) in ARRAYS.items():
            setattr(self, name, np.zeros((0, *shape), dtype=dtype))
        for name in LISTS:
            setattr(self, name, [])
        self.emb = np.zeros((0, 0), np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def keep(self, mask: np.ndarray, det_track: np.ndarray | None = None) -> None:
        """Keep only the rows in ``mask``; renumber the row indices in ``det_track`` in place."""
        if mask.all():
            return
        if det_track is not None:
            new_row = np.cumsum(mask) - 1
            hit = det_track >= 0
            det_track[hit] = new_row[det_track[hit]]
        for name in ARRAYS:
            setattr(self, name, getattr(self, name)[mask])
        self.emb = self.emb[mask]
        flags = mask.tolist()
        for name in LISTS:
            setattr(self, name, [x for x, k in zip(getattr(self, name), flags, strict=True) if k])

    def append(
        self,
        boxes: np.ndarray,
        scores: np.ndarray,
        frame_id: int,
        mean: np.ndarray,
        cov: np.ndarray,
        first_features: list[Any | None],
    ) -> np.ndarray:
        """Add ``K`` tentative tracks born at ``boxes (K, 4)``; returns their rows ``(K,)``.

        ``first_features[k]`` (or ``None``) starts track k's appearance window.
        """
        n, k = len(self), len(boxes)
        new = {
            "ids": np.zeros(k, np.int64),
            "state": np.full(k, TENTATIVE, np.int8),
            "confirmed": np.zeros(k, bool),
            "hits": np.ones(k, np.int64),
            "start": np.full(k, frame_id, np.int64),
            "last_frame": np.full(k, frame_id, np.int64),
            "score": np.asarray(scores, np.float64),
            "mean": mean,
            "cov": cov,
            "saved_mean": mean,
            "saved_cov": cov,
            "last_box": np.asarray(boxes, np.float64),
            "direction": np.zeros((k, 2)),
            "window_changed": np.array([f is not None for f in first_features], bool),
            "window_frame": np.array(
                [frame_id if f is not None else 0 for f in first_features], np.int64
            ),
        }
        new["has_emb"] = np.zeros(k, bool)
        for name, arr in new.items():
            setattr(self, name, np.concatenate([getattr(self, name), arr]))
        self.emb = np.concatenate([self.emb, np.zeros((k, self.emb.shape[1]), np.float32)])
        for (x1, y1, x2, y2), feat in zip(boxes.tolist(), first_features, strict=True):
            self.history.append(deque([(frame_id, (x1 + x2) / 2, (y1 + y2) / 2)], maxlen=HISTORY))
            self.window.append(deque([] if feat is None else [feat], maxlen=self.window_size))
            self.pending.append([])
        return n + np.arange(k)

    def has_embedding(self) -> np.ndarray:
        """``(N,)`` bool: rows that have a tracklet embedding."""
        return self.has_emb

    def embeddings(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(K, E)`` tracklet embeddings of ``rows`` (zeros where missing; ``E = 0`` while no
        track has one) and the ``(K,)`` mask of rows that have one."""
        return self.emb[rows], self.has_emb[rows]

    def set_embeddings(self, rows: Any, embs: np.ndarray) -> None:
        """Store tracklet embeddings ``embs (K, E)`` for ``rows``."""
        embs = np.asarray(embs, np.float32)
        if self.emb.shape[1] != embs.shape[1]:  # first embedding (or a new embedder): resize
            self.emb = np.zeros((len(self), embs.shape[1]), np.float32)
            self.has_emb[:] = False
        self.emb[rows] = embs
        self.has_emb[rows] = True

    def warp(self, affine: np.ndarray, kalman: KalmanBoxFilter) -> None:
        """Move every track into the current camera frame (``(2, 3)`` similarity transform)."""
        self.mean, self.cov = kalman.warp(self.mean, self.cov, affine)
        self.saved_mean, self.saved_cov = kalman.warp(self.saved_mean, self.saved_cov, affine)
        lin, shift = affine[:, :2], affine[:, 2]
        z = xyxy_to_cxcywh(self.last_box)
        z[:, :2] = z[:, :2] @ lin.T + shift
        z[:, 2:] *= math.sqrt(abs(np.linalg.det(lin)))
        self.last_box = cxcywh_to_xyxy(z)
        direction = self.direction @ lin.T
        norm = np.linalg.norm(direction, axis=1, keepdims=True)
        self.direction = np.where(norm > 0, direction / np.maximum(norm, 1e-12), 0.0)
        self.history = [
            deque(((f, *(lin @ (cx, cy) + shift).tolist()) for f, cx, cy in h), maxlen=HISTORY)
            for h in self.history
        ]

    def observe_direction(
        self, rows: np.ndarray, boxes: np.ndarray, frame_id: int, delta: int
    ) -> None:
        """Append the new centres of ``rows`` to their histories and refresh each motion direction
        from the oldest kept observation at most ``delta`` frames back (OC-SORT's momentum)."""
        target = frame_id - delta
        centres = ((boxes[:, :2] + boxes[:, 2:]) / 2).tolist()
        for t, (cx, cy) in zip(rows.tolist(), centres, strict=True):
            hist = self.history[t]
            past = None
            for f, px, py in hist:
                if f >= target:
                    past = (px, py)
                    break
            hist.append((frame_id, cx, cy))
            if past is not None:
                dx, dy = cx - past[0], cy - past[1]
                norm = math.hypot(dx, dy)
                if norm > 1e-6:
                    self.direction[t] = (dx / norm, dy / norm)

    def snapshot(self) -> list[TrackInfo]:
        return [
            TrackInfo(
                track_id=int(self.ids[i]),
                state=STATE_NAMES[int(self.state[i])],
                box=self.last_box[i].copy(),
                velocity=self.mean[i, 4:].copy(),
                hits=int(self.hits[i]),
                start_frame=int(self.start[i]),
                last_frame=int(self.last_frame[i]),
                has_embedding=bool(self.has_emb[i]),
            )
            for i in range(len(self))
        ]
