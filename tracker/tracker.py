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

All state lives on the instance: ids start at 1 per tracker and ``reset()`` starts over.
"""

from __future__ import annotations

import math
from collections import deque
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


class Track:
    """One identity's state. Plain attributes; the tracker batches them for the maths."""

    __slots__ = (
        "track_id",
        "state",
        "confirmed",
        "mean",
        "cov",
        "hits",
        "start_frame",
        "last_frame",
        "last_box",
        "score",
        "history",
        "direction",
        "saved",
        "window",
        "embedding",
        "window_changed",
    )

    def __init__(
        self,
        mean: np.ndarray,
        cov: np.ndarray,
        box: np.ndarray,
        score: float,
        frame: int,
        window: int,
    ) -> None:
        self.track_id = 0  # assigned on confirmation
        self.state = TENTATIVE
        self.confirmed = False
        self.mean, self.cov = mean, cov
        self.hits = 1
        self.start_frame = self.last_frame = frame
        self.last_box = box.copy()
        self.score = score
        self.history: deque[tuple[int, tuple[float, float]]] = deque(maxlen=8)  # (frame, centre)
        self.history.append((frame, ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)))
        self.direction = np.zeros(2)
        self.saved = (mean.copy(), cov.copy())  # filter state right after the last observation
        self.window: deque[np.ndarray] = deque(maxlen=window)
        self.embedding: np.ndarray | None = None
        self.window_changed = False

    def __repr__(self) -> str:
        state = ("tentative", "tracked", "lost")[self.state]
        return f"Track(id={self.track_id}, {state}, last_frame={self.last_frame})"


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
        self.tracks: list[Track] = []
        self._next_id = 1
        self._cmc = CameraMotion(downscale=self.config.cmc_downscale) if self.config.cmc else None

    # ------------------------------------------------------------------ public API

    def update(self, detections: sv.Detections, frame: np.ndarray | None = None) -> sv.Detections:
        """Associate one frame's detections; returns the tracked ones with ``tracker_id`` set.

        Only confirmed tracks matched in this frame are returned, in input order, carrying the
        input boxes, confidences, class ids and data.
        """
        cfg = self.config
        self.frame_id += 1
        conf = self._confidence(detections)
        keep = np.flatnonzero(conf >= cfg.low_thresh)
        dets = detections[keep] if len(keep) < len(detections) else detections
        conf = conf[keep]
        boxes = np.array(dets.xyxy, dtype=np.float64).reshape(
            -1, 4
        )  # a copy: tracks keep views of it

        if self._cmc is not None and frame is not None:
            self._compensate_camera(frame, boxes)
        self._drop_expired()
        self._predict()
        feats, embs = self._appearance(dets, frame, boxes)

        high = np.flatnonzero(conf >= cfg.high_thresh)
        low = np.flatnonzero(conf < cfg.high_thresh)
        det_track = np.full(len(dets), -1, dtype=np.int64)  # index into self.tracks per detection
        pool = [
            i
            for i, t in enumerate(self.tracks)
            if t.confirmed and self.frame_id - t.last_frame - 1 <= cfg.max_time_lost
        ]

        # a. confirmed tracks x high detections: IoU + appearance + direction.
        pool_left, high_left = self._match_first(pool, high, boxes, conf, embs, det_track)
        # b. tracked (not lost) leftovers x low detections: IoU only.
        tracked_left = [i for i in pool_left if self.tracks[i].state == TRACKED]
        rest = set(
            self._match_iou(
                tracked_left, low, boxes, cfg.low_match_thresh, det_track, predicted=True
            )
        )
        tried = set(tracked_left)
        pool_left = [i for i in pool_left if i not in tried or i in rest]
        # c. OC-SORT observation recovery: last observed boxes x high leftovers.
        if cfg.observation_recovery and len(pool_left) and len(high_left):
            pool_left = self._match_iou(
                pool_left, high_left, boxes, cfg.recovery_match_thresh, det_track, predicted=False
            )
            high_left = high_left[det_track[high_left] < 0]
        # d. tentative tracks x high leftovers.
        tentative = [i for i, t in enumerate(self.tracks) if not t.confirmed]
        if tentative and len(high_left):
            self._match_tentative(tentative, high_left, boxes, embs, det_track)
            high_left = high_left[det_track[high_left] < 0]
        # e. re-identification of lost tracks by appearance.
        if embs is not None and len(high_left):
            self._match_reid(high_left, embs, det_track)
            high_left = high_left[det_track[high_left] < 0]

        self._apply_matches(det_track, boxes, conf, feats)
        self._mark_unmatched(det_track)
        births = high_left[conf[high_left] >= cfg.new_track_thresh]
        self._birth(births, boxes, conf, feats, det_track)
        self._confirm(det_track)
        self._refresh_embeddings()

        out_idx = np.flatnonzero(det_track >= 0)
        out_idx = (
            out_idx[[self.tracks[det_track[j]].confirmed for j in out_idx]]
            if len(out_idx)
            else out_idx
        )
        result = dets[out_idx] if len(out_idx) else dets[np.zeros(0, dtype=np.int64)]
        result.tracker_id = np.array(
            [self.tracks[det_track[j]].track_id for j in out_idx], dtype=np.int64
        )
        return result

    @property
    def active_tracks(self) -> list[Track]:
        """Confirmed tracks matched in the latest frame."""
        return [
            t
            for t in self.tracks
            if t.confirmed and t.state == TRACKED and t.last_frame == self.frame_id
        ]

    @property
    def ids_assigned(self) -> int:
        """How many distinct ids this tracker has handed out since the last reset."""
        return self._next_id - 1

    @property
    def lost_tracks(self) -> list[Track]:
        return [t for t in self.tracks if t.state == LOST]

    # ------------------------------------------------------------------ steps

    @staticmethod
    def _confidence(detections: sv.Detections) -> np.ndarray:
        if detections.confidence is None:
            return np.ones(len(detections))
        return np.asarray(detections.confidence, dtype=np.float64).reshape(-1)

    def _compensate_camera(self, frame: np.ndarray, boxes: np.ndarray) -> None:
        affine = self._cmc.estimate(frame, boxes)
        if not self.tracks or np.allclose(affine, np.eye(2, 3)):
            return
        means, covs = self.kalman.warp(
            np.stack([t.mean for t in self.tracks]), np.stack([t.cov for t in self.tracks]), affine
        )
        saved_means, saved_covs = self.kalman.warp(
            np.stack([t.saved[0] for t in self.tracks]),
            np.stack([t.saved[1] for t in self.tracks]),
            affine,
        )
        lin, shift = affine[:, :2], affine[:, 2]
        for t, m, c, sm, sc in zip(self.tracks, means, covs, saved_means, saved_covs, strict=True):
            t.mean, t.cov, t.saved = m, c, (sm, sc)
            centre = lin @ ((t.last_box[:2] + t.last_box[2:]) / 2) + shift
            size = (t.last_box[2:] - t.last_box[:2]) * np.sqrt(abs(np.linalg.det(lin)))
            t.last_box = cxcywh_to_xyxy(np.concatenate([centre, size]))[0]
            t.history = deque(
                ((f, tuple(lin @ np.asarray(c) + shift)) for f, c in t.history),
                maxlen=t.history.maxlen,
            )

    def _drop_expired(self) -> None:
        cfg = self.config
        keep = []
        for t in self.tracks:
            gap = self.frame_id - t.last_frame - 1
            limit = (
                max(cfg.max_time_lost, cfg.reid_buffer)
                if t.embedding is not None
                else cfg.max_time_lost
            )
            if t.state != LOST or gap <= limit:
                keep.append(t)
        self.tracks = keep

    def _predict(self) -> None:
        """Batched Kalman predict; caches the predicted boxes ``(len(tracks), 4)`` for matching."""
        if not self.tracks:
            self._pred_xyxy = np.zeros((0, 4))
            return
        means = np.stack([t.mean for t in self.tracks])
        covs = np.stack([t.cov for t in self.tracks])
        lost = np.array([t.state == LOST for t in self.tracks])
        means[lost, 7] = 0.0  # a lost box keeps drifting but stops growing or shrinking
        means, covs = self.kalman.predict(means, covs)
        for t, m, c in zip(self.tracks, means, covs, strict=True):
            t.mean, t.cov = m, c
        self._pred_xyxy = state_to_xyxy(means)

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

    def _track_embeddings(self, idx: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(K, E)`` embeddings of tracks ``idx`` and a ``(K,)`` mask of those that have one."""
        has = np.array([self.tracks[i].embedding is not None for i in idx], dtype=bool)
        if not has.any():
            return np.zeros((len(idx), 0), np.float32), has
        dim = next(
            self.tracks[i].embedding for i in idx if self.tracks[i].embedding is not None
        ).shape[0]
        out = np.zeros((len(idx), dim), np.float32)
        for k, i in enumerate(idx):
            if has[k]:
                out[k] = self.tracks[i].embedding
        return out, has

    def _appearance_cost(
        self, idx: list[int], det_idx: np.ndarray, embs: np.ndarray | None
    ) -> np.ndarray | None:
        """Cosine distances ``(K, M)``; NaN rows for tracks without an embedding yet."""
        if embs is None or self.config.appearance_weight == 0:
            return None
        temb, has = self._track_embeddings(idx)
        if not has.any() or temb.shape[1] != embs.shape[1]:
            return None
        dist = cosine_distance(temb, embs[det_idx])
        dist[~has] = np.nan  # no appearance evidence: fuse_cost falls back to motion alone
        return dist

    def _match_first(
        self,
        pool: list[int],
        high: np.ndarray,
        boxes: np.ndarray,
        conf: np.ndarray,
        embs: np.ndarray | None,
        det_track: np.ndarray,
    ) -> tuple[list[int], np.ndarray]:
        cfg = self.config
        if not pool or not len(high):
            return pool, high
        pred = self._pred_xyxy[pool]
        iou = box_iou(pred, boxes[high])
        cost = fuse_cost(
            iou,
            self._appearance_cost(pool, high, embs),
            appearance_weight=cfg.appearance_weight,
            min_iou=cfg.min_iou,
            appearance_gate=cfg.appearance_gate,
        )
        if cfg.direction_weight > 0:
            dirs = np.stack([self.tracks[i].direction for i in pool])
            last = np.stack(
                [(self.tracks[i].last_box[:2] + self.tracks[i].last_box[2:]) / 2 for i in pool]
            )
            centres = (boxes[high, :2] + boxes[high, 2:]) / 2
            cost = (
                cost
                + cfg.direction_weight * direction_cost(dirs, last, centres) * conf[high][None, :]
            )
        matches, um_rows, _ = linear_assignment(cost, cfg.match_thresh)
        for r, c in matches:
            det_track[high[c]] = pool[r]
        return [pool[r] for r in um_rows], high[det_track[high] < 0]

    def _match_iou(
        self,
        tracks: list[int],
        det_idx: np.ndarray,
        boxes: np.ndarray,
        max_cost: float,
        det_track: np.ndarray,
        *,
        predicted: bool,
    ) -> list[int]:
        """IoU-only matching against predicted or last observed boxes; returns unmatched tracks."""
        if not tracks or not len(det_idx):
            return tracks
        if predicted:
            tboxes = self._pred_xyxy[tracks]
        else:
            tboxes = np.stack([self.tracks[i].last_box for i in tracks])
        iou = box_iou(tboxes, boxes[det_idx])
        cost = np.where(iou < self.config.min_iou, np.inf, 1.0 - iou)
        matches, um_rows, _ = linear_assignment(cost, max_cost)
        for r, c in matches:
            det_track[det_idx[c]] = tracks[r]
        return [tracks[r] for r in um_rows]

    def _match_tentative(
        self,
        tentative: list[int],
        det_idx: np.ndarray,
        boxes: np.ndarray,
        embs: np.ndarray | None,
        det_track: np.ndarray,
    ) -> None:
        cfg = self.config
        pred = self._pred_xyxy[tentative]
        cost = fuse_cost(
            box_iou(pred, boxes[det_idx]),
            self._appearance_cost(tentative, det_idx, embs),
            appearance_weight=cfg.appearance_weight,
            min_iou=cfg.min_iou,
            appearance_gate=cfg.appearance_gate,
        )
        matches, _, _ = linear_assignment(cost, cfg.tentative_match_thresh)
        for r, c in matches:
            det_track[det_idx[c]] = tentative[r]

    def _match_reid(self, det_idx: np.ndarray, embs: np.ndarray, det_track: np.ndarray) -> None:
        matched = set(det_track[det_track >= 0].tolist())
        lost = [
            i
            for i, t in enumerate(self.tracks)
            if t.confirmed and t.state == LOST and t.embedding is not None and i not in matched
        ]
        if not lost:
            return
        temb, _ = self._track_embeddings(lost)
        if temb.shape[1] != embs.shape[1]:
            return
        cost = cosine_distance(temb, embs[det_idx])
        matches, _, _ = linear_assignment(cost, self.config.reid_thresh)
        for r, c in matches:
            det_track[det_idx[c]] = lost[r]

    def _apply_matches(
        self, det_track: np.ndarray, boxes: np.ndarray, conf: np.ndarray, feats: np.ndarray | None
    ) -> None:
        cfg = self.config
        det_idx = np.flatnonzero(det_track >= 0)
        if not len(det_idx):
            return
        gap_free, after_gap = [], []
        for j in det_idx:
            t = self.tracks[det_track[j]]
            gap = self.frame_id - t.last_frame
            if t.state == LOST and gap - 1 > cfg.max_time_lost:
                # Re-identified after the motion buffer: the old velocity means nothing now.
                t.mean, t.cov = (a[0] for a in self.kalman.initiate(boxes[j][None]))
            elif gap > 1 and cfg.reupdate_after_gap:
                after_gap.append(j)
            else:
                gap_free.append(j)
        if gap_free:
            tr = [self.tracks[det_track[j]] for j in gap_free]
            means, covs = self.kalman.update(
                np.stack([t.mean for t in tr]), np.stack([t.cov for t in tr]), boxes[gap_free]
            )
            for t, m, c in zip(tr, means, covs, strict=True):
                t.mean, t.cov = m, c
        if after_gap:
            self._reupdate([self.tracks[det_track[j]] for j in after_gap], boxes[after_gap])
        overlap = self._max_overlap(boxes) if feats is not None else None
        for j in det_idx:
            t = self.tracks[det_track[j]]
            t.state = TRACKED
            t.hits += 1
            t.last_frame = self.frame_id
            t.last_box = boxes[j]
            t.score = float(conf[j])
            t.saved = (t.mean, t.cov)  # filter arrays are never modified in place
            self._observe_direction(t, boxes[j])
            if feats is not None and overlap[j] <= cfg.embed_max_overlap:
                t.window.append(feats[j])
                t.window_changed = True

    def _reupdate(self, tracks: list[Track], boxes: np.ndarray) -> None:
        """OC-SORT ORU: from the state saved at each track's last observation, step along a
        straight virtual path to its new observation ``boxes (K, 4)``, updating with the
        interpolated boxes. Batched: step k advances every track whose gap is at least k."""
        gaps = np.array([self.frame_id - t.last_frame for t in tracks])
        mean = np.stack([t.saved[0] for t in tracks])
        cov = np.stack([t.saved[1] for t in tracks])
        start = xyxy_to_cxcywh(np.stack([t.last_box for t in tracks]))
        end = xyxy_to_cxcywh(boxes)
        for k in range(1, int(gaps.max()) + 1):
            on = gaps >= k
            m, c = self.kalman.predict(mean[on], cov[on])
            virtual = start[on] + (end[on] - start[on]) * (k / gaps[on])[:, None]
            mean[on], cov[on] = self.kalman.update(m, c, cxcywh_to_xyxy(virtual))
        for t, m, c in zip(tracks, mean, cov, strict=True):
            t.mean, t.cov = m, c

    def _observe_direction(self, t: Track, box: np.ndarray) -> None:
        x1, y1, x2, y2 = box.tolist()
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        target = self.frame_id - self.config.direction_delta
        # The oldest kept observation at or after `target` (OC-SORT's k-previous observation).
        past = None
        for f, c in t.history:
            if f >= target:
                past = c
                break
        t.history.append((self.frame_id, (cx, cy)))
        if past is None:
            return
        dx, dy = cx - past[0], cy - past[1]
        norm = math.hypot(dx, dy)
        if norm > 1e-6:
            t.direction = np.array([dx / norm, dy / norm])

    @staticmethod
    def _max_overlap(boxes: np.ndarray) -> np.ndarray:
        """``(N,)`` each box's largest IoU with another box of the frame (occluded crops are noisy)."""
        if len(boxes) < 2:
            return np.zeros(len(boxes))
        iou = box_iou(boxes, boxes)
        np.fill_diagonal(iou, 0.0)
        return iou.max(axis=1)

    def _mark_unmatched(self, det_track: np.ndarray) -> None:
        matched = set(det_track[det_track >= 0].tolist())
        keep = []
        for i, t in enumerate(self.tracks):
            if i in matched:
                keep.append(t)
            elif t.confirmed:
                t.state = LOST
                keep.append(t)
            # an unmatched tentative track is dropped
        if len(keep) != len(self.tracks):
            remap = {id(t): k for k, t in enumerate(keep)}
            old = self.tracks
            for j in np.flatnonzero(det_track >= 0):
                det_track[j] = remap[id(old[det_track[j]])]
            self.tracks = keep

    def _birth(
        self,
        births: np.ndarray,
        boxes: np.ndarray,
        conf: np.ndarray,
        feats: np.ndarray | None,
        det_track: np.ndarray,
    ) -> None:
        if not len(births):
            return
        means, covs = self.kalman.initiate(boxes[births])
        overlap = self._max_overlap(boxes) if feats is not None else None
        for k, j in enumerate(births):
            t = Track(
                means[k],
                covs[k],
                boxes[j],
                float(conf[j]),
                self.frame_id,
                self.config.embedding_window,
            )
            if feats is not None and overlap[j] <= self.config.embed_max_overlap:
                t.window.append(feats[j])
                t.window_changed = True
            det_track[j] = len(self.tracks)
            self.tracks.append(t)

    def _confirm(self, det_track: np.ndarray) -> None:
        """Confirm tentative tracks with enough hits (at once on the first frame)."""
        cfg = self.config
        for j in np.flatnonzero(det_track >= 0):
            t = self.tracks[det_track[j]]
            if t.confirmed or (t.hits < cfg.min_hits and self.frame_id > 1):
                continue
            t.confirmed = True
            t.state = TRACKED
            revived = self._late_reid(t, det_track)
            if revived is None:
                t.track_id = self._next_id
                self._next_id += 1

    def _late_reid(self, t: Track, det_track: np.ndarray) -> Track | None:
        """At confirmation, compare the new track's tracklet embedding with the lost tracks';
        on a match the new track takes over the lost identity (one id per person)."""
        if not t.window:
            return None
        lost = [
            u for u in self.tracks if u.confirmed and u.state == LOST and u.embedding is not None
        ]
        if not lost:
            return None
        emb = self._tracklet_embeddings([t])[0]
        dist = cosine_distance(np.stack([u.embedding for u in lost]), emb[None])[:, 0]
        best = int(np.argmin(dist))
        if dist[best] > self.config.reid_thresh:
            return None
        old = lost[best]
        t.track_id = old.track_id
        t.start_frame = old.start_frame
        merged = (
            list(old.window)[-(t.window.maxlen - len(t.window)) :]
            if len(t.window) < t.window.maxlen
            else []
        )
        t.window = deque(merged + list(t.window), maxlen=t.window.maxlen)
        t.window_changed = True
        old_index = self.tracks.index(old)
        self.tracks.pop(old_index)
        det_track[det_track > old_index] -= 1
        return old

    def _tracklet_embeddings(self, tracks: list[Track]) -> np.ndarray:
        windows = [np.stack(list(t.window)) for t in tracks]
        if self.embedder is not None:
            return self.embedder.embed_tracklets(windows)
        return self._pool.embed_tracklets(windows)

    def _refresh_embeddings(self) -> None:
        changed = [t for t in self.tracks if t.window_changed and t.window]
        if not changed:
            return
        for t, e in zip(changed, self._tracklet_embeddings(changed), strict=True):
            t.embedding = e
            t.window_changed = False
