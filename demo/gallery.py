"""Identity gallery: one tile per track (best crop over a presence timeline), its frame runs and
timeline, and the TFE attention strip.

Everything here is drawn from what the tracking pass collected (``demo.collect.TrackCollector``,
a sink of the one tracking loop; nothing is decoded twice): per id the best crop, the frame runs
and the strip's ``(frame, crop)`` pairs (the fields of :class:`Identity`). Tiles use the same
palette as the annotated video (``sv.ColorPalette.DEFAULT`` by track id), so a tile's frame
colour is the colour of that player's box.

:func:`segments` turns frame numbers into runs (listed when an identity is clicked, whose first
run the video seeks to), :func:`render_timeline` draws every id's runs as one Gantt-like chart
readable at page size (:func:`timeline_hit` maps a click on it back to an id and a frame), and
:class:`StripSampler` / :func:`render_strip` make the attention strip: a few crops spread evenly
over each track (kept while the track streams by, in bounded memory), shown with the opacity and
bar of the TFE attention mass each frame got.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

TILE_W, CROP_H, TIMELINE_H, BORDER = 112, 224, 24, 3
STRIP_FRAMES = 8  # crops per attention strip (CG-CLIP trains on 8-frame tracklets)


@dataclass
class Identity:
    """One gallery entry. ``tile``: ``(CROP_H + TIMELINE_H, TILE_W, 3)`` uint8 RGB."""

    track_id: int
    first_frame: int
    last_frame: int
    frames: int
    tile: np.ndarray
    caption: str
    segments: list[tuple[int, int]] = field(default_factory=list)  # inclusive frame runs
    strip: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (frame, RGB crop)


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
    """Short enough for a thumbnail: ``#3 · 12–240`` (the frame span)."""
    return f"#{track_id} · {first}–{last}"


class StripSampler:
    """Keeps about ``n`` crops spread evenly over a track seen one frame at a time, for a pass
    that cannot know how long the track will be (a sink of the tracking loop).

    Every ``stride``-th offer is kept; when ``2 n`` are held, every other one is dropped and the
    stride doubles, so memory stays bounded and the kept frames stay evenly spaced. The latest
    offer is remembered too (uncut: :meth:`seal` cuts it, e.g. once the track has left the
    frame, so no frame is held longer than that), so the strip reaches the track's last frame.
    :meth:`picks` returns ``n`` of them: for each of ``n`` evenly spaced positions among the
    offers, from the first to the latest, the nearest one held (within ``stride / 2`` offers)."""

    def __init__(self, n: int = STRIP_FRAMES) -> None:
        self.n = n
        self.stride = 1
        self.seen = 0
        self.kept: list[tuple[int, int, np.ndarray]] = []  # (offer index, frame, crop)
        self._pending: tuple[int, int, Callable[[], np.ndarray]] | None = None
        self._tail: tuple[int, int, np.ndarray] | None = None  # the sealed latest offer

    def offer(self, frame: int, crop: Callable[[], np.ndarray]) -> None:
        """Frame ``frame`` has the track; ``crop()`` cuts it (called only for frames kept)."""
        index, self._tail, self._pending = self.seen, None, None
        if index % self.stride == 0:
            self.kept.append((index, int(frame), crop()))
            if len(self.kept) >= 2 * self.n:
                self.kept = self.kept[::2]
                self.stride *= 2
        if not self.kept or self.kept[-1][0] != index:  # not kept: may still be the last one
            self._pending = (index, int(frame), crop)
        self.seen += 1

    def seal(self) -> None:
        """Cut the latest offer if it was not kept (and drop its reference to the frame)."""
        if self._pending is not None:
            index, frame, crop = self._pending
            self._tail, self._pending = (index, frame, crop()), None

    def picks(self) -> list[tuple[int, np.ndarray]]:
        """Up to ``n`` ``(frame, crop)`` in frame order, the first and the latest offer included."""
        self.seal()
        held = self.kept + ([self._tail] if self._tail is not None else [])
        if len(held) > self.n:
            where = np.array([i for i, _, _ in held], np.float64)
            targets = np.linspace(0, self.seen - 1, self.n)
            idx = np.unique(np.abs(where[None, :] - targets[:, None]).argmin(axis=1))
            if len(idx) < self.n:  # a tie at a cell boundary: spread by position instead
                idx = np.unique(np.linspace(0, len(held) - 1, self.n).round().astype(int))
            held = [held[i] for i in idx]
        return [(frame, crop) for _, frame, crop in held]


def segments(frames: Sequence[int] | np.ndarray, max_gap: int = 0) -> list[tuple[int, int]]:
    """Sorted frame numbers -> inclusive runs ``[(first, last), ...]``; runs separated by at most
    ``max_gap`` missing frames are merged."""
    f = np.unique(np.asarray(frames, np.int64))
    if len(f) == 0:
        return []
    breaks = np.flatnonzero(np.diff(f) > max_gap + 1)
    starts = np.r_[f[0], f[breaks + 1]]
    ends = np.r_[f[breaks], f[-1]]
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def frame_time(frame: int, fps: float) -> float:
    """Seconds at which 1-based ``frame`` starts (where the video element should seek)."""
    return max(0, int(frame) - 1) / fps if fps > 0 else 0.0


def describe_segments(
    track_id: int, runs: Sequence[tuple[int, int]], fps: float, at: int | None = None
) -> str:
    """Markdown listing an id's runs with their times: what a click on the identity shows.
    ``at``: the frame the video was sent to, when not the first appearance."""
    if not runs:
        return f"**#{track_id}** is not in any frame."
    total = sum(b - a + 1 for a, b in runs)
    items = [
        f"frames {a}–{b} ({frame_time(a, fps):.1f}–{frame_time(b + 1, fps):.1f} s)" for a, b in runs
    ]
    noun = "segment" if len(runs) == 1 else "segments"
    where = (
        f"the video is at its first appearance (frame {runs[0][0]})"
        if at is None
        else f"the video is at frame {at} ({frame_time(at, fps):.1f} s)"
    )
    return f"**#{track_id}**: {total} frames in {len(runs)} {noun}; {where}.\n\n" + "\n".join(
        f"- {item}" for item in items
    )


@dataclass(frozen=True)
class TimelineLayout:
    """Geometry of :func:`render_timeline` (shared with :func:`timeline_hit`)."""

    width: int = 800
    label_w: int = 52
    row_h: int = 18
    top: int = 30  # room for the image component's label
    axis_h: int = 22

    def height(self, rows: int) -> int:
        return self.top + rows * self.row_h + self.axis_h

    def x_of(self, frame: float, num_frames: int) -> int:
        """Left edge of 1-based ``frame``'s column."""
        span = self.width - self.label_w - 8
        return self.label_w + round((frame - 1) / max(num_frames, 1) * span)


def render_timeline(
    runs: Mapping[int, Sequence[tuple[int, int]]],
    num_frames: int,
    fps: float,
    layout: TimelineLayout = TimelineLayout(),
) -> np.ndarray:
    """One row per id (in ``runs``' order): ``#id`` then a bar in the id's box colour over each
    run, with a seconds axis below. RGB ``(layout.height(len(runs)), layout.width, 3)`` uint8."""
    ids = list(runs)
    img = np.full((layout.height(len(ids)), layout.width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    x0, x1 = layout.x_of(1, num_frames), layout.x_of(num_frames + 1, num_frames)
    for row, tid in enumerate(ids):
        y = layout.top + row * layout.row_h
        if row % 2:
            img[y : y + layout.row_h, x0:x1] = 244
        cv2.putText(
            img, f"#{tid}", (4, y + layout.row_h - 5), font, 0.45, (30, 30, 30), 1, cv2.LINE_AA
        )
        color = track_color(tid)
        for a, b in runs[tid]:
            xa = layout.x_of(a, num_frames)
            xb = max(layout.x_of(b + 1, num_frames), xa + 1)  # a one-frame run stays visible
            img[y + 3 : y + layout.row_h - 3, xa:xb] = color
    axis_y = layout.top + len(ids) * layout.row_h
    img[axis_y, x0:x1] = 120
    seconds = num_frames / fps if fps > 0 else 0.0
    step = _tick_step(seconds)
    t = 0.0
    while step and t <= seconds + 1e-9:
        x = layout.x_of(t * fps + 1, num_frames)
        img[axis_y : axis_y + 4, x] = 120
        label = f"{t:g} s"
        (tw, _), _ = cv2.getTextSize(label, font, 0.4, 1)
        tx = int(np.clip(x - tw // 2, 0, layout.width - tw))
        cv2.putText(img, label, (tx, axis_y + 17), font, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
        t += step
    return img


def _tick_step(seconds: float) -> float:
    """A round tick interval giving 4 to 10 ticks over ``seconds``."""
    if seconds <= 0:
        return 0.0
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300):
        if seconds / step <= 10:
            return float(step)
    return 600.0


def timeline_hit(
    x: float,
    y: float,
    ids: Sequence[int],
    num_frames: int,
    layout: TimelineLayout = TimelineLayout(),
) -> tuple[int, int] | None:
    """Pixel ``(x, y)`` on :func:`render_timeline`'s image -> ``(track_id, frame)``, or None off
    the rows."""
    row = int((y - layout.top) // layout.row_h)
    if not 0 <= row < len(ids) or y < layout.top:
        return None
    span = layout.width - layout.label_w - 8
    frame = int(np.clip((x - layout.label_w) / span * num_frames + 1, 1, max(num_frames, 1)))
    return int(ids[row]), frame


def strip_alpha(weights: Sequence[float] | np.ndarray, floor: float = 0.12) -> np.ndarray:
    """Per-frame opacity for the strip: the frame with the most attention is opaque, the others
    in proportion to their mass, never below ``floor`` (a crop must stay recognisable)."""
    w = np.clip(np.asarray(weights, np.float64), 0, None)
    if len(w) == 0 or w.max() <= 0:
        return np.ones(len(w))
    return floor + (1 - floor) * w / w.max()


STRIP_CELL_W, STRIP_CROP_H, STRIP_BAR_H, STRIP_TEXT_H = 72, 144, 30, 30


def render_strip(
    crops: Sequence[np.ndarray],
    frames: Sequence[int],
    weights: Sequence[float] | np.ndarray,
    color: tuple[int, int, int],
) -> np.ndarray:
    """The attention strip: each crop letterboxed in a cell, blended into the background by
    :func:`strip_alpha`, over a bar whose height is the frame's share of the attention and a
    label (frame number and percent). RGB uint8, ``len(crops)`` cells wide."""
    w = np.asarray(weights, np.float64)
    alpha = strip_alpha(w)
    cell_h = STRIP_CROP_H + STRIP_BAR_H + STRIP_TEXT_H
    img = np.full((cell_h, STRIP_CELL_W * max(len(crops), 1), 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    top = w.max() if len(w) and w.max() > 0 else 1.0
    for i, (crop, frame) in enumerate(zip(crops, frames, strict=True)):
        x = i * STRIP_CELL_W
        cell = np.full((STRIP_CROP_H, STRIP_CELL_W - 4, 3), 255, np.uint8)
        ch, cw = crop.shape[:2]
        scale = min((STRIP_CELL_W - 4) / cw, STRIP_CROP_H / ch)
        nw, nh = max(1, round(cw * scale)), max(1, round(ch * scale))
        y0, x0 = (STRIP_CROP_H - nh) // 2, (STRIP_CELL_W - 4 - nw) // 2
        cell[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
        img[:STRIP_CROP_H, x + 2 : x + STRIP_CELL_W - 2] = (
            alpha[i] * cell + (1 - alpha[i]) * 255
        ).astype(np.uint8)
        bar = round(w[i] / top * (STRIP_BAR_H - 6))
        y_base = STRIP_CROP_H + STRIP_BAR_H - 2
        img[y_base - STRIP_BAR_H + 6 : y_base, x + 8 : x + STRIP_CELL_W - 8] = 232
        if bar > 0:
            img[y_base - bar : y_base, x + 8 : x + STRIP_CELL_W - 8] = color
        for line, text in enumerate((f"f{frame}", f"{100 * w[i]:.0f}%")):
            (tw, _), _ = cv2.getTextSize(text, font, 0.4, 1)
            org = (x + (STRIP_CELL_W - tw) // 2, STRIP_CROP_H + STRIP_BAR_H + 12 + 14 * line)
            cv2.putText(img, text, org, font, 0.4, (40, 40, 40), 1, cv2.LINE_AA)
    return img
