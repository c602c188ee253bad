"""Costs and gated assignment between tracks (rows) and detections (columns).

Costs are in "lower is better" form; a gate is expressed as ``np.inf`` and such pairs are never
matched. The tracker's stages work on *candidate pairs*: :func:`iou_pairs` gates on IoU first
(a sort-and-sweep along x in crowds, so the work grows with the pairs that overlap, not with
``N x M``), every other cost (appearance, direction) is computed for those pairs only, and
:func:`assign_pairs` solves the sparse problem. The dense ``(N, M)`` forms (:func:`box_iou`,
:func:`linear_assignment`, ...) remain for small problems and tests; both give the same numbers.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

# Stand-in for np.inf inside the solver: it rejects infinite entries when a row has no finite one.
_BIG = 1e6


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``(N, 4)`` and ``(M, 4)`` corner boxes -> ``(N, M)`` in [0, 1].

    Coordinates are broadcast as ``(N, 1)`` against ``(1, M)`` columns (no ``(N, M, 2)``
    intermediates). In crowds (``N * M`` above :data:`SWEEP_PAIRS`) only the pairs that overlap
    along x are computed (a sort-and-sweep), with the same formula: the result is identical.
    """
    a, b = _boxes(a), _boxes(b)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    if len(a) * len(b) > SWEEP_PAIRS:
        out = np.zeros((len(a), len(b)))
        rows, cols = _x_overlaps(a, b)
        out[rows, cols] = _iou(*a[rows].T, *b[cols].T)
        return out
    ax1, ay1, ax2, ay2 = a.T[:, :, None]
    bx1, by1, bx2, by2 = b.T[:, None, :]
    return _iou(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2)


def paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N,)`` IoU of ``a[i]`` with ``b[i]`` for ``(N, 4)`` corner boxes: the diagonal of
    :func:`box_iou` without the ``(N, N)`` matrix."""
    return _iou(*_boxes(a).T, *_boxes(b).T)


# Above this many pairs (N tracks x M detections) the candidate pairs come from a sweep along x
# instead of the dense IoU matrix, and the assignment first takes every lone pair. Measured on
# the 2-core machine under load ~7 (benchmarks.tracker_speed's crowd, default preset, rounds
# rotated, median CPU ms per frame, all dense / this threshold): 30 people 0.43 / 0.40,
# 60: 0.65 / 0.56, 100: 0.83 / 0.66, 300: 4.08 / 1.44. Both give the same pairs, costs and
# matches (tests/tracker/test_matching.py).
SWEEP_PAIRS = 1_000
# Above this many rows x columns left once the lone pairs are matched, the assignment is solved
# per connected group (one solver call each) rather than as one matrix.
GROUP_PAIRS = 90_000


def _boxes(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(-1, 4)


def _iou(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2) -> np.ndarray:
    iw = np.minimum(ax2, bx2) - np.maximum(ax1, bx1)
    ih = np.minimum(ay2, by2) - np.maximum(ay1, by1)
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    area_a = np.maximum(ax2 - ax1, 0.0) * np.maximum(ay2 - ay1, 0.0)
    area_b = np.maximum(bx2 - bx1, 0.0) * np.maximum(by2 - by1, 0.0)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _x_overlaps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of every pair whose x-intervals may overlap (a superset of the pairs
    with IoU > 0), by sorting ``b`` on x1 and searching each ``a``'s window."""
    order = np.argsort(b[:, 0], kind="stable")
    bx1 = b[order, 0]
    widest = float(np.max(b[:, 2] - b[:, 0], initial=0.0))
    # b overlaps a along x only if b.x1 < a.x2 and b.x2 > a.x1, so b.x1 > a.x1 - widest.
    lo = np.searchsorted(bx1, a[:, 0] - widest, side="right")
    hi = np.searchsorted(bx1, a[:, 2], side="left")
    count = np.maximum(hi - lo, 0)
    rows = np.repeat(np.arange(len(a)), count)
    starts = np.repeat(lo - np.cumsum(count) + count, count)
    return rows, order[starts + np.arange(len(rows))]


def iou_pairs(
    a: np.ndarray, b: np.ndarray, min_iou: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidate pairs of ``(N, 4)`` x ``(M, 4)`` boxes: ``(rows, cols, iou)`` for every pair
    with ``IoU >= min_iou`` (every pair when ``min_iou <= 0``), the IoU as :func:`box_iou` gives
    it. Small problems compute the dense matrix; crowds sweep along x (:data:`SWEEP_PAIRS`)."""
    a, b = _boxes(a), _boxes(b)
    empty = np.zeros(0, dtype=np.int64)
    if len(a) == 0 or len(b) == 0:
        return empty, empty, np.zeros(0)
    if min_iou <= 0 or len(a) * len(b) <= SWEEP_PAIRS:
        iou = box_iou(a, b)
        rows, cols = np.nonzero(iou >= min_iou)
        return rows, cols, iou[rows, cols]
    rows, cols = _x_overlaps(a, b)
    iou = _iou(*a[rows].T, *b[cols].T)
    keep = iou >= min_iou
    return rows[keep], cols[keep], iou[keep]


def near_pairs(
    centres: np.ndarray, radius: np.ndarray, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of every centre ``(N, 2)`` x point ``(M, 2)`` pair at most ``radius[row]``
    apart (Euclidean); rows in order, columns in no particular order. Crowds (``N * M`` above
    :data:`SWEEP_PAIRS`) sweep along x instead of forming the dense matrix; both test each pair
    with the same formula."""
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    radius = np.asarray(radius, dtype=np.float64).reshape(-1)
    if len(centres) * len(points) <= SWEEP_PAIRS:
        dx = points[None, :, 0] - centres[:, None, 0]
        dy = points[None, :, 1] - centres[:, None, 1]
        return np.nonzero(np.hypot(dx, dy) <= radius[:, None])
    # A window one pixel wider than the radius each side: the sweep's bounds are strict.
    reach = radius + 1.0
    windows = np.c_[centres[:, 0] - reach, centres[:, 1], centres[:, 0] + reach, centres[:, 1]]
    rows, cols = _x_overlaps(windows, np.c_[points, points])
    dx = points[cols, 0] - centres[rows, 0]
    dy = points[cols, 1] - centres[rows, 1]
    keep = np.hypot(dx, dy) <= radius[rows]
    return rows[keep], cols[keep]


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, E)`` and ``(M, E)`` L2-normalised embeddings -> ``(N, M)`` distance ``1 - cos`` in [0, 2]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return np.clip(1.0 - np.asarray(a) @ np.asarray(b).T, 0.0, 2.0).astype(np.float64)


def cosine_pairs(a: np.ndarray, b: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """:func:`cosine_distance` of the pairs ``(rows[k], cols[k])`` only, ``(K,)``: from the dense
    matrix when it is small (the same numbers), else one dot product per pair (equal up to
    float rounding)."""
    a, b = np.asarray(a), np.asarray(b)
    if len(a) * len(b) <= SWEEP_PAIRS:
        return cosine_distance(a, b)[rows, cols]
    dots = np.einsum("ke,ke->k", a[rows], b[cols])
    return np.clip(1.0 - dots, 0.0, 2.0).astype(np.float64)


def direction_cost(
    track_dirs: np.ndarray, track_centers: np.ndarray, det_centers: np.ndarray
) -> np.ndarray:
    """OC-SORT's observation-centric momentum term, ``(N, M)`` in [-0.5, 0.5].

    ``track_dirs`` ``(N, 2)`` are unit motion directions from each track's past observations
    (all-zero rows mean "unknown" and give 0). The cost is ``angle / pi - 0.5`` between that
    direction and the direction from the track's last observed centre ``(N, 2)`` to each
    detection centre ``(M, 2)``: negative (a bonus) when the detection continues the motion.
    """
    n, m = len(track_dirs), len(det_centers)
    rows, cols = np.divmod(np.arange(n * m), m)
    return direction_pairs(track_dirs[rows], track_centers[rows], det_centers[cols]).reshape(n, m)


def direction_pairs(
    track_dirs: np.ndarray, track_centers: np.ndarray, det_centers: np.ndarray
) -> np.ndarray:
    """:func:`direction_cost` of ``K`` (track, detection) pairs, all three arrays ``(K, 2)``."""
    delta = np.asarray(det_centers, dtype=np.float64) - track_centers  # (K, 2)
    norm = np.sqrt(delta[:, 0] ** 2 + delta[:, 1] ** 2)
    cos = (delta[:, 0] * track_dirs[:, 0] + delta[:, 1] * track_dirs[:, 1]) / np.maximum(norm, 1e-6)
    angle = np.arccos(np.clip(cos, -1.0, 1.0))
    known = (np.abs(track_dirs).sum(axis=1) > 0) & (norm > 1e-6)
    return np.where(known, angle / np.pi - 0.5, 0.0)


def linear_assignment(
    cost: np.ndarray, max_cost: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one matching keeping only pairs with ``cost <= max_cost``.

    Returns ``matches (K, 2)`` of (row, col), then the unmatched rows and unmatched columns.
    The solver first maximises the number of kept pairs, then minimises their cost; both
    decompose over the connected groups of allowed pairs, so large problems (crowds) are solved
    group by group, which gives the same matching up to exact ties (:func:`assign_pairs`).
    """
    cost = np.asarray(cost, dtype=np.float64)
    rows, cols = np.nonzero(np.isfinite(cost) & (cost <= max_cost))
    return assign_pairs(cost.shape, rows, cols, cost[rows, cols], max_cost)


def assign_pairs(
    shape: tuple[int, int],
    rows: np.ndarray,
    cols: np.ndarray,
    cost: np.ndarray,
    max_cost: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`linear_assignment` of an ``(N, M)`` problem given as candidate pairs: ``cost[k]``
    is the cost of ``(rows[k], cols[k])`` (unique pairs); every pair not listed is gated out.

    Small problems are solved as one dense matrix. Above :data:`SWEEP_PAIRS`, a pair that is
    its row's and its column's only allowed pair is a match (most of a crowd), and the rest is
    solved as one matrix of the remaining rows and columns, or, above :data:`GROUP_PAIRS`, per
    connected group of allowed pairs.
    """
    n, m = shape
    ok = np.isfinite(cost) & (cost <= max_cost)
    r, c, v = rows[ok], cols[ok], cost[ok]
    if not len(r):
        matches = np.zeros((0, 2), dtype=np.int64)
    elif n * m <= SWEEP_PAIRS:
        matches = _solve(np.arange(n), np.arange(m), r, c, v)
    else:
        single = (np.bincount(r, minlength=n)[r] == 1) & (np.bincount(c, minlength=m)[c] == 1)
        rest_rows, rest_cols = np.unique(r[~single]), np.unique(c[~single])
        rest = (r[~single], c[~single], v[~single])
        if len(rest_rows) * len(rest_cols) <= GROUP_PAIRS:
            solved = _solve(rest_rows, rest_cols, *rest)
        else:
            solved = _assign_by_groups(n, m, *rest)
        matches = np.concatenate([np.stack([r[single], c[single]], axis=1), solved])
        matches = matches[np.argsort(matches[:, 0], kind="stable")]
    row_free = np.ones(n, dtype=bool)
    row_free[matches[:, 0]] = False
    col_free = np.ones(m, dtype=bool)
    col_free[matches[:, 1]] = False
    return matches, np.flatnonzero(row_free), np.flatnonzero(col_free)


def _solve(
    sub_rows: np.ndarray, sub_cols: np.ndarray, r: np.ndarray, c: np.ndarray, v: np.ndarray
) -> np.ndarray:
    """Matches ``(K, 2)`` of the pairs ``(r, c)`` with costs ``v``, all among the sorted
    ``sub_rows`` x ``sub_cols``, solved as one dense matrix (gated pairs cost :data:`_BIG`)."""
    gated = np.full((len(sub_rows), len(sub_cols)), _BIG)
    gated[np.searchsorted(sub_rows, r), np.searchsorted(sub_cols, c)] = v
    i, j = linear_sum_assignment(gated)
    keep = gated[i, j] < _BIG
    return np.stack([sub_rows[i[keep]], sub_cols[j[keep]]], axis=1).astype(np.int64)


def _assign_by_groups(n: int, m: int, r: np.ndarray, c: np.ndarray, v: np.ndarray) -> np.ndarray:
    """:func:`_solve` on each connected group of the pairs ``(r, c)``: the optimum of the whole
    is every group's own optimum."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(r)), (r, n + c)), shape=(n + m, n + m))
    _, label = connected_components(graph, directed=False)
    g = label[r]
    order = np.argsort(g, kind="stable")
    bounds = np.flatnonzero(np.diff(g[order])) + 1
    parts = [np.zeros((0, 2), dtype=np.int64)]
    for k in np.split(order, bounds):
        parts.append(_solve(np.unique(r[k]), np.unique(c[k]), r[k], c[k], v[k]))
    return np.concatenate(parts)


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
