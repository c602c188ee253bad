"""The association tracker: ``supervision.Detections`` in, the same with ``tracker_id`` out.

Per frame (``Tracker.update``):

1. optional camera-motion compensation warps every track state;
2. Kalman predict for all tracks, batched;
3. appearance: detections bring embeddings (``data["embedding"]``) or the embedder computes them
   in one batched pass;
4. matching stages (each a gated Hungarian assignment on a vectorised cost matrix):
   a. confirmed tracks (tracked, or lost for at most ``max_time_lost`` frames) x high-confidence
      detections, cost fused from IoU, appearance and OC-SORT's direction consistency;
   b. still-unmatched *tracked* tracks x low-confidence detections, IoU only (ByteTrack);
   c. OC-SORT observation recovery: remaining tracks' last observed boxes x remaining high
      detections;
   d. tentative tracks x remaining high detections;
   e. re-identification: lost tracks still in the ``reid_buffer`` x remaining high detections,
      appearance only, so a player who left and came back keeps the id;
5. matched tracks are corrected (after a gap, OC-SORT's observation-centric re-update along a
   virtual path); unmatched ones become lost; new tracks are born from confident leftovers and
   confirmed after ``min_hits`` consecutive matches, at which point their tracklet embedding is
   compared to the lost tracks once more (a late re-identification);
6. tracklet embeddings of tracks whose window changed are recomputed in one batched call.

Track state is kept as a structure of arrays (one row per track: Kalman state, last box, ids,
counters) plus three per-track Python lists (motion history, feature window, embedding), so every
step is a few numpy operations over all tracks. All state lives on the instance: ids start at 1
per tracker and ``reset()`` starts over.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import supervision as sv

from tracker.cmc import CameraMotion
from tracker.config import TrackerConfig, load_preset
from tracker.embedding import EMBEDDING_KEY, Embedder, MeanPoolEmbedder, build_embedder
from tracker.kalman import KalmanBoxFilter, cxcywh_to_xyxy, state_to_xyxy, xyxy_to_cxcywh
from tracker.matching import (
    box_iou,
    cosine_distance,
    direction_cost,
    fuse_cost,
    l2_normalize,
    linear_assignment,
)

TENTATIVE, TRACKED, LOST = 0, 1, 2
_STATE_NAMES = ("tentative", "tracked", "lost")
# Per-track arrays: name -> (trailing shape, dtype). Rows line up with the per-track lists.
_ARRAYS: dict[str, tuple[tuple[int, ...], Any]] = {
    "ids": ((), np.int64),  # 0 until confirmed
    "state": ((), np.int8),
    "confirmed": ((), bool),
    "hits": ((), np.int64),
    "start": ((), np.int64),
    "last_frame": ((), np.int64),
    "score": ((), np.float64),
    "mean": ((8,), np.float64),
    "cov": ((3, 4), np.float64),
    "saved_mean": ((8,), np.float64),  # filter state right after the last observation (ORU)
    "saved_cov": ((3, 4), np.float64),
    "last_box": ((4,), np.float64),
    "direction": ((2,), np.float64),  # unit motion direction from past observations (OCM)
    "window_changed": ((), bool),
}
_LISTS = ("history", "window", "embedding")


@dataclass(frozen=True)
class TrackInfo:
    """A read-only snapshot of one track (see :attr:`Tracker.tracks`)."""

    track_id: int  # 0 while tentative
    state: str  # "tentative", "tracked" or "lost"
    box: np.ndarray  # (4,) last observed box, xyxy
    velocity: np.ndarray  # (4,) Kalman velocity of (cx, cy, w, h) per frame
    hits: int
    start_frame: int
    last_frame: int
    has_embedding: bool


class Tracker:
    """Multi-object tracker for people: Kalman + ByteTrack stages + OC-SORT + appearance re-ID.

    ``embedder`` computes appearance from frames; leave it ``None`` for motion only (embeddings
    passed in ``detections.data["embedding"]`` are still used, with mean pooling over the window).
    """

    def __init__(
        self, config: TrackerConfig | None = None, *, embedder: Embedder | None = None
    ) -> None:
        self.config = config or TrackerConfig()
        self.embedder = embedder
        self.kalman = KalmanBoxFilter(self.config.std_position, self.config.std_velocity)
        self._pool = MeanPoolEmbedder()
        self.reset()

    @classmethod
    def from_preset(
        cls,
        name: str = "default",
        *,
        reid: str | Embedder | None = None,
        device: str = "cpu",
        **overrides: Any,
    ) -> Tracker:
        """A tracker with a named preset; ``reid`` is an :class:`Embedder`, ``"none"`` or a ``--reid`` value."""
        embedder = (
            reid
            if reid is None or isinstance(reid, Embedder)
            else build_embedder(reid, device=device)
        )
        return cls(load_preset(name, **overrides), embedder=embedder)

    def reset(self) -> None:
        """Forget every track and restart ids at 1 (use between videos)."""
        self.frame_id = 0
        self._next_id = 1
        for name, (shape, dtype) in _ARRAYS.items():
            setattr(self, f"_{name}", np.zeros((0, *shape), dtype=dtype))
        for name in _LISTS:
            setattr(self, f"_{name}", [])
        self._pred_xyxy = np.zeros((0, 4))
        self._cmc = CameraMotion(downscale=self.config.cmc_downscale) if self.config.cmc else None

    # ------------------------------------------------------------------ public API

    def update(self, detections: sv.Detections, frame: np.ndarray | None = None) -> sv.Detections:
        """Associate one frame's detections; returns the tracked ones with ``tracker_id`` set.

        Only confirmed tracks matched in this frame are returned, in input order, carrying the
        input boxes (or the filtered ones with ``output_box="kalman"``), confidences, class ids
        and data.
        """
        cfg = self.config
        self.frame_id += 1
        conf = self._confidence(detections)
        keep = np.flatnonzero(conf >= cfg.low_thresh)
        dets = detections[keep] if len(keep) < len(detections) else detections
        conf = conf[keep]
        boxes = np.array(dets.xyxy, dtype=np.float64).reshape(-1, 4)

        if self._cmc is not None and frame is not None:
            self._compensate_camera(frame, boxes)
        self._drop_expired()
        self._predict()
        feats, embs = self._appearance(dets, frame, boxes)

        high = np.flatnonzero(conf >= cfg.high_thresh)
        low = np.flatnonzero(conf < cfg.high_thresh)
        det_track = np.full(len(dets), -1, dtype=np.int64)  # track row per detection
        matched = np.zeros(len(self._ids), dtype=bool)  # per track row
        gap = self.frame_id - self._last_frame - 1  # frames missed before this one
        pool = np.flatnonzero(self._confirmed & (gap <= cfg.max_time_lost))

        # a. confirmed tracks x high detections: IoU + appearance + direction.
        self._match_first(pool, high, boxes, conf, embs, det_track, matched)
        high_left = high[det_track[high] < 0]
        # b. tracked (not lost) leftovers x low detections: IoU only.
        left = pool[~matched[pool]]
        tracked_left = left[self._state[left] == TRACKED]
        self._match_iou(
            tracked_left, low, boxes, cfg.low_match_thresh, det_track, matched, predicted=True
        )
        # c. OC-SORT observation recovery: last observed boxes x high leftovers.
        if cfg.observation_recovery:
            left = pool[~matched[pool]]
            self._match_iou(
                left,
                high_left,
                boxes,
                cfg.recovery_match_thresh,
                det_track,
                matched,
                predicted=False,
            )
            high_left = high_left[det_track[high_left] < 0]
        # d. tentative tracks x high leftovers.
        tentative = np.flatnonzero(~self._confirmed)
        if len(tentative) and len(high_left):
            self._match_tentative(tentative, high_left, boxes, embs, det_track, matched)
            high_left = high_left[det_track[high_left] < 0]
        # e. re-identification of lost tracks by appearance.
        if embs is not None and len(high_left):
            self._match_reid(high_left, embs, det_track, matched)
            high_left = high_left[det_track[high_left] < 0]

        self._apply_matches(det_track, boxes, conf, feats)
        self._mark_unmatched(det_track, matched)
        self._birth(
            high_left[conf[high_left] >= cfg.new_track_thresh], boxes, conf, feats, det_track
        )
        self._confirm(det_track)
        self._refresh_embeddings()

        out_idx = np.flatnonzero(det_track >= 0)
        out_idx = out_idx[self._confirmed[det_track[out_idx]]]
        result = dets[out_idx]
        rows = det_track[out_idx]
        result.tracker_id = self._ids[rows].astype(np.int64)
        if cfg.output_box == "kalman" and len(rows):
            result.xyxy = state_to_xyxy(self._mean[rows]).astype(result.xyxy.dtype)
        return result

    @property
    def tracks(self) -> list[TrackInfo]:
        """Snapshots of every track the tracker holds (tentative, tracked and lost)."""
        return [
            TrackInfo(
                track_id=int(self._ids[i]),
                state=_STATE_NAMES[int(self._state[i])],
                box=self._last_box[i].copy(),
                velocity=self._mean[i, 4:].copy(),
                hits=int(self._hits[i]),
                start_frame=int(self._start[i]),
                last_frame=int(self._last_frame[i]),
                has_embedding=self._embedding[i] is not None,
            )
            for i in range(len(self._ids))
        ]

    @property
    def active_tracks(self) -> list[TrackInfo]:
        """Confirmed tracks matched in the latest frame."""
        return [
            t
            for t in self.tracks
            if t.state == "tracked" and t.track_id and t.last_frame == self.frame_id
        ]

    @property
    def lost_tracks(self) -> list[TrackInfo]:
        return [t for t in self.tracks if t.state == "lost"]

    @property
    def ids_assigned(self) -> int:
        """How many distinct ids this tracker has handed out since the last reset."""
        return self._next_id - 1

    # ------------------------------------------------------------------ bookkeeping

    def _keep(self, mask: np.ndarray, det_track: np.ndarray | None = None) -> None:
        """Keep only the track rows in ``mask``; renumber ``det_track`` in place to match."""
        if mask.all():
            return
        if det_track is not None:
            new_row = np.cumsum(mask) - 1
            hit = det_track >= 0
            det_track[hit] = new_row[det_track[hit]]
        for name in _ARRAYS:
            setattr(self, f"_{name}", getattr(self, f"_{name}")[mask])
        keep = mask.tolist()
        for name in _LISTS:
            setattr(
                self,
                f"_{name}",
                [x for x, k in zip(getattr(self, f"_{name}"), keep, strict=True) if k],
            )

    @staticmethod
    def _confidence(detections: sv.Detections) -> np.ndarray:
        if detections.confidence is None:
            return np.ones(len(detections))
        return np.asarray(detections.confidence, dtype=np.float64).reshape(-1)

    def _compensate_camera(self, frame: np.ndarray, boxes: np.ndarray) -> None:
        affine = self._cmc.estimate(frame, boxes)
        if not len(self._ids) or np.allclose(affine, np.eye(2, 3)):
            return
        self._mean, self._cov = self.kalman.warp(self._mean, self._cov, affine)
        self._saved_mean, self._saved_cov = self.kalman.warp(
            self._saved_mean, self._saved_cov, affine
        )
        lin, shift = affine[:, :2], affine[:, 2]
        z = xyxy_to_cxcywh(self._last_box)
        z[:, :2] = z[:, :2] @ lin.T + shift
        z[:, 2:] *= math.sqrt(abs(np.linalg.det(lin)))
        self._last_box = cxcywh_to_xyxy(z)
        self._direction = self._direction @ lin.T
        norm = np.linalg.norm(self._direction, axis=1, keepdims=True)
        self._direction = np.where(norm > 0, self._direction / np.maximum(norm, 1e-12), 0.0)
        self._history = [
            deque(
                ((f, *(lin @ (cx, cy) + shift).tolist()) for f, cx, cy in hist), maxlen=hist.maxlen
            )
            for hist in self._history
        ]

    def _drop_expired(self) -> None:
        if not len(self._ids):
            return
        cfg = self.config
        gap = self.frame_id - self._last_frame - 1
        has_emb = np.array([e is not None for e in self._embedding], dtype=bool)
        limit = np.where(has_emb, max(cfg.max_time_lost, cfg.reid_buffer), cfg.max_time_lost)
        self._keep((self._state != LOST) | (gap <= limit))

    def _predict(self) -> None:
        """Batched Kalman predict; caches the predicted boxes ``(n_tracks, 4)`` for matching."""
        mean = self._mean
        lost = self._state == LOST
        if lost.any():  # a lost box keeps drifting but stops growing or shrinking
            mean = mean.copy()
            mean[lost, 7] = 0.0
        self._mean, self._cov = self.kalman.predict(mean, self._cov)
        self._pred_xyxy = state_to_xyxy(self._mean)

    def _appearance(
        self, dets: sv.Detections, frame: np.ndarray | None, boxes: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Per-frame features ``(N, *F)`` for windows and embeddings ``(N, E)``, or ``(None, None)``."""
        if EMBEDDING_KEY in dets.data:
            embs = l2_normalize(
                np.asarray(dets.data[EMBEDDING_KEY], dtype=np.float32).reshape(len(dets), -1)
            )
            return embs, embs
        if self.embedder is None or frame is None or len(dets) == 0:
            return None, None
        ff = self.embedder.embed_frame(frame, boxes)
        return ff.features, ff.embeddings

    # ------------------------------------------------------------------ matching stages

    def _track_embeddings(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(K, E)`` embeddings of track ``rows`` and a ``(K,)`` mask of those that have one."""
        embs = [self._embedding[i] for i in rows]
        has = np.array([e is not None for e in embs], dtype=bool)
        if not has.any():
            return np.zeros((len(rows), 0), np.float32), has
        dim = next(e for e in embs if e is not None).shape[0]
        out = np.zeros((len(rows), dim), np.float32)
        for k, e in enumerate(embs):
            if e is not None:
                out[k] = e
        return out, has

    def _appearance_cost(
        self, rows: np.ndarray, det_idx: np.ndarray, embs: np.ndarray | None
    ) -> np.ndarray | None:
        """Cosine distances ``(K, M)``; NaN rows for tracks without an embedding yet."""
        if embs is None or self.config.appearance_weight == 0:
            return None
        temb, has = self._track_embeddings(rows)
        if not has.any() or temb.shape[1] != embs.shape[1]:
            return None
        dist = cosine_distance(temb, embs[det_idx])
        dist[~has] = np.nan  # no appearance evidence: fuse_cost falls back to motion alone
        return dist

    @staticmethod
    def _assign(
        rows: np.ndarray,
        cols: np.ndarray,
        matches: np.ndarray,
        det_track: np.ndarray,
        matched: np.ndarray,
    ) -> None:
        if len(matches):
            det_track[cols[matches[:, 1]]] = rows[matches[:, 0]]
            matched[rows[matches[:, 0]]] = True

    def _match_first(self, pool, high, boxes, conf, embs, det_track, matched) -> None:
        cfg = self.config
        if not len(pool) or not len(high):
            return
        cost = fuse_cost(
            box_iou(self._pred_xyxy[pool], boxes[high]),
            self._appearance_cost(pool, high, embs),
            appearance_weight=cfg.appearance_weight,
            min_iou=cfg.min_iou,
            appearance_gate=cfg.appearance_gate,
        )
        if cfg.direction_weight > 0:
            last = (self._last_box[pool, :2] + self._last_box[pool, 2:]) / 2
            centres = (boxes[high, :2] + boxes[high, 2:]) / 2
            cost = (
                cost
                + cfg.direction_weight
                * direction_cost(self._direction[pool], last, centres)
                * conf[high]
            )
        matches, _, _ = linear_assignment(cost, cfg.match_thresh)
        self._assign(pool, high, matches, det_track, matched)

    def _match_iou(
        self, rows, det_idx, boxes, max_cost, det_track, matched, *, predicted: bool
    ) -> None:
        """IoU-only matching against predicted or last observed boxes."""
        if not len(rows) or not len(det_idx):
            return
        tboxes = self._pred_xyxy[rows] if predicted else self._last_box[rows]
        iou = box_iou(tboxes, boxes[det_idx])
        matches, _, _ = linear_assignment(
            np.where(iou < self.config.min_iou, np.inf, 1.0 - iou), max_cost
        )
        self._assign(rows, det_idx, matches, det_track, matched)

    def _match_tentative(self, rows, det_idx, boxes, embs, det_track, matched) -> None:
        cfg = self.config
        cost = fuse_cost(
            box_iou(self._pred_xyxy[rows], boxes[det_idx]),
            self._appearance_cost(rows, det_idx, embs),
            appearance_weight=cfg.appearance_weight,
            min_iou=cfg.min_iou,
            appearance_gate=cfg.appearance_gate,
        )
        matches, _, _ = linear_assignment(cost, cfg.tentative_match_thresh)
        self._assign(rows, det_idx, matches, det_track, matched)

    def _match_reid(self, det_idx, embs, det_track, matched) -> None:
        has = np.array([e is not None for e in self._embedding], dtype=bool)
        lost = np.flatnonzero(self._confirmed & (self._state == LOST) & has & ~matched)
        if not len(lost):
            return
        temb, _ = self._track_embeddings(lost)
        if temb.shape[1] != embs.shape[1]:
            return
        matches, _, _ = linear_assignment(
            cosine_distance(temb, embs[det_idx]), self.config.reid_thresh
        )
        self._assign(lost, det_idx, matches, det_track, matched)

    # ------------------------------------------------------------------ state changes

    def _apply_matches(self, det_track, boxes, conf, feats) -> None:
        cfg = self.config
        dj = np.flatnonzero(det_track >= 0)
        if not len(dj):
            return
        ti = det_track[dj]  # unique: every stage only offers unmatched tracks
        gap = self.frame_id - self._last_frame[ti]
        long_lost = (self._state[ti] == LOST) & (gap - 1 > cfg.max_time_lost)
        oru = ~long_lost & (gap > 1) & cfg.reupdate_after_gap
        plain = ~long_lost & ~oru
        if plain.any():
            t = ti[plain]
            self._mean[t], self._cov[t] = self.kalman.update(
                self._mean[t], self._cov[t], boxes[dj[plain]]
            )
        if long_lost.any():  # re-identified after the motion buffer: the old velocity means nothing
            t = ti[long_lost]
            self._mean[t], self._cov[t] = self.kalman.initiate(boxes[dj[long_lost]])
        if oru.any():
            self._reupdate(ti[oru], boxes[dj[oru]])
        if cfg.direction_weight > 0:
            self._observe_direction(ti, boxes[dj])
        self._state[ti] = TRACKED
        self._hits[ti] += 1
        self._last_frame[ti] = self.frame_id
        self._last_box[ti] = boxes[dj]
        self._score[ti] = conf[dj]
        self._saved_mean[ti] = self._mean[ti]
        self._saved_cov[ti] = self._cov[ti]
        if feats is not None:
            clean = self._max_overlap(boxes)[dj] <= cfg.embed_max_overlap
            for j, t in zip(dj[clean].tolist(), ti[clean].tolist(), strict=True):
                self._window[t].append(feats[j])
            self._window_changed[ti[clean]] = True

    def _reupdate(self, rows: np.ndarray, boxes: np.ndarray) -> None:
        """OC-SORT ORU: from the state saved at each track's last observation, step along a
        straight virtual path to its new observation ``boxes (K, 4)``, updating with the
        interpolated boxes. Batched: step k advances every track whose gap is at least k."""
        gaps = self.frame_id - self._last_frame[rows]
        mean, cov = self._saved_mean[rows], self._saved_cov[rows]
        start, end = xyxy_to_cxcywh(self._last_box[rows]), xyxy_to_cxcywh(boxes)
        for k in range(1, int(gaps.max()) + 1):
            on = gaps >= k
            m, c = self.kalman.predict(mean[on], cov[on])
            virtual = start[on] + (end[on] - start[on]) * (k / gaps[on])[:, None]
            mean[on], cov[on] = self.kalman.update(m, c, cxcywh_to_xyxy(virtual))
        self._mean[rows], self._cov[rows] = mean, cov

    def _observe_direction(self, rows: np.ndarray, boxes: np.ndarray) -> None:
        """Append the new centres to each track's history and refresh its motion direction from
        the oldest kept observation at most ``direction_delta`` frames back (OC-SORT)."""
        target = self.frame_id - self.config.direction_delta
        centres = ((boxes[:, :2] + boxes[:, 2:]) / 2).tolist()
        for t, (cx, cy) in zip(rows.tolist(), centres, strict=True):
            hist = self._history[t]
            past = None
            for f, px, py in hist:
                if f >= target:
                    past = (px, py)
                    break
            hist.append((self.frame_id, cx, cy))
            if past is not None:
                dx, dy = cx - past[0], cy - past[1]
                norm = math.hypot(dx, dy)
                if norm > 1e-6:
                    self._direction[t] = (dx / norm, dy / norm)

    @staticmethod
    def _max_overlap(boxes: np.ndarray) -> np.ndarray:
        """``(N,)`` each box's largest IoU with another box of the frame (occluded crops are noisy)."""
        if len(boxes) < 2:
            return np.zeros(len(boxes))
        iou = box_iou(boxes, boxes)
        np.fill_diagonal(iou, 0.0)
        return iou.max(axis=1)

    def _mark_unmatched(self, det_track: np.ndarray, matched: np.ndarray) -> None:
        """Unmatched confirmed tracks become lost; unmatched tentative tracks are dropped."""
        self._state[~matched & self._confirmed] = LOST
        self._keep(matched | self._confirmed, det_track)

    def _birth(self, births, boxes, conf, feats, det_track) -> None:
        if not len(births):
            return
        n, k = len(self._ids), len(births)
        mean, cov = self.kalman.initiate(boxes[births])
        new = {
            "ids": np.zeros(k, np.int64),
            "state": np.full(k, TENTATIVE, np.int8),
            "confirmed": np.zeros(k, bool),
            "hits": np.ones(k, np.int64),
            "start": np.full(k, self.frame_id, np.int64),
            "last_frame": np.full(k, self.frame_id, np.int64),
            "score": conf[births],
            "mean": mean,
            "cov": cov,
            "saved_mean": mean,
            "saved_cov": cov,
            "last_box": boxes[births],
            "direction": np.zeros((k, 2)),
            "window_changed": np.zeros(k, bool),
        }
        for name, arr in new.items():
            setattr(self, f"_{name}", np.concatenate([getattr(self, f"_{name}"), arr]))
        clean = (
            self._max_overlap(boxes)[births] <= self.config.embed_max_overlap
            if feats is not None
            else None
        )
        for r, j in enumerate(births.tolist()):
            x1, y1, x2, y2 = boxes[j].tolist()
            self._history.append(deque([(self.frame_id, (x1 + x2) / 2, (y1 + y2) / 2)], maxlen=8))
            window: deque[np.ndarray] = deque(maxlen=self.config.embedding_window)
            if clean is not None and clean[r]:
                window.append(feats[j])
                self._window_changed[n + r] = True
            self._window.append(window)
            self._embedding.append(None)
        det_track[births] = n + np.arange(k)

    def _confirm(self, det_track: np.ndarray) -> None:
        """Confirm tentative tracks with enough hits (at once on the first frame); a confirmed
        track whose tracklet embedding matches a lost track takes over that identity."""
        rows = det_track[det_track >= 0]
        ready = ~self._confirmed[rows] & (
            (self._hits[rows] >= self.config.min_hits) | (self.frame_id == 1)
        )
        gone = np.zeros(len(self._ids), dtype=bool)
        for t in rows[ready].tolist():
            self._confirmed[t] = True
            self._state[t] = TRACKED
            old = self._late_reid(t, gone)
            if old is None:
                self._ids[t] = self._next_id
                self._next_id += 1
            else:
                gone[old] = True
        self._keep(~gone, det_track)

    def _late_reid(self, t: int, gone: np.ndarray) -> int | None:
        """Row of the lost track whose identity track ``t`` takes over, or ``None``."""
        if not self._window[t]:
            return None
        has = np.array([e is not None for e in self._embedding], dtype=bool)
        lost = np.flatnonzero(self._confirmed & (self._state == LOST) & has & ~gone)
        if not len(lost):
            return None
        emb = self._tracklet_embeddings([t])[0]
        dist = cosine_distance(np.stack([self._embedding[i] for i in lost]), emb[None])[:, 0]
        best = int(np.argmin(dist))
        if dist[best] > self.config.reid_thresh:
            return None
        old = int(lost[best])
        self._ids[t], self._start[t] = self._ids[old], self._start[old]
        window = self._window[t]
        room = window.maxlen - len(window)
        earlier = list(self._window[old])[-room:] if room else []
        self._window[t] = deque(earlier + list(window), maxlen=window.maxlen)
        self._window_changed[t] = True
        return old

    def _tracklet_embeddings(self, rows: list[int]) -> np.ndarray:
        windows = [np.stack(list(self._window[i])) for i in rows]
        if self.embedder is not None:
            return self.embedder.embed_tracklets(windows)
        return self._pool.embed_tracklets(windows)

    def _refresh_embeddings(self) -> None:
        rows = [i for i in np.flatnonzero(self._window_changed).tolist() if self._window[i]]
        if not rows:
            return
        for i, e in zip(rows, self._tracklet_embeddings(rows), strict=True):
            self._embedding[i] = e
        self._window_changed[rows] = False
