"""The tracker's three outputs, each streamed to disk and published atomically.

- :class:`MotWriter`: MOTChallenge results txt (``frame, id, x, y, w, h, conf, -1, -1, -1``).
- :class:`JsonWriter`: per frame ``{frame, objects: [{id, box, confidence}]}``, then per id
  ``{first_frame, last_frame, frames, best_crop: {frame, box, confidence, quality}}``.
- :class:`VideoAnnotator`: an MP4 with boxes, id labels and short traces (supervision annotators).

Rows and frames go to a temporary file as they come, so memory stays flat over any video length;
the file replaces its destination only when the writer closes without an error.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import supervision as sv

from cgclip.io.atomic import atomic_path
from cgclip.io.mot import format_mot_rows
from cgclip.io.video import VideoWriter
from tracker.matching import box_iou


class _StreamingFile:
    """A text file written through :func:`atomic_path`; use as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stack = contextlib.ExitStack()
        self._fh: TextIO | None = None

    def __enter__(self):
        tmp = self._stack.enter_context(atomic_path(self.path))
        self._fh = self._stack.enter_context(open(tmp, "w", encoding="utf-8"))
        self._begin()
        return self

    def _begin(self) -> None:
        pass

    def _end(self) -> None:
        pass

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self._end()
        return self._stack.__exit__(exc_type, exc, tb)


class MotWriter(_StreamingFile):
    """MOTChallenge results, one frame at a time (frames must come in increasing order)."""

    def write(self, frame_id: int, tracked: sv.Detections) -> None:
        if len(tracked) == 0:
            return
        xyxy = np.asarray(tracked.xyxy, dtype=np.float64)
        conf = np.ones(len(tracked)) if tracked.confidence is None else tracked.confidence
        rows = np.zeros((len(tracked), 10))
        rows[:, 0] = frame_id
        rows[:, 1] = tracked.tracker_id
        rows[:, 2:4] = xyxy[:, :2]
        rows[:, 4:6] = xyxy[:, 2:] - xyxy[:, :2]
        rows[:, 6] = conf
        rows[:, 7:] = -1
        self._fh.write(format_mot_rows(rows[np.argsort(rows[:, 1], kind="stable")]))


class JsonWriter(_StreamingFile):
    """Per-frame objects streamed into a JSON document; per-id summaries written at the end."""

    def __init__(self, path: str | os.PathLike[str], meta: dict[str, Any] | None = None) -> None:
        super().__init__(path)
        self.meta = meta or {}
        self._first = True
        self.tracks: dict[int, dict[str, Any]] = {}
        self._size: tuple[int, int] | None = None  # (width, height) for the best-crop rule
        self.footer: dict[str, Any] = {}  # written after the tracks (known only at the end)

    def _begin(self) -> None:
        head = json.dumps(self.meta)[:-1]  # reopen the meta object to append the streamed lists
        self._fh.write(head + (", " if self.meta else "") + '"frames": [\n')

    def write(
        self, frame_id: int, tracked: sv.Detections, image_size: tuple[int, int] | None = None
    ) -> None:
        xyxy = np.asarray(tracked.xyxy, dtype=np.float64).reshape(-1, 4)
        conf = (
            np.ones(len(tracked))
            if tracked.confidence is None
            else np.asarray(tracked.confidence, float)
        )
        objects = [
            {
                "id": int(tid),
                "box": [round(float(v), 2) for v in box],
                "confidence": round(float(c), 4),
            }
            for tid, box, c in zip(tracked.tracker_id, xyxy, conf, strict=True)
        ]
        self._fh.write(
            ("" if self._first else ",\n")
            + json.dumps({"frame": int(frame_id), "objects": objects})
        )
        self._first = False
        quality = crop_quality(xyxy, conf, image_size)
        for tid, box, c, q in zip(tracked.tracker_id, xyxy, conf, quality, strict=True):
            entry = self.tracks.setdefault(
                int(tid), {"first_frame": int(frame_id), "frames": 0, "best_crop": None}
            )
            entry["last_frame"] = int(frame_id)
            entry["frames"] += 1
            best = entry["best_crop"]
            if best is None or q > best["quality"]:
                entry["best_crop"] = {
                    "frame": int(frame_id),
                    "box": [round(float(v), 2) for v in box],
                    "confidence": round(float(c), 4),
                    "quality": round(float(q), 4),
                }

    def _end(self) -> None:
        items = ",\n".join(f'"{k}": {json.dumps(self.tracks[k])}' for k in sorted(self.tracks))
        tail = "".join(f", {json.dumps(k)}: {json.dumps(v)}" for k, v in self.footer.items())
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


class VideoAnnotator:
    """Draws tracked boxes, ``#id`` labels and traces of the last ``trace_length`` frames."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        size: tuple[int, int],
        trace_length: int = 30,
    ) -> None:
        lookup = sv.ColorLookup.TRACK
        thickness = max(1, round(min(size) / 360))
        self.boxes = sv.BoxAnnotator(thickness=thickness, color_lookup=lookup)
        self.labels = sv.LabelAnnotator(
            color_lookup=lookup, text_scale=0.4 * thickness, text_padding=3, text_thickness=1
        )
        self.traces = sv.TraceAnnotator(
            trace_length=trace_length,
            thickness=thickness,
            color_lookup=lookup,
            position=sv.Position.BOTTOM_CENTER,
        )
        self.writer = VideoWriter(path, fps=fps, size=size)

    def __enter__(self) -> VideoAnnotator:
        self.writer.__enter__()
        return self

    def annotate(self, frame: np.ndarray, tracked: sv.Detections) -> np.ndarray:
        scene = frame.copy()
        if len(tracked):
            scene = self.traces.annotate(scene, tracked)
            scene = self.boxes.annotate(scene, tracked)
            scene = self.labels.annotate(
                scene, tracked, labels=[f"#{t}" for t in tracked.tracker_id]
            )
        return scene

    def write(self, frame: np.ndarray, tracked: sv.Detections) -> None:
        self.writer.write(self.annotate(frame, tracked))

    def __exit__(self, exc_type, exc, tb) -> bool | None:
        return self.writer.__exit__(exc_type, exc, tb)
