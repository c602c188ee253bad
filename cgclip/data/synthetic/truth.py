"""Ground truth without painting: boxes and visibility of many people from silhouette templates.

Painting every person into a label image (what :func:`.render.render_frames` does for dance and
sports) costs ~0.3 ms per person and frame; a street at 40 people and 30 fps would take minutes.
Here a person's silhouette depends only on gender, hair style, facing, a gait phase bin and a
swing level, so it is drawn once per combination at a reference height (:data:`REF_H` px) and
reused at any size:

- the box is the template's pixel box scaled to the person's height (clipped to the image);
- visibility is the share of :data:`N_POINTS` points spread over the silhouette that are inside
  the image and not covered by a nearer person's silhouette (nearer = larger depth ``z``; equal
  depths: the later index is nearer, the order in which :func:`paint_street_frame` paints).

Painting (when images are wanted) uses the same quantised poses, so truth and pixels agree.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from cgclip.data.synthetic.people import Identity, Pose, draw_primitives, figure_primitives

REF_H = 128  # template body height in px
PHASE_BINS = 16
SWINGS = (0.15, 0.45)  # standing, walking
N_POINTS = 48
_T_W, _T_H = REF_H, int(REF_H * 1.2)  # template canvas: x in [-0.5, 0.5) H, y in [-1.1, 0.1) H
_FEET = np.array([_T_W / 2, REF_H * 1.1])


def phase_of(bin_: np.ndarray | int) -> np.ndarray | float:
    return np.asarray(bin_) * (2 * np.pi / PHASE_BINS)


def pose_key(person: Identity, facing: int, walking: bool, phase_bin: int) -> tuple:
    return (person.gender, person.hair_style, int(facing), int(walking), int(phase_bin))


@lru_cache(maxsize=1024)
def template(key: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mask (_T_H, _T_W) bool, box (4,) x0 y0 x1 y1, points (N_POINTS, 2))``, units of H."""
    gender, hair_style, facing, walking, phase_bin = key
    dummy = Identity(0, "street", "", gender, "white", "black", None, hair_style, "black",
                     "light", "black", "black", 1.0)  # fmt: skip
    pose = Pose(
        x=float(_FEET[0]),
        y=float(_FEET[1]),
        h=float(REF_H),
        phase=float(phase_of(phase_bin)),
        swing=SWINGS[walking],
        facing=facing,
    )
    mask = np.zeros((_T_H, _T_W), dtype=np.uint8)
    draw_primitives(mask, figure_primitives(dummy, pose), color=1)
    ys, xs = np.nonzero(mask)
    box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float64)
    box = (box - np.r_[_FEET, _FEET]) / REF_H
    pick = np.linspace(0, len(xs) - 1, N_POINTS).astype(int)
    points = (np.stack([xs[pick], ys[pick]], axis=1) + 0.5 - _FEET) / REF_H
    return mask.astype(bool), box, points


def street_truth(
    people: list[Identity] | tuple[Identity, ...],
    feet: np.ndarray,
    body_h: np.ndarray,
    depth: np.ndarray,
    present: np.ndarray,
    keys: np.ndarray,
    width: int,
    height: int,
) -> np.ndarray:
    """Ground truth rows ``(R, 7)``: ``frame (1-based), person index, x, y, w, h, visibility``.

    ``feet`` ``(T, N, 2)`` image feet points, ``body_h`` ``(T, N)`` pixel height before the
    person's own height factor, ``depth`` ``(T, N)``, ``present`` ``(T, N)``, ``keys`` ``(T, N)``
    integer template ids into :func:`template_table` order (see :func:`pose_keys`).
    """
    scale = body_h * np.array([p.height for p in people])[None, :]  # (T, N) px per unit
    t_idx, i_idx = np.nonzero(present)
    used, k = np.unique(keys[t_idx, i_idx], return_inverse=True)  # only the templates needed
    k = k.reshape(-1)
    masks = np.stack([template(_TABLE[u])[0] for u in used]) if len(used) else np.zeros((0, 1, 1))
    boxes_rel = np.stack([template(_TABLE[u])[1] for u in used]) if len(used) else np.zeros((0, 4))
    points_rel = (
        np.stack([template(_TABLE[u])[2] for u in used])
        if len(used)
        else np.zeros((0, N_POINTS, 2))
    )
    s = scale[t_idx, i_idx]
    f = feet[t_idx, i_idx]
    box = np.round(np.concatenate([f, f], axis=1) + s[:, None] * boxes_rel[k])  # x0 y0 x1 y1
    cbox = np.stack(
        [
            np.clip(box[:, 0], 0, width),
            np.clip(box[:, 1], 0, height),
            np.clip(box[:, 2], 0, width),
            np.clip(box[:, 3], 0, height),
        ],
        axis=1,
    )
    ok = (cbox[:, 2] - cbox[:, 0] >= 2) & (cbox[:, 3] - cbox[:, 1] >= 2)
    t_idx, i_idx, k, s, f, box, cbox = (a[ok] for a in (t_idx, i_idx, k, s, f, box, cbox))
    # Silhouette points in the image, then which of them a nearer person covers.
    pts = f[:, None, :] + s[:, None, None] * points_rel[k]  # (R, P, 2)
    inside = (
        (pts[..., 0] >= 0) & (pts[..., 0] < width) & (pts[..., 1] >= 0) & (pts[..., 1] < height)
    )
    covered = np.zeros_like(inside)
    rows_i, rows_j = _occluding_pairs(t_idx, i_idx, box, depth[t_idx, i_idx])
    for a in range(0, len(rows_i), 8192):
        ri, rj = rows_i[a : a + 8192], rows_j[a : a + 8192]
        local = (pts[ri] - f[rj, None, :]) / s[rj, None, None] * REF_H + _FEET  # (P', P, 2)
        u, v = np.floor(local[..., 0]).astype(int), np.floor(local[..., 1]).astype(int)
        ok = (u >= 0) & (u < _T_W) & (v >= 0) & (v < _T_H)
        hit = np.zeros_like(ok)
        kk = np.broadcast_to(k[rj, None], u.shape)
        hit[ok] = masks[kk[ok], v[ok], u[ok]]
        np.logical_or.at(covered, ri, hit)
    vis = (inside & ~covered).mean(axis=1)
    keep = vis > 0
    out = np.column_stack(
        [
            t_idx + 1,
            i_idx,
            cbox[:, 0],
            cbox[:, 1],
            cbox[:, 2] - cbox[:, 0],
            cbox[:, 3] - cbox[:, 1],
            np.round(vis, 3),
        ]
    )
    return out[keep]


def _occluding_pairs(
    t_idx: np.ndarray, i_idx: np.ndarray, box: np.ndarray, depth: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs ``(occluded, occluder)`` of one frame whose boxes overlap, occluder nearer."""
    order = np.argsort(t_idx, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(t_idx[order]) != 0])
    ends = np.r_[starts[1:], len(order)]
    out_i, out_j = [], []
    for a, b in zip(starts, ends, strict=True):
        r = order[a:b]
        bx = box[r]
        overlap = (
            (bx[:, None, 0] < bx[None, :, 2])
            & (bx[None, :, 0] < bx[:, None, 2])
            & (bx[:, None, 1] < bx[None, :, 3])
            & (bx[None, :, 1] < bx[:, None, 3])
        )
        d, idx = depth[r], i_idx[r]
        nearer = (d[None, :] > d[:, None]) | (
            (d[None, :] == d[:, None]) & (idx[None, :] > idx[:, None])
        )
        ii, jj = np.nonzero(overlap & nearer)
        out_i.append(r[ii])
        out_j.append(r[jj])
    if not out_i:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return np.concatenate(out_i), np.concatenate(out_j)


def _all_keys() -> list[tuple]:
    from cgclip.data.synthetic.people import HAIR_STYLES

    return [
        (g, hs, fc, wk, pb)
        for g in ("woman", "man")
        for hs in HAIR_STYLES
        for fc in (-1, 1)
        for wk in (0, 1)
        for pb in range(PHASE_BINS)
    ]


_TABLE = _all_keys()
_INDEX = {key: i for i, key in enumerate(_TABLE)}


def pose_keys(
    people: list[Identity] | tuple[Identity, ...],
    facing: np.ndarray,
    walking: np.ndarray,
    phase: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Template ids ``(T, N)`` and phase bins ``(T, N)`` (standing people keep their last bin)."""
    bins = np.round(np.asarray(phase) / (2 * np.pi / PHASE_BINS)).astype(int) % PHASE_BINS
    keys = np.zeros(bins.shape, dtype=int)
    for i, p in enumerate(people):
        for fc in (-1, 1):
            for wk in (0, 1):
                sel = (facing[:, i] == fc) & (walking[:, i] == bool(wk))
                base = _INDEX[(p.gender, p.hair_style, fc, wk, 0)]
                keys[sel, i] = base + bins[sel, i]
    return keys, bins


def paint_street_frame(
    canvas: np.ndarray,
    people: list[Identity] | tuple[Identity, ...],
    feet: np.ndarray,
    body_h: np.ndarray,
    depth: np.ndarray,
    present: np.ndarray,
    walking: np.ndarray,
    facing: np.ndarray,
    bins: np.ndarray,
) -> None:
    """Paint one frame's people far to near (arguments are the ``(N, ...)`` rows of one frame)."""
    h, w = canvas.shape[:2]
    for i in np.argsort(depth, kind="stable"):
        if not present[i]:
            continue
        fx, fy = feet[i]
        size = body_h[i] * people[i].height
        if fx + size < 0 or fx - size > w or fy < 0 or fy - 1.2 * size > h:
            continue
        pose = Pose(
            x=float(fx),
            y=float(fy),
            h=float(body_h[i]),
            phase=float(phase_of(bins[i])),
            swing=SWINGS[int(walking[i])],
            facing=int(facing[i]),
        )
        draw_primitives(canvas, figure_primitives(people[i], pose))
