"""``tracker.run --save-crops DIR``: person crops per track id, a sink of
:func:`tracker.pipeline.iter_tracked`.

``DIR/<id:05d>/<frame:06d>.jpg`` and ``DIR/crops.json`` (layout and reader:
:mod:`cgclip.data.crops`; ``load_dataset("crops", DIR)`` makes it a ReID training set).
``mode="best"`` writes one crop per id, its best view by the rule of the JSON's ``best_crop``
(:func:`tracker.outputs.crop_quality`: confident, unoccluded, not cut by the border), so the
file's frame is the JSON's ``best_crop.frame``; ``mode="all"`` writes every box of every id, the
tentative boxes before a track's confirmation included (as the MOT txt has them).

Crops are cut from the boxes as tracked, clipped to the image, without padding. The folder is
written as a temporary folder beside ``DIR`` and renamed to ``DIR`` when the sink closes without
an error (an earlier ``DIR`` is replaced only then, and only with ``--overwrite``:
:func:`claim_folder`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from cgclip.data.crops import CROPS_FORMAT, CROPS_INDEX, CROPS_VERSION, crop_file, id_dir
from cgclip.errors import UserError
from cgclip.io.mot import rows_to_xyxy
from cgclip.io.runs import ensure_writable_dir
from tracker.outputs import _RowSink, crop_quality

if TYPE_CHECKING:
    from tracker.pipeline import TrackedFrame

MODES = ("best", "all")


def claim_folder(folder: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """The overwrite policy (:func:`cgclip.io.runs.claim_outputs`) for an output folder: a
    non-empty folder there is replaced only with ``overwrite``; a file there is an error."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder}: is a file, not a folder; give a folder for the crops")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise UserError(
            f"{folder}: already exists and is not empty; pass --overwrite to replace it, or "
            "choose another --save-crops folder"
        )
    ensure_writable_dir(folder.parent)
    return folder


def cut_crop(frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The pixels of ``box`` (x1, y1, x2, y2) clipped to ``frame``; ``None`` if under 2x2."""
    h, w = frame.shape[:2]
    x1, y1 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
    x2, y2 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return frame[y1:y2, x1:x2]


class CropWriter(_RowSink):
    """Crops per id into ``folder`` (see the module doc); use as a context manager."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        mode: str = "best",
        image_size: tuple[int, int] | None = None,
        meta: dict[str, Any] | None = None,
        jpeg_quality: int = 95,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        super().__init__()
        self.folder = Path(folder)
        self.mode = mode
        self.meta = meta or {}
        self._size = image_size
        self._params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
        self._frames: dict[int, np.ndarray | None] = {}  # pixels of the frames held for backfill
        self._best: dict[int, tuple[float, int, np.ndarray]] = {}  # id -> quality, frame, crop
        self.ids: dict[int, dict[str, int]] = {}  # id -> first_frame, last_frame, crops
        self.crops_written = 0
        self._tmp: Path | None = None
        # Written into crops.json at the end: a dict, or a function called then.
        self.footer: dict[str, Any] | Callable[[], dict[str, Any]] = {}

    def __enter__(self) -> CropWriter:
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(
            tempfile.mkdtemp(prefix=f".{self.folder.name}.{os.getpid()}-", dir=self.folder.parent)
        )
        return self

    def write(self, result: TrackedFrame) -> None:
        self._frames[result.frame_id] = result.frame
        super().write(result)

    def _write_frame(self, frame_id: int, rows: np.ndarray) -> None:
        frame = self._frames.pop(frame_id, None)
        if frame is None or not len(rows):
            return
        xyxy, ids = rows_to_xyxy(rows), rows[:, 1].astype(np.int64)
        quality = crop_quality(xyxy, rows[:, 6], self._size)
        for tid, box, q in zip(ids, xyxy, quality, strict=True):
            crop = cut_crop(frame, box)
            if crop is None:
                continue
            tid = int(tid)
            entry = self.ids.setdefault(tid, {"first_frame": frame_id, "crops": 0})
            entry["last_frame"] = frame_id
            if self.mode == "all":
                self._save(tid, frame_id, crop)
                entry["crops"] += 1
            best = self._best.get(tid)
            if best is None or q > best[0]:
                keep = crop if self.mode == "all" else crop.copy()  # the frame is not kept
                self._best[tid] = (float(q), frame_id, keep)

    def _save(self, tid: int, frame_id: int, crop: np.ndarray) -> None:
        assert self._tmp is not None
        folder = id_dir(self._tmp, tid)
        folder.mkdir(exist_ok=True)
        path = folder / crop_file(frame_id)
        if not cv2.imwrite(str(path), crop, self._params):
            raise OSError(f"{path}: cannot write the crop (disk full?)")
        self.crops_written += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        tmp = self._tmp
        assert tmp is not None
        try:
            if exc_type is None:
                self._flush()
                self._finish(tmp)
                _replace_folder(tmp, self.folder)
        finally:
            self._tmp = None
            if tmp.exists():  # an error, or an interrupt while finishing: nothing is published
                shutil.rmtree(tmp, ignore_errors=True)

    def _finish(self, tmp: Path) -> None:
        ids: dict[str, Any] = {}
        for tid in sorted(self.ids):
            entry = dict(self.ids[tid])
            quality, frame_id, crop = self._best[tid]
            if self.mode == "best":
                self._save(tid, frame_id, crop)
                entry["crops"] = 1
            entry["best"] = {"frame": frame_id, "quality": round(quality, 4)}
            ids[str(tid)] = entry
        footer = self.footer() if callable(self.footer) else self.footer
        index = {
            "format": CROPS_FORMAT,
            "version": CROPS_VERSION,
            **self.meta,
            "mode": self.mode,
            "crops": self.crops_written,
            **footer,
            "ids": ids,
        }
        (tmp / CROPS_INDEX).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")


def _replace_folder(new: Path, dest: Path) -> None:
    """Rename ``new`` to ``dest``; an earlier ``dest`` is moved aside first, then removed."""
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{os.getpid()}-old-", dir=dest.parent))
        old.rmdir()
        dest.rename(old)
    try:
        new.rename(dest)
    except BaseException:
        if old is not None:
            with contextlib.suppress(OSError):
                old.rename(dest)  # put the earlier folder back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
