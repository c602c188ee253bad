"""Cost matrices and gated assignment between tracks (rows) and detections (columns).

All functions are vectorised over the whole ``(N tracks, M detections)`` matrix. Costs are in
"lower is better" form; a gate is expressed as ``np.inf`` and such pairs are never matched.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

# Stand-in for np.inf inside the solver: it rejects infinite entries when a row has no finite one.
_BIG = 1e6


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``(N, 4)`` and ``(M, 4)`` corner boxes -> ``(N, M)`` in [0, 1].

    Coordinates are broadcast as ``(N, 1)`` against ``(1, M)`` columns (no ``(N, M, 2)``
    intermediates): this runs a few times per frame and dominates association at 30 tracks.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ax1, ay1, ax2, ay2 = a.T[:, :, None]
    bx1, by1, bx2, by2 = b.T[:, None, :]
    iw = np.minimum(ax2, bx2) - np.maximum(ax1, bx1)
    ih = np.minimum(ay2, by2) - np.maximum(ay1, by1)
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    area_a = np.maximum(ax2 - ax1, 0.0) * np.maximum(ay2 - ay1, 0.0)
    area_b = np.maximum(bx2 - bx1, 0.0) * np.maximum(by2 - by1, 0.0)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, E)`` and ``(M, E)`` L2-normalised embeddings -> ``(N, M)`` distance ``1 - cos`` in [0, 2]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return np.clip(1.0 - np.asarray(a) @ np.asarray(b).T, 0.0, 2.0).astype(np.float64)


def direction_cost(
    track_dirs: np.ndarray, track_centers: np.ndarray, det_centers: np.ndarray
) -> np.ndarray:
    """OC-SORT's observation-centric momentum term, ``(N, M)`` in [-0.5, 0.5].

    ``track_dirs`` ``(N, 2)`` are unit motion directions from each track's past observations
    (all-zero rows mean "unknown" and give 0). The cost is ``angle / pi - 0.5`` between that
    direction and the direction from the track's last observed centre ``(N, 2)`` to each
    detection centre ``(M, 2)``: negative (a bonus) when the detection continues the motion.
    """
    if len(track_dirs) == 0 or len(det_centers) == 0:
        return np.zeros((len(track_dirs), len(det_centers)))
    delta = det_centers[None, :, :] - track_centers[:, None, :]  # (N, M, 2)
    norm = np.linalg.norm(delta, axis=2)
    cos = np.einsum("nmk,nk->nm", delta, track_dirs) / np.maximum(norm, 1e-6)
    angle = np.arccos(np.clip(cos, -1.0, 1.0))
    known = (np.abs(track_dirs).sum(axis=1) > 0)[:, None] & (norm > 1e-6)
    return np.where(known, angle / np.pi - 0.5, 0.0)


def linear_assignment(
    cost: np.ndarray, max_cost: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one matching keeping only pairs with ``cost <= max_cost``.

    Returns ``matches (K, 2)`` of (row, col), then the unmatched rows and unmatched columns.
    """
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros((0, 2), dtype=np.int64), np.arange(n), np.arange(m)
    gated = np.where(np.isfinite(cost) & (cost <= max_cost), cost, _BIG)
    rows, cols = linear_sum_assignment(gated)
    ok = gated[rows, cols] < _BIG
    matches = np.stack([rows[ok], cols[ok]], axis=1).astype(np.int64)
    row_free = np.ones(n, dtype=bool)
    row_free[matches[:, 0]] = False
    col_free = np.ones(m, dtype=bool)
    col_free[matches[:, 1]] = False
    return matches, np.flatnonzero(row_free), np.flatnonzero(col_free)


def fuse_cost(
    iou: np.ndarray,
    appearance: np.ndarray | None,
    *,
    appearance_weight: float,
    min_iou: float,
    appearance_gate: float,
    max_motion_cost: float | None = None,
) -> np.ndarray:
    """One cost from motion and appearance, with gates, ``(N, M)``.

    ``cost = (1 - w) * (1 - IoU) + w * cosine_distance``. A pair is gated out (``inf``) when its
    IoU is below ``min_iou``, its appearance distance exceeds ``appearance_gate``, or its motion
    cost ``1 - IoU`` alone exceeds ``max_motion_cost`` (the stage's threshold: appearance re-ranks
    motion-plausible pairs but never admits a pair that motion alone would reject, since a low
    appearance distance would otherwise pull the fused cost under the threshold at any IoU).
    Without appearance, or where a row of ``appearance`` is NaN (a track with no embedding yet),
    it is plain ``1 - IoU``.
    """
    cost = 1.0 - iou
    if appearance is not None and appearance_weight > 0:
        known = ~np.isnan(appearance)
        fused = (1.0 - appearance_weight) * cost + appearance_weight * np.where(
            known, appearance, 0.0
        )
        gated = known & (np.nan_to_num(appearance) > appearance_gate)
        if max_motion_cost is not None:
            gated |= known & (cost > max_motion_cost)
        cost = np.where(gated, np.inf, np.where(known, fused, cost))
    return np.where(iou < min_iou, np.inf, cost)


def max_overlap(boxes: np.ndarray) -> np.ndarray:
    """``(N,)`` each box's largest IoU with another box of the same frame (0 for a lone box)."""
    if len(boxes) < 2:
        return np.zeros(len(boxes))
    iou = box_iou(boxes, boxes)
    np.fill_diagonal(iou, 0.0)
    return iou.max(axis=1)
