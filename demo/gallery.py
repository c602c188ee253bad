"""Identity gallery: one tile per track (best crop over a presence timeline), built from the JSON.

The tracker's JSON names each id's best crop (frame + box, ``tracker.outputs.crop_quality``) and
lists every frame's boxes. :func:`plan_crops` picks which boxes to cut: the best crop for the
tile and the ``per_track`` best-quality boxes for the search embedding. One decoding pass over the
input video then cuts only those (see ``demo.pipeline``). Tiles use the same palette as the
annotated video (``sv.ColorPalette.DEFAULT`` by track id), so a tile's frame colour is the colour
of that player's box.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from tracker.outputs import crop_quality

TILE_W, CROP_H, TIMELINE_H, BORDER = 112, 224, 24, 3


@dataclass
class Identity:
    """One gallery entry. ``tile``: ``(CROP_H + TIMELINE_H, TILE_W, 3)`` uint8 RGB."""

    track_id: int
    first_frame: int
    last_frame: int
    frames: int
    tile: np.ndarray
    caption: str


@dataclass(frozen=True)
class CropPlan:
    """What to cut from each frame: ``by_frame[frame] = [(track_id, box_xyxy, is_best), ...]``."""

    by_frame: dict[int, list[tuple[int, np.ndarray, bool]]]
    last_frame: int


def plan_crops(result: Mapping[str, Any], per_track: int = 0) -> CropPlan:
    """Best crop of every track, plus its ``per_track`` highest-quality boxes (for embeddings).

    result: the tracker's JSON (``frames`` with per-frame objects, ``tracks`` with ``best_crop``).
    """
    by_frame: dict[int, list[tuple[int, np.ndarray, bool]]] = {}
    for tid, track in result.get("tracks", {}).items():
        best = track["best_crop"]
        by_frame.setdefault(int(best["frame"]), []).append(
            (int(tid), np.asarray(best["box"], np.float64), True)
        )
    if per_track > 0:
        size = (int(result["width"]), int(result["height"]))
        heaps: dict[int, list[tuple[float, int, int, list[float]]]] = {}
        for entry in result.get("frames", []):
            objects = entry["objects"]
            if not objects:
                continue
            xyxy = np.array([o["box"] for o in objects], np.float64)
            conf = np.array([o["confidence"] for o in objects], np.float64)
            for obj, q in zip(objects, crop_quality(xyxy, conf, size), strict=True):
                # min-heap of the best ``per_track``; earlier frames win ties
                item = (float(q), -int(entry["frame"]), int(obj["id"]), obj["box"])
                heap = heaps.setdefault(int(obj["id"]), [])
                if len(heap) < per_track:
                    heapq.heappush(heap, item)
                elif item > heap[0]:
                    heapq.heapreplace(heap, item)
        for tid, heap in heaps.items():
            for _, neg_frame, _, box in heap:
                by_frame.setdefault(-neg_frame, []).append(
                    (tid, np.asarray(box, np.float64), False)
                )
    return CropPlan(by_frame=by_frame, last_frame=max(by_frame, default=0))


def presence(result: Mapping[str, Any], num_frames: int) -> dict[int, np.ndarray]:
    """``{track_id: (num_frames,) bool}``: in which frames each id was reported."""
    out: dict[int, np.ndarray] = {}
    for entry in result.get("frames", []):
        f = int(entry["frame"]) - 1
        if not 0 <= f < num_frames:
            continue
        for obj in entry["objects"]:
            out.setdefault(int(obj["id"]), np.zeros(num_frames, bool))[f] = True
    return out


def cut(frame_bgr: np.ndarray, box_xyxy: Sequence[float], pad: float = 0.06) -> np.ndarray:
    """The box (grown by ``pad`` of its size, clipped to the frame) as an RGB image."""
    h, w = frame_bgr.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    dx, dy = pad * (x2 - x1), pad * (y2 - y1)
    a, b = int(np.clip(np.floor(x1 - dx), 0, w - 1)), int(np.clip(np.floor(y1 - dy), 0, h - 1))
    c, d = int(np.clip(np.ceil(x2 + dx), a + 1, w)), int(np.clip(np.ceil(y2 + dy), b + 1, h))
    return np.ascontiguousarray(frame_bgr[b:d, a:c, ::-1])


def track_color(track_id: int) -> tuple[int, int, int]:
    """The RGB colour the annotated video uses for this id."""
    import supervision as sv

    return sv.ColorPalette.DEFAULT.by_idx(int(track_id)).as_rgb()


def render_tile(
    crop_rgb: np.ndarray, present: np.ndarray, color: tuple[int, int, int]
) -> np.ndarray:
    """Crop letterboxed into ``TILE_W x CROP_H`` inside an id-coloured border, over a timeline
    strip whose columns are filled in proportion to the share of their frames with the id."""
    tile = np.full((CROP_H + TIMELINE_H, TILE_W, 3), 40, np.uint8)
    tile[:CROP_H] = color
    inner_w, inner_h = TILE_W - 2 * BORDER, CROP_H - 2 * BORDER
    tile[BORDER : CROP_H - BORDER, BORDER : TILE_W - BORDER] = 24
    ch, cw = crop_rgb.shape[:2]
    scale = min(inner_w / cw, inner_h / ch)
    nw, nh = max(1, round(cw * scale)), max(1, round(ch * scale))
    resized = cv2.resize(crop_rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    y0, x0 = BORDER + (inner_h - nh) // 2, BORDER + (inner_w - nw) // 2
    tile[y0 : y0 + nh, x0 : x0 + nw] = resized
    strip = tile[CROP_H + 4 : CROP_H + TIMELINE_H - 2]  # a gap under the crop
    strip[:] = 70
    if len(present):
        edges = np.linspace(0, len(present), TILE_W + 1).round().astype(int)
        for x in range(TILE_W):
            seg = present[edges[x] : max(edges[x + 1], edges[x] + 1)]
            share = float(seg.mean()) if len(seg) else 0.0
            if share > 0:
                strip[:, x] = (70 + share * (np.asarray(color) - 70)).astype(np.uint8)
    return tile


def caption(track_id: int, first: int, last: int) -> str:
    return f"#{track_id} · frames {first}–{last}"
