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
    """IoU of ``(N, 4)`` and ``(M, 4)`` corner boxes -> ``(N, M)`` in [0, 1]."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), 1e-12)


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
) -> np.ndarray:
    """One cost from motion and appearance, with gates, ``(N, M)``.

    ``cost = (1 - w) * (1 - IoU) + w * cosine_distance``. A pair is gated out (``inf``) when its
    IoU is below ``min_iou`` or its appearance distance exceeds ``appearance_gate``. Without
    appearance, or where a row of ``appearance`` is NaN (a track with no embedding yet), it is
    plain ``1 - IoU``.
    """
    cost = 1.0 - iou
    if appearance is not None and appearance_weight > 0:
        known = ~np.isnan(appearance)
        fused = (1.0 - appearance_weight) * cost + appearance_weight * np.where(
            known, appearance, 0.0
        )
        cost = np.where(known, fused, cost)
        cost = np.where(known & (np.nan_to_num(appearance) > appearance_gate), np.inf, cost)
    return np.where(iou < min_iou, np.inf, cost)


def max_overlap(boxes: np.ndarray) -> np.ndarray:
    """``(N,)`` each box's largest IoU with another box of the same frame (0 for a lone box)."""
    if len(boxes) < 2:
        return np.zeros(len(boxes))
    iou = box_iou(boxes, boxes)
    np.fill_diagonal(iou, 0.0)
    return iou.max(axis=1)
