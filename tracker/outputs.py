"""The tracker's outputs, as sinks of :func:`tracker.pipeline.iter_tracked`.

- :class:`MotWriter`: MOTChallenge results txt (``frame, id, x, y, w, h, conf, -1, -1, -1``).
- :class:`JsonWriter`: per frame ``{frame, objects: [{id, box, confidence}]}``, then per id
  ``{first_frame, last_frame, frames, best_crop: {frame, box, confidence, quality}}``.
- :class:`MotRows`: the MOT rows in memory (what the benchmarks score).
- :class:`VideoAnnotator`: an MP4 with boxes, id labels and short traces. Boxes are drawn
  exactly on the tracked box (the lines lie inside it, no padding); labels are placed by
  :func:`place_labels` so that no label covers another, even in a crowd.

The row outputs (MOT txt, JSON, :class:`MotRows`) include the boxes a track had while tentative:
they hold the last ``backfill_horizon`` frames (:class:`BackfillBuffer`) and put each
``TrackedFrame.backfill`` box in its frame, so rows stay in frame order and memory stays flat.
The annotated video is live, as the yielded stream is, and shows a track from its confirmation.

Files go to a temporary file as they come; the file replaces its destination only when the sink
closes without an error.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import cv2
import numpy as np
import supervision as sv

from cgclip.io.atomic import atomic_path
from cgclip.io.mot import MOT_COLUMNS, format_mot_rows, rows_to_xyxy, xyxy_to_rows
from cgclip.io.video import VideoWriter
from tracker.matching import box_iou

if TYPE_CHECKING:
    from tracker.pipeline import StageTimer, TrackedFrame


def detection_rows(frame_id: int, tracked: sv.Detections) -> np.ndarray:
    """Tracked detections of one frame -> ``(N, 10)`` MOT result rows."""
    return xyxy_to_rows(frame_id, tracked.tracker_id, tracked.xyxy, tracked.confidence)


class BackfillBuffer:
    """Holds each frame's rows until no backfill can reach it any more.

    :meth:`push` takes a frame's result and returns the frames that are now final (older than
    ``frame_id - backfill_horizon``) as ``(frame_id, rows sorted by id)``; :meth:`flush` returns
    the rest at the end. At most ``backfill_horizon`` frames are held.
    """

    def __init__(self) -> None:
        self._held: dict[int, list[np.ndarray]] = {}  # frame -> row blocks, frames in order

    def push(self, result: TrackedFrame) -> list[tuple[int, np.ndarray]]:
        for fid, det in result.backfill:
            if fid not in self._held:
                raise ValueError(
                    f"backfill for frame {fid} arrived at frame {result.frame_id}, after frame "
                    f"{fid} was written (backfill_horizon {result.backfill_horizon} too short?)"
                )
            self._held[fid].append(detection_rows(fid, det))
        self._held[result.frame_id] = [detection_rows(result.frame_id, result.tracked)]
        final = [f for f in self._held if f <= result.frame_id - result.backfill_horizon]
        return [(f, self._rows(f)) for f in final]

    def flush(self) -> list[tuple[int, np.ndarray]]:
        return [(f, self._rows(f)) for f in list(self._held)]

    def _rows(self, frame_id: int) -> np.ndarray:
        rows = np.concatenate(self._held.pop(frame_id)).reshape(-1, MOT_COLUMNS)
        return rows[np.argsort(rows[:, 1], kind="stable")]


class _RowSink:
    """A sink that receives final frames of rows, in frame order, from a :class:`BackfillBuffer`."""

    def __init__(self) -> None:
        self._buffer = BackfillBuffer()

    def write(self, result: TrackedFrame) -> None:
        for fid, rows in self._buffer.push(result):
            self._write_frame(fid, rows)

    def _flush(self) -> None:
        for fid, rows in self._buffer.flush():
            self._write_frame(fid, rows)

    def _write_frame(self, frame_id: int, rows: np.ndarray) -> None:
        raise NotImplementedError


class MotRows(_RowSink):
    """MOT result rows ``(N, 10)`` kept in memory, in frame then id order (:attr:`rows`)."""

    def __init__(self) -> None:
        super().__init__()
        self._blocks: list[np.ndarray] = []

    def __enter__(self) -> MotRows:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self._flush()

    def _write_frame(self, frame_id: int, rows: np.ndarray) -> None:
        self._blocks.append(rows)

    @property
    def rows(self) -> np.ndarray:
        if not self._blocks:
            return np.zeros((0, MOT_COLUMNS))
        return np.concatenate(self._blocks)


class _StreamingFile(_RowSink):
    """A text file written through :func:`atomic_path`; use as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self._stack = contextlib.ExitStack()
        self._fh: TextIO | None = None

    def __enter__(self):
        try:
            tmp = self._stack.enter_context(atomic_path(self.path))
            self._fh = self._stack.enter_context(open(tmp, "w", encoding="utf-8"))
            self._begin()
        except BaseException:  # e.g. SIGTERM while opening: no half-made temp file stays
            self._stack.close()
            raise
        return self

    def _begin(self) -> None:
        pass

    def _end(self) -> None:
        pass

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self._flush()
            self._end()
        return self._stack.__exit__(exc_type, exc, tb)


class MotWriter(_StreamingFile):
    """MOTChallenge results, frame by frame (ids in increasing order within a frame)."""

    def _write_frame(self, frame_id: int, rows: np.ndarray) -> None:
        self._fh.write(format_mot_rows(rows))


class JsonWriter(_StreamingFile):
    """Per-frame objects streamed into a JSON document; per-id summaries written at the end.

    ``image_size`` ``(width, height)`` lets the best-crop rule prefer boxes not cut by the border.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        meta: dict[str, Any] | None = None,
        image_size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(path)
        self.meta = meta or {}
        self._first = True
        self.frames_written = 0
        self.tracks: dict[int, dict[str, Any]] = {}
        self._best_quality: dict[int, float] = {}
        self._size = image_size  # (width, height) for the best-crop rule
        # Written after the tracks: a dict, or a function called when the file is finished.
        self.footer: dict[str, Any] | Callable[[], dict[str, Any]] = {}

    def _begin(self) -> None:
        head = json.dumps(self.meta)[:-1]  # reopen the meta object to append the streamed lists
        self._fh.write(head + (", " if self.meta else "") + '"frames": [\n')

    def _write_frame(self, frame_id: int, rows: np.ndarray) -> None:
        xyxy, conf, ids = rows_to_xyxy(rows), rows[:, 6], rows[:, 1].astype(np.int64)
        objects = [
            {
                "id": int(tid),
                "box": [round(float(v), 2) for v in box],
                "confidence": round(float(c), 4),
            }
            for tid, box, c in zip(ids, xyxy, conf, strict=True)
        ]
        self._fh.write(
            ("" if self._first else ",\n")
            + json.dumps({"frame": int(frame_id), "objects": objects})
        )
        self._first = False
        self.frames_written += 1
        quality = crop_quality(xyxy, conf, self._size)
        for tid, obj, q in zip(ids, objects, quality, strict=True):
            entry = self.tracks.setdefault(
                int(tid), {"first_frame": int(frame_id), "frames": 0, "best_crop": None}
            )
            entry["last_frame"] = int(frame_id)
            entry["frames"] += 1
            if q > self._best_quality.get(int(tid), -1.0):  # unrounded, as tracker.crops
                self._best_quality[int(tid)] = float(q)
                entry["best_crop"] = {
                    "frame": int(frame_id),
                    "box": obj["box"],
                    "confidence": obj["confidence"],
                    "quality": round(float(q), 4),
                }

    def _end(self) -> None:
        items = ",\n".join(f'"{k}": {json.dumps(self.tracks[k])}' for k in sorted(self.tracks))
        footer = self.footer() if callable(self.footer) else self.footer
        tail = "".join(f", {json.dumps(k)}: {json.dumps(v)}" for k, v in footer.items())
        self._fh.write('\n], "tracks": {\n' + items + "\n}" + tail + "}\n")


def crop_quality(
    xyxy: np.ndarray, conf: np.ndarray, image_size: tuple[int, int] | None
) -> np.ndarray:
    """``(N,)`` how good each box is as the id's thumbnail: confidence x unoccluded share x
    (0.5 if cut by the image border), so the best crop is a clear, whole view of the person."""
    if len(xyxy) == 0:
        return np.zeros(0)
    iou = box_iou(xyxy, xyxy)
    np.fill_diagonal(iou, 0.0)
    free = 1.0 - (iou.max(axis=1) if len(xyxy) > 1 else np.zeros(len(xyxy)))
    inside = np.ones(len(xyxy))
    if image_size is not None:
        w, h = image_size
        cut = (xyxy[:, 0] < 1) | (xyxy[:, 1] < 1) | (xyxy[:, 2] > w - 1) | (xyxy[:, 3] > h - 1)
        inside[cut] = 0.5
    return np.asarray(conf, dtype=np.float64) * free * inside


# Where a label may go, in order of preference, relative to its box: (corner x, corner y,
# label left of / right of that x, label above / below that y).
_LABEL_SPOTS = (
    ("x1", "y1", "right", "above"),  # on top of the box, at its left (the usual place)
    ("x1", "y1", "right", "below"),  # inside the box, top left
    ("x1", "y2", "right", "below"),  # under the box
    ("x1", "y2", "right", "above"),  # inside the box, bottom left
    ("x2", "y1", "left", "above"),  # on top of the box, at its right
    ("x2", "y1", "left", "below"),  # inside, top right
    ("x2", "y2", "left", "below"),  # under, at the right
    ("x2", "y2", "left", "above"),  # inside, bottom right
)


def _overlaps(rect: np.ndarray, placed: list[np.ndarray]) -> bool:
    return any(
        rect[0] < o[2] and o[0] < rect[2] and rect[1] < o[3] and o[1] < rect[3] for o in placed
    )


def _label_at(
    box: np.ndarray, size: tuple[int, int], where: tuple[str, ...], width: int, dy: int = 0
) -> np.ndarray:
    """The label rectangle at spot ``where`` of ``box``, slid sideways into the image."""
    bw, bh = size
    corners = dict(zip(("x1", "y1", "x2", "y2"), (round(float(v)) for v in box), strict=True))
    x_key, y_key, side, vert = where
    x = corners[x_key] if side == "right" else corners[x_key] - bw
    y = (corners[y_key] - bh if vert == "above" else corners[y_key]) + dy
    x = min(max(x, 0), max(width - bw, 0))
    return np.array([x, y, x + bw, y + bh])


def place_labels(boxes: np.ndarray, sizes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """``(N, 4)`` label rectangles ``x1, y1, x2, y2`` (pixels, end exclusive) for ``boxes``
    ``(N, 4)`` and label ``sizes`` ``(N, 2)`` (width, height), no two overlapping where the image
    has room.

    Boxes are served from the top of the image down; each label takes the first of the spots
    around its box's corners (:data:`_LABEL_SPOTS`: above, inside top, below, inside bottom; left
    corners first) that lies in the image and overlaps no label placed before it. When all eight
    are taken, the first spot moves up or down by label heights to the nearest free place; only
    a frame with no free place left keeps an overlap.
    """
    width, height = image_size
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = np.zeros((len(boxes), 4), dtype=np.int64)
    placed: list[np.ndarray] = []
    for i in np.lexsort((boxes[:, 0], boxes[:, 1])):
        size = (int(sizes[i][0]), int(sizes[i][1]))
        steps = range(1, 2 * height // max(size[1], 1) + 2)
        spots = itertools.chain(  # made as they are tried: most labels take the first
            (_label_at(boxes[i], size, where, width) for where in _LABEL_SPOTS),
            (
                _label_at(boxes[i], size, _LABEL_SPOTS[0], width, dy=sign * k * size[1])
                for k in steps
                for sign in (-1, 1)
            ),
        )
        free = (r for r in spots if r[1] >= 0 and r[3] <= height and not _overlaps(r, placed))
        choice = next(free, None)
        if choice is None:  # nowhere free: the usual place, kept in the image
            choice = _label_at(boxes[i], size, _LABEL_SPOTS[0], width)
            choice[[1, 3]] -= min(choice[1], 0)
        out[i] = choice
        placed.append(choice)
    return out


def draw_box(
    scene: np.ndarray, box: np.ndarray, color: tuple[int, int, int], thickness: int
) -> None:
    """Outline ``box`` (x1, y1, x2, y2) on ``scene`` with its outer edge on the box's edge: the
    lines lie inside the box, which covers pixels ``[round(x1), round(x2))`` by
    ``[round(y1), round(y2))``."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    for i in range(thickness):
        if x2 - 1 - i < x1 + i or y2 - 1 - i < y1 + i:
            break
        cv2.rectangle(scene, (x1 + i, y1 + i), (x2 - 1 - i, y2 - 1 - i), color, 1)


class VideoAnnotator:
    """Draws tracked boxes, ``#id`` labels and traces of the last ``trace_length`` frames (the
    live stream: a track appears from its confirmation). Drawing is timed as ``draw``. Colours
    follow the track id (supervision's default palette, as ``sv.ColorLookup.TRACK``)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        size: tuple[int, int],
        trace_length: int = 30,
        timer: StageTimer | None = None,
    ) -> None:
        self.timer = timer
        self.size = size
        self.thickness = max(1, round(min(size) / 360))
        self.text_scale = 0.4 * self.thickness
        self.text_padding = 3
        self.palette = sv.ColorPalette.DEFAULT
        self.traces = sv.TraceAnnotator(
            color=self.palette,
            trace_length=trace_length,
            thickness=self.thickness,
            color_lookup=sv.ColorLookup.TRACK,
            position=sv.Position.BOTTOM_CENTER,
        )
        self.writer = VideoWriter(path, fps=fps, size=size, codec="h264")  # plays in browsers

    def __enter__(self) -> VideoAnnotator:
        self.writer.__enter__()
        return self

    def label_sizes(self, texts: list[str]) -> np.ndarray:
        """``(N, 2)`` width, height of each label's filled rectangle."""
        pad = self.text_padding
        sizes = []
        for text in texts:
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, self.text_scale, 1)
            sizes.append((tw + 2 * pad, th + base + 2 * pad))
        return np.array(sizes, dtype=np.int64).reshape(-1, 2)

    def annotate(self, frame: np.ndarray, tracked: sv.Detections) -> np.ndarray:
        scene = frame.copy()
        if not len(tracked):
            return scene
        scene = self.traces.annotate(scene, tracked)
        ids = [int(t) for t in tracked.tracker_id]
        colors = [self.palette.by_idx(t) for t in ids]
        for box, color in zip(tracked.xyxy, colors, strict=True):
            draw_box(scene, box, color.as_bgr(), self.thickness)
        texts = [f"#{t}" for t in ids]
        rects = place_labels(
            tracked.xyxy, self.label_sizes(texts), (scene.shape[1], scene.shape[0])
        )
        pad = self.text_padding
        for text, rect, color in zip(texts, rects, colors, strict=True):
            x1, y1, x2, y2 = (int(v) for v in rect)
            cv2.rectangle(scene, (x1, y1), (x2 - 1, y2 - 1), color.as_bgr(), -1)
            r, g, b = color.as_rgb()
            ink = (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 else (255, 255, 255)
            (_, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, self.text_scale, 1)
            cv2.putText(
                scene,
                text,
                (x1 + pad, y1 + pad + th),
                cv2.FONT_HERSHEY_SIMPLEX,
                self.text_scale,
                ink,
                1,
                cv2.LINE_AA,
            )
        return scene

    def write(self, result: TrackedFrame) -> None:
        with self.timer("draw") if self.timer is not None else contextlib.nullcontext():
            scene = self.annotate(result.frame, result.tracked)
        self.writer.write(scene)

    def __exit__(self, exc_type, exc, tb) -> bool | None:
        return self.writer.__exit__(exc_type, exc, tb)
