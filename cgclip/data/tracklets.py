"""The one data type every re-identification reader returns.

A reader turns a dataset root in its official layout into a :class:`ReidDataset`: lists of
:class:`Tracklet` (frame paths + identity + camera) for training, query and gallery. Training,
evaluation and the tracker's benchmarks only ever see this type.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

JUNK_PID = -1  # MARS "junk" tracklets: never a match, never counted.
DISTRACTOR_PID = 0  # MARS distractors: stay in the gallery as negatives.


@dataclass(frozen=True)
class Tracklet:
    """A short video of one person: crop image paths in temporal order.

    ``camid`` is the camera index; for MOT-derived sets (one camera per video) it is the index of
    the source sequence, so the standard "same identity, same camera" exclusion also removes
    adjacent pieces of the same track. ``seq``/``track``/``start`` locate the tracklet in its
    source video when there is one (MOT-derived sets), else they keep their defaults.
    """

    frames: tuple[str, ...]
    pid: int
    camid: int
    seq: str = ""
    track: int = -1
    start: int = -1

    def __post_init__(self) -> None:
        if not self.frames:
            raise ValueError(f"tracklet of pid {self.pid} has no frames")

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class ReidDataset:
    """Train / query / gallery tracklets of one dataset (and one split, for iLIDS-VID).

    ``ignore`` optionally overrides the default evaluation exclusion: a boolean ``(n_query,
    n_gallery)`` mask of gallery items that do not count for a query, neither as match nor as
    non-match. The default (:meth:`ignore_mask`) is the MARS/MOT rule: same identity and same
    camera, plus junk gallery items.
    """

    name: str
    train: list[Tracklet]
    query: list[Tracklet]
    gallery: list[Tracklet]
    root: Path | None = None
    captions_path: Path | None = None
    ignore: np.ndarray | None = field(default=None, repr=False)

    @property
    def num_train_pids(self) -> int:
        return len({t.pid for t in self.train})

    def ignore_mask(self) -> np.ndarray:
        if self.ignore is not None:
            return self.ignore
        q_pid = np.array([t.pid for t in self.query])[:, None]
        q_cam = np.array([t.camid for t in self.query])[:, None]
        g_pid = np.array([t.pid for t in self.gallery])[None, :]
        g_cam = np.array([t.camid for t in self.gallery])[None, :]
        return ((q_pid == g_pid) & (q_cam == g_cam)) | (g_pid == JUNK_PID)

    def summary(self) -> str:
        def part(name: str, items: list[Tracklet]) -> str:
            ids = Counter(t.pid for t in items)
            return f"{name}: {len(items)} tracklets / {len(ids)} ids"

        parts = [
            part("train", self.train),
            part("query", self.query),
            part("gallery", self.gallery),
        ]
        return f"{self.name} | " + " | ".join(parts)
