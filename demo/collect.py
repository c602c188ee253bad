"""What the demo keeps from the tracking pass itself: best crops, search features, spans, strips.

The demo used to track the clip, then re-read the JSON, decode the video a second time and
re-run the image encoder on the crops it wanted. Now :class:`TrackCollector` is one more sink of
:func:`tracker.pipeline.iter_tracked` (through ``tracker.run.track_video(sinks=...)``) and
:class:`FeatureTap` wraps the tracker's embedder, so one pass gives:

- **best crops**: per id the crop of its highest-quality live box (``tracker.outputs.crop_quality``:
  confidence x unoccluded share x 0.5 when cut by the border), cut from the frame in hand;
- **features**: per id the CLS tokens of its ``per_track`` best-quality boxes, *reused* from the
  encoder call the tracker makes for association (``CgclipEmbedder.embed_frame`` returns the
  frame tokens with CLS at index 0, the same forward pass ``demo.reid.cls_features`` would run,
  kept in float16 as the tracker keeps them). They are averaged and projected into the joint
  text space at the end (``project``, e.g. ``demo.reid.text_aligned``);
- **spans**: every frame each id is reported in, including the boxes a track had while tentative
  (``TrackedFrame.backfill``), so spans equal the MOT txt / JSON; they are the gallery's segments
  and timeline rows;
- **strips**: per id about ``strip_frames`` crops spread evenly over its live boxes
  (``demo.gallery.StripSampler``: bounded memory, the track's length unknown while it runs), the
  frames of its TFE attention strip.

Nothing is decoded or encoded twice. What differs from the JSON-driven way: best crops and
feature boxes are chosen among *live* boxes (a frame is not kept once it has passed, so a box
known only by backfill cannot be cut), and a box whose encoder call the tracker skipped
(``embed_skip_iou``) has no feature; the id then uses its other boxes.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from demo.gallery import StripSampler
from tracker.matching import box_iou
from tracker.outputs import crop_quality

MATCH_IOU = 0.5  # a tracked box takes the features of the embedded box it overlaps most


@dataclass
class TrackResult:
    """What one tracking pass collected per identity (ids are the tracker's ``tracker_id``).

    best_crops: ``{id: (h, w, 3) uint8 RGB}`` crop of the id's best-quality live box.
    best_frames: ``{id: frame}`` (1-based) where that crop was cut.
    features: ``{id: (E,) float32}`` L2-normalised image feature in the joint text space (the
        frame-averaged CLS of the id's best boxes, projected); empty without a ReID model, and an
        id whose boxes were never encoded has none.
    spans: ``{id: [(first, last), ...]}`` inclusive, 1-based runs of consecutive frames in which
        the id is reported, in order.
    feature_frames: ``{id: [frame, ...]}`` the frames whose crops make up ``features[id]``.
    strips: ``{id: [(frame, (h, w, 3) uint8 RGB), ...]}`` the attention strip's crops (unpadded),
        evenly spread over the id's live frames, in frame order.
    """

    num_frames: int
    fps: float
    best_crops: dict[int, np.ndarray] = field(default_factory=dict)
    best_frames: dict[int, int] = field(default_factory=dict)
    features: dict[int, np.ndarray] = field(default_factory=dict)
    spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    feature_frames: dict[int, list[int]] = field(default_factory=dict)
    strips: dict[int, list[tuple[int, np.ndarray]]] = field(default_factory=dict)

    @property
    def ids(self) -> list[int]:
        return sorted(self.spans)

    def first_frame(self, track_id: int) -> int:
        return self.spans[track_id][0][0]

    def last_frame(self, track_id: int) -> int:
        return self.spans[track_id][-1][1]

    def frames(self, track_id: int) -> int:
        """How many frames report the id."""
        return sum(b - a + 1 for a, b in self.spans[track_id])

    def presence(self, track_id: int) -> np.ndarray:
        """``(num_frames,) bool``: the frames that report the id."""
        out = np.zeros(self.num_frames, bool)
        for a, b in self.spans.get(track_id, []):
            out[a - 1 : b] = True
        return out

    def feature_matrix(self) -> tuple[list[int], np.ndarray | None]:
        """``(ids, (K, E))`` of the ids that have a feature (None when no model ran)."""
        ids = [t for t in self.ids if t in self.features]
        if not ids:
            return [], None
        return ids, np.stack([self.features[t] for t in ids])


def spans_of(frames: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted, distinct frame numbers -> inclusive runs ``[(first, last), ...]``."""
    out: list[tuple[int, int]] = []
    for f in frames:
        if out and f == out[-1][1] + 1:
            out[-1] = (out[-1][0], f)
        elif not out or f > out[-1][1]:
            out.append((f, f))
    return out


class FeatureTap:
    """The tracker's embedder, unchanged, remembering the boxes and CLS tokens of its last
    ``embed_frame`` call (what :class:`TrackCollector` reuses). Everything else is forwarded."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def embed_frame(self, frame: np.ndarray, boxes_xyxy: np.ndarray) -> Any:
        ff = self.inner.embed_frame(frame, boxes_xyxy)
        feats = np.asarray(ff.features)
        if feats.ndim == 3 and feats.shape[1] > 0:  # (N, L, D) frame tokens, CLS first
            cls = feats[:, 0]
        else:  # (N, E) plain vectors, or nothing
            cls = feats.reshape(len(feats), -1)
        boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        self._last = (boxes, cls) if len(boxes) == len(cls) else None
        return ff

    def embed_tracklets(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        return self.inner.embed_tracklets(windows)

    def take(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(boxes (N, 4), CLS (N, D))`` encoded since the last call, or None; clears it."""
        last, self._last = self._last, None
        return last

    def __getattr__(self, name: str) -> Any:  # name, model, embedding_dim, ...
        return getattr(self.inner, name)


class TrackCollector:
    """A sink that builds a :class:`TrackResult` while the tracker runs.

    tap: the :class:`FeatureTap` around the tracker's embedder (None: no features).
    project: ``(K, D) mean CLS -> (K, E)`` into the text space, applied once at the end.
    per_track: best-quality boxes per id whose CLS tokens are averaged.
    image_size: ``(width, height)`` for the border rule of ``crop_quality``.
    cut: ``cut(frame_bgr, box, pad=...) -> RGB crop`` (``demo.gallery.cut``).
    strip_frames: crops kept per id for its attention strip (0: none).
    """

    def __init__(
        self,
        *,
        cut: Callable[..., np.ndarray],
        tap: FeatureTap | None = None,
        project: Callable[[np.ndarray], np.ndarray] | None = None,
        per_track: int = 4,
        image_size: tuple[int, int] | None = None,
        fps: float = 25.0,
        strip_frames: int = 0,
    ) -> None:
        self.cut, self.tap, self.project = cut, tap, project
        self.per_track, self.size, self.fps = int(per_track), image_size, fps
        self._quality: dict[int, float] = {}
        self._crops: dict[int, np.ndarray] = {}
        self._best_frame: dict[int, int] = {}
        self._heaps: dict[int, list[tuple[float, int, np.ndarray]]] = {}
        self._frames: dict[int, set[int]] = {}
        self.strip_frames = int(strip_frames)
        self._strips: dict[int, StripSampler] = {}
        self._strip_live: set[int] = set()  # ids offered a strip crop in the previous frame
        self._last_frame = 0
        self.result: TrackResult | None = None  # set when the sink closes without an error

    def __enter__(self) -> TrackCollector:
        if self.tap is not None:
            self.tap.take()  # nothing from before this pass
        return self

    def write(self, result: Any) -> None:
        fid, tracked = result.frame_id, result.tracked
        self._last_frame = max(self._last_frame, fid)
        encoded = self.tap.take() if self.tap is not None else None
        for back_fid, dets in result.backfill:
            for tid in np.asarray(dets.tracker_id).tolist():
                self._frames.setdefault(int(tid), set()).add(int(back_fid))
        ids = np.asarray(tracked.tracker_id, np.int64) if len(tracked) else np.zeros(0, np.int64)
        self._seal_strips(set(ids.tolist()) if result.frame is not None else set())
        if not len(tracked):
            return
        xyxy = np.asarray(tracked.xyxy, np.float64).reshape(-1, 4)
        conf = tracked.confidence
        conf = np.ones(len(ids)) if conf is None else np.asarray(conf, np.float64)
        quality = crop_quality(xyxy, conf, self.size)
        cls_of = self._match(xyxy, encoded)
        for k, tid in enumerate(ids.tolist()):
            self._frames.setdefault(tid, set()).add(fid)
            q = float(quality[k])
            if result.frame is not None and q > self._quality.get(tid, -1.0):
                self._quality[tid] = q
                self._crops[tid] = self.cut(result.frame, xyxy[k])
                self._best_frame[tid] = fid
            if result.frame is not None and self.strip_frames > 0:
                sampler = self._strips.setdefault(tid, StripSampler(self.strip_frames))
                sampler.offer(fid, lambda f=result.frame, b=xyxy[k]: self.cut(f, b, pad=0.0))
            if cls_of[k] is None or self.per_track <= 0:
                continue
            item = (q, -fid, np.asarray(cls_of[k], np.float32))  # earlier frames win ties
            heap = self._heaps.setdefault(tid, [])
            if len(heap) < self.per_track:
                heapq.heappush(heap, item)
            elif item[:2] > heap[0][:2]:
                heapq.heapreplace(heap, item)

    def _seal_strips(self, live: set[int]) -> None:
        """Ids gone from this frame: cut their latest strip crop now (a sampler holds a frame
        only until its track leaves it)."""
        for tid in self._strip_live - live:
            self._strips[tid].seal()
        self._strip_live = live if self.strip_frames > 0 else set()

    @staticmethod
    def _match(
        xyxy: np.ndarray, encoded: tuple[np.ndarray, np.ndarray] | None
    ) -> list[np.ndarray | None]:
        """Each tracked box's CLS token: that of the encoded box it overlaps most (the same box
        unless the preset reports Kalman boxes), None when it was not encoded this frame."""
        if encoded is None or not len(encoded[0]):
            return [None] * len(xyxy)
        boxes, cls = encoded
        iou = box_iou(xyxy, boxes)  # (tracked, encoded)
        best = iou.argmax(axis=1)
        return [cls[j] if iou[i, j] >= MATCH_IOU else None for i, j in enumerate(best.tolist())]

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            return
        spans = {tid: spans_of(sorted(f)) for tid, f in sorted(self._frames.items())}
        features: dict[int, np.ndarray] = {}
        have = [tid for tid in sorted(self._heaps) if self._heaps[tid]]
        if have and self.project is not None:
            mean = np.stack([np.mean([c for _, _, c in self._heaps[t]], axis=0) for t in have])
            for tid, vec in zip(have, self.project(mean), strict=True):
                features[tid] = np.asarray(vec, np.float32)
        self.result = TrackResult(
            num_frames=self._last_frame,
            fps=self.fps,
            best_crops=dict(self._crops),
            best_frames=dict(self._best_frame),
            features=features,
            spans=spans,
            feature_frames={t: sorted(-nf for _, nf, _ in self._heaps[t]) for t in features},
            strips={t: s.picks() for t, s in sorted(self._strips.items())},
        )
