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
    In crowds (``N * M`` above :data:`SWEEP_PAIRS`) only the pairs that overlap along x are
    computed (a sort-and-sweep), with the same formula: the result is identical.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    if len(a) * len(b) > SWEEP_PAIRS:
        return _box_iou_sweep(a, b)
    ax1, ay1, ax2, ay2 = a.T[:, :, None]
    bx1, by1, bx2, by2 = b.T[:, None, :]
    return _iou(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2)


# Above this many pairs, box_iou and linear_assignment exploit that people far apart never match.
# Measured in one rotated run on the 2-core machine (median ms per frame, dense / sweep): 30
# people 0.43 / 0.46, 100: 0.96 / 1.38, 300: 3.54 / 3.48, 1000: 34.2 / 24.4. So only crowds.
SWEEP_PAIRS = 250_000


def _iou(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2) -> np.ndarray:
    iw = np.minimum(ax2, bx2) - np.maximum(ax1, bx1)
    ih = np.minimum(ay2, by2) - np.maximum(ay1, by1)
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    area_a = np.maximum(ax2 - ax1, 0.0) * np.maximum(ay2 - ay1, 0.0)
    area_b = np.maximum(bx2 - bx1, 0.0) * np.maximum(by2 - by1, 0.0)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _box_iou_sweep(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`box_iou` over the pairs whose x-intervals overlap; every other pair is 0."""
    out = np.zeros((len(a), len(b)))
    order = np.argsort(b[:, 0], kind="stable")
    bx1 = b[order, 0]
    widest = float(np.max(b[:, 2] - b[:, 0], initial=0.0))
    # b overlaps a along x only if b.x1 < a.x2 and b.x2 > a.x1, so b.x1 > a.x1 - widest.
    lo = np.searchsorted(bx1, a[:, 0] - widest, side="right")
    hi = np.searchsorted(bx1, a[:, 2], side="left")
    count = np.maximum(hi - lo, 0)
    if not count.sum():
        return out
    rows = np.repeat(np.arange(len(a)), count)
    starts = np.repeat(lo - np.cumsum(count) + count, count)
    cols = order[starts + np.arange(len(rows))]
    ra, cb = a[rows], b[cols]
    out[rows, cols] = _iou(*ra.T, *cb.T)
    return out


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
    The solver first maximises the number of kept pairs, then minimises their cost; both
    decompose over the connected groups of allowed pairs, so large problems (crowds) are solved
    group by group, which gives the same matching up to exact ties.
    """
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros((0, 2), dtype=np.int64), np.arange(n), np.arange(m)
    allowed = np.isfinite(cost) & (cost <= max_cost)
    gated = np.where(allowed, cost, _BIG)
    if n * m > SWEEP_PAIRS:
        matches = _assign_by_groups(gated, allowed)
    else:
        rows, cols = linear_sum_assignment(gated)
        ok = gated[rows, cols] < _BIG
        matches = np.stack([rows[ok], cols[ok]], axis=1).astype(np.int64)
    row_free = np.ones(n, dtype=bool)
    row_free[matches[:, 0]] = False
    col_free = np.ones(m, dtype=bool)
    col_free[matches[:, 1]] = False
    return matches, np.flatnonzero(row_free), np.flatnonzero(col_free)


def _assign_by_groups(gated: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """:func:`linear_assignment` on each connected group of allowed (row, col) pairs."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, m = gated.shape
    r, c = np.nonzero(allowed)
    if not len(r):
        return np.zeros((0, 2), dtype=np.int64)
    graph = coo_matrix((np.ones(len(r)), (r, n + c)), shape=(n + m, n + m))
    _, label = connected_components(graph, directed=False)
    rows_in = np.bincount(label[:n], minlength=n + m)
    cols_in = np.bincount(label[n:], minlength=n + m)
    # Most groups in a crowd are one track and one detection: their pair is the match.
    single = (rows_in[label[r]] == 1) & (cols_in[label[r]] == 1)
    parts = [np.stack([r[single], c[single]], axis=1)]
    multi = np.unique(label[r[~single]])
    row_order, col_order = (
        np.argsort(label[:n], kind="stable"),
        np.argsort(label[n:], kind="stable"),
    )
    row_start = np.searchsorted(label[:n][row_order], multi)
    col_start = np.searchsorted(label[n:][col_order], multi)
    for g, r0, c0 in zip(multi.tolist(), row_start.tolist(), col_start.tolist(), strict=True):
        rows = row_order[r0 : r0 + rows_in[g]]
        cols = col_order[c0 : c0 + cols_in[g]]
        sub = gated[np.ix_(rows, cols)]
        i, j = linear_sum_assignment(sub)
        ok = sub[i, j] < _BIG
        parts.append(np.stack([rows[i[ok]], cols[j[ok]]], axis=1))
    matches = np.concatenate(parts).astype(np.int64)
    return matches[np.argsort(matches[:, 0], kind="stable")]


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
