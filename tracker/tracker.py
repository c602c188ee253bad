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
   e. re-identification: lost tracks still in the ``reid_buffer`` (``reid_exit_buffer`` for
      those lost at the image border) x remaining high detections, by appearance, so a player
      who left and came back keeps the id;
5. matched tracks are corrected (after a gap, OC-SORT's observation-centric re-update along a
   virtual path); unmatched ones become lost; new tracks are born from confident leftovers and
   confirmed after ``min_hits`` consecutive matches, at which point their tracklet embedding is
   compared to the lost tracks once more (a late re-identification);
6. tracklet embeddings of tracks whose window changed are recomputed in one batched call.

Appearance never hurts (:mod:`tracker.appearance_guard`): every appearance-driven association
passes a reachability gate; appearance is calibrated on this video (own detections against
nearby rivals) and counts only as far as it separates them (the trust); re-identification needs
strong calibrated evidence and a margin over every other known person.

Frame-count knobs are given at 30 fps and scaled to the video's ``frame_rate`` (as ByteTrack
does). When a track is confirmed, :attr:`Tracker.backfill` holds its tentative frames with the
new id, so file outputs (which can wait a few frames) keep them; ``update()`` cannot go back.

Track state is a structure of arrays (:class:`tracker.tracks.TrackTable`: one row per track),
so every step is a few numpy operations over all tracks. All state lives on the instance: ids start at 1
per tracker and ``reset()`` starts over.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import supervision as sv

from cgclip.errors import UserError
from tracker.appearance_guard import (
    AgedEmbeddings,
    AppearanceCalibration,
    at_border,
    clean_crops,
)
from tracker.cmc import CameraMotion
from tracker.config import TrackerConfig, load_preset
from tracker.embedding import (
    EMBEDDING_KEY,
    Embedder,
    MeanPoolEmbedder,
    build_embedder,
    l2_normalize,
)
from tracker.kalman import KalmanBoxFilter, cxcywh_to_xyxy, state_to_xyxy, xyxy_to_cxcywh
from tracker.matching import box_iou, max_overlap
from tracker.stages import MatchingStages
from tracker.tracks import LOST, TRACKED, TrackInfo, TrackTable

# Boxes overlapping less than this are "apart" when deciding whether motion is unambiguous.
NEAR_IOU = 0.15
REFERENCE_FPS = 30.0  # frame-count knobs are given at this rate


class Tracker(MatchingStages):
    """Multi-object tracker for people: Kalman + ByteTrack stages + OC-SORT + appearance re-ID.

    ``embedder`` computes appearance from frames; leave it ``None`` for motion only (embeddings
    passed in ``detections.data["embedding"]`` are still used, with mean pooling over the window).
    ``image_size`` ``(width, height)`` tells a track that walked out of view from one hidden
    inside it (``reid_exit_buffer``); without it the first frame passed to ``update`` gives it.
    """

    def __init__(
        self,
        config: TrackerConfig | None = None,
        *,
        embedder: Embedder | None = None,
        frame_rate: float = REFERENCE_FPS,
        image_size: tuple[int, int] | None = None,
    ) -> None:
        self.config = config or TrackerConfig()
        self.embedder = embedder
        if not (
            isinstance(frame_rate, (int, float)) and math.isfinite(frame_rate) and frame_rate > 0
        ):
            raise UserError(
                f"frame_rate must be a positive number of frames per second, got {frame_rate!r}"
            )
        self.frame_rate = float(frame_rate)
        scale = self.frame_rate / REFERENCE_FPS
        self.max_time_lost = int(round(self.config.max_time_lost * scale))  # frames at this rate
        self.reid_buffer = int(round(self.config.reid_buffer * scale))
        exit_buffer = self.config.reid_exit_buffer
        self.reid_exit_buffer = None if exit_buffer is None else int(round(exit_buffer * scale))
        # (width, height): given, or taken from the first frame; tells exits from occlusions
        self._given_size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
        self.kalman = KalmanBoxFilter(
            self.config.std_position, self.config.std_velocity, self.config.confidence_noise
        )
        self._pool = MeanPoolEmbedder()
        self.reset()

    @classmethod
    def from_preset(
        cls,
        name: str = "default",
        *,
        reid: str | Embedder | None = None,
        device: str = "auto",
        frame_rate: float = REFERENCE_FPS,
        image_size: tuple[int, int] | None = None,
        **overrides: Any,
    ) -> Tracker:
        """A tracker with a named preset; ``reid`` is an :class:`Embedder`, ``"none"`` or a ``--reid`` value."""
        embedder = (
            reid
            if reid is None or isinstance(reid, Embedder)
            else build_embedder(reid, device=device)
        )
        return cls(
            load_preset(name, **overrides),
            embedder=embedder,
            frame_rate=frame_rate,
            image_size=image_size,
        )

    def reset(self) -> None:
        """Forget every track and restart ids at 1 (use between videos)."""
        self.frame_id = 0
        self.image_size = self._given_size
        self._next_id = 1
        self.table = TrackTable(window=self.config.embedding_window)
        self.embeds_skipped = 0  # detections the encoder skipped (embed_skip_iou)
        self._pred_xyxy = np.zeros((0, 4))
        self._overlaps: np.ndarray | None = None
        self._cmc = CameraMotion(downscale=self.config.cmc_downscale) if self.config.cmc else None
        self._calibration, self._reid_calibration = AppearanceCalibration.pair(self.config)
        self._aged = AgedEmbeddings()
        self.backfill: list[tuple[int, sv.Detections]] = []

    # ------------------------------------------------------------------ public API

    def update(self, detections: sv.Detections, frame: np.ndarray | None = None) -> sv.Detections:
        """Associate one frame's detections; returns the tracked ones with ``tracker_id`` set.

        Only confirmed tracks matched in this frame are returned, in input order, carrying the
        input boxes (or the filtered ones with ``output_box="kalman"``), confidences, class ids
        and data.
        """
        cfg = self.config
        self.frame_id += 1
        self.backfill = []
        if self.image_size is None and frame is not None and np.ndim(frame) >= 2:
            self.image_size = (int(frame.shape[1]), int(frame.shape[0]))
        conf = self._confidence(detections)
        wanted = conf >= cfg.low_thresh
        if cfg.classes is not None and detections.class_id is not None:
            wanted &= np.isin(detections.class_id, cfg.classes)  # e.g. people out of all COCO
        keep = np.flatnonzero(wanted)
        dets = detections[keep] if len(keep) < len(detections) else detections
        conf = conf[keep]
        boxes = np.array(dets.xyxy, dtype=np.float64).reshape(-1, 4)
        self._overlaps = None  # max_overlap(boxes), computed once if appearance needs it

        if self._cmc is not None and frame is not None:
            self._compensate_camera(frame, boxes)
        self._drop_expired()
        self._predict()
        feats, embs = self._appearance(dets, frame, boxes)

        high = np.flatnonzero(conf >= cfg.high_thresh)
        low = np.flatnonzero(conf < cfg.high_thresh)
        det_track = np.full(len(dets), -1, dtype=np.int64)  # track row per detection
        matched = np.zeros(len(self.table), dtype=bool)  # per track row
        gap = self.frame_id - self.table.last_frame - 1  # frames missed before this one
        pool = np.flatnonzero(self.table.confirmed & (gap <= self.max_time_lost))

        # a. confirmed tracks x high detections: IoU + appearance + direction.
        self._match_first(pool, high, boxes, conf, embs, det_track, matched)
        self._observe_calibration(high, boxes, embs, det_track)
        high_left = high[det_track[high] < 0]
        # b. tracked (not lost) leftovers x low detections: IoU only.
        left = pool[~matched[pool]]
        tracked_left = left[self.table.state[left] == TRACKED]
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
        tentative = np.flatnonzero(~self.table.confirmed)
        if len(tentative) and len(high_left):
            self._match_tentative(tentative, high_left, boxes, embs, det_track, matched)
            high_left = high_left[det_track[high_left] < 0]
        # e. re-identification of lost tracks by appearance.
        if embs is not None and len(high_left):
            self._match_reid(high_left, embs, boxes, det_track, matched)
            high_left = high_left[det_track[high_left] < 0]

        self._apply_matches(det_track, boxes, conf, feats)
        self._mark_unmatched(det_track, matched)
        self._birth(
            high_left[conf[high_left] >= cfg.new_track_thresh], boxes, conf, feats, det_track
        )
        self._confirm(det_track)
        self._hold_tentative(dets, det_track)
        self._refresh_embeddings()

        out_idx = np.flatnonzero(det_track >= 0)
        out_idx = out_idx[self.table.confirmed[det_track[out_idx]]]
        result = dets[out_idx]
        rows = det_track[out_idx]
        result.tracker_id = self.table.ids[rows].astype(np.int64)
        if cfg.output_box == "kalman" and len(rows):
            result.xyxy = state_to_xyxy(self.table.mean[rows]).astype(result.xyxy.dtype)
        return result

    @property
    def tracks(self) -> list[TrackInfo]:
        """Snapshots of every track the tracker holds (tentative, tracked and lost)."""
        return self.table.snapshot()

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

    @property
    def backfill_horizon(self) -> int:
        """How many frames back :attr:`backfill` can reach: a tentative track is dropped at its
        first miss, so it is confirmed at most ``min_hits - 1`` frames after its first box. A
        file sink that holds this many frames before writing can put backfilled boxes in order."""
        return max(self.config.min_hits - 1, 0)

    # ------------------------------------------------------------------ bookkeeping

    @staticmethod
    def _confidence(detections: sv.Detections) -> np.ndarray:
        if detections.confidence is None:
            return np.ones(len(detections))
        return np.asarray(detections.confidence, dtype=np.float64).reshape(-1)

    def _compensate_camera(self, frame: np.ndarray, boxes: np.ndarray) -> None:
        affine = self._cmc.estimate(frame, boxes)
        if len(self.table) and not np.allclose(affine, np.eye(2, 3)):
            self.table.warp(affine, self.kalman)

    def _drop_expired(self) -> None:
        if not len(self.table):
            return
        gap = self.frame_id - self.table.last_frame - 1
        limit = np.where(
            self.table.has_embedding(),
            max(self.max_time_lost, self.reid_buffer),
            self.max_time_lost,
        )
        if self.reid_exit_buffer is not None and self.image_size is not None:
            exited = at_border(self.table.last_box, self.image_size)
            limit[exited] = np.minimum(
                limit[exited], max(self.max_time_lost, self.reid_exit_buffer)
            )
        self.table.keep((self.table.state != LOST) | (gap <= limit))

    def _predict(self) -> None:
        """Batched Kalman predict; caches the predicted boxes ``(n_tracks, 4)`` for matching."""
        mean = self.table.mean
        lost = self.table.state == LOST
        if lost.any():  # a lost box keeps drifting but stops growing or shrinking
            mean = mean.copy()
            mean[lost, 7] = 0.0
        self.table.mean, self.table.cov = self.kalman.predict(mean, self.table.cov)
        self._pred_xyxy = state_to_xyxy(self.table.mean)

    def _appearance(
        self, dets: sv.Detections, frame: np.ndarray | None, boxes: np.ndarray
    ) -> tuple[np.ndarray | list | None, np.ndarray | None]:
        """Per-frame features for windows and embeddings ``(N, E)``, or ``(None, None)``.

        Embeddings that arrive with the detections are used as they are. Otherwise the embedder
        runs once over the detections that need appearance; skipped ones (``embed_skip_iou``) get
        a NaN embedding (matched on motion) and no window feature (``None``).
        """
        if len(dets) == 0:
            return None, None
        if EMBEDDING_KEY in dets.data:
            embs = l2_normalize(
                np.asarray(dets.data[EMBEDDING_KEY], dtype=np.float32).reshape(len(dets), -1)
            )
            return embs, embs
        if self.embedder is None or frame is None:
            return None, None
        need = self._needs_embedding(boxes)
        if need.all():
            ff = self.embedder.embed_frame(frame, boxes)
            return ff.features, ff.embeddings
        self.embeds_skipped += int((~need).sum())
        if not need.any():
            return [None] * len(boxes), None
        idx = np.flatnonzero(need)
        ff = self.embedder.embed_frame(frame, boxes[idx])
        embs = np.full((len(boxes), ff.embeddings.shape[1]), np.nan, np.float32)
        embs[idx] = ff.embeddings
        feats: list[np.ndarray | None] = [None] * len(boxes)
        for k, j in enumerate(idx.tolist()):
            feats[j] = ff.features[k]
        return feats, embs

    def _needs_embedding(self, boxes: np.ndarray) -> np.ndarray:
        """``(N,)`` bool: detections whose appearance may matter this frame.

        A detection can skip the encoder when exactly one track (of any state) overlaps it, with
        IoU >= ``embed_skip_iou``, that track overlaps no other detection, and the track's window
        got a crop less than ``embed_refresh`` frames ago. Births, re-entries, crossings and
        crowds therefore always get embeddings.
        """
        cfg = self.config
        need = np.ones(len(boxes), dtype=bool)
        if cfg.embed_skip_iou <= 0 or not len(self.table) or not len(boxes):
            return need
        gap = self.frame_id - self.table.last_frame - 1
        iou = box_iou(self._pred_xyxy, boxes)  # (T, N)
        iou[gap > self.max_time_lost] = 0.0  # long-lost tracks only compete through re-id
        touch = iou > NEAR_IOU
        lone = (touch.sum(axis=0) == 1) & (self._overlap(boxes) <= NEAR_IOU)  # one track, apart
        track = iou.argmax(axis=0)  # the only overlapping track, where lone
        fresh = self.frame_id - self.table.window_frame[track] < cfg.embed_refresh
        exclusive = touch.sum(axis=1)[track] == 1  # that track overlaps only this detection
        confident = iou[track, np.arange(len(boxes))] >= cfg.embed_skip_iou
        need[lone & fresh & exclusive & confident & self.table.confirmed[track]] = False
        return need

    def _overlap(self, boxes: np.ndarray) -> np.ndarray:
        """``(N,)`` each detection's largest IoU with another one this frame (cached)."""
        if self._overlaps is None:
            self._overlaps = max_overlap(boxes)
        return self._overlaps

    # ------------------------------------------------------------------ state changes

    def _apply_matches(self, det_track, boxes, conf, feats) -> None:
        cfg = self.config
        dj = np.flatnonzero(det_track >= 0)
        if not len(dj):
            return
        ti = det_track[dj]  # unique: every stage only offers unmatched tracks
        gap = self.frame_id - self.table.last_frame[ti]
        long_lost = (self.table.state[ti] == LOST) & (gap - 1 > self.max_time_lost)
        oru = ~long_lost & (gap > 1) & cfg.reupdate_after_gap
        plain = ~long_lost & ~oru
        if plain.any():
            t = ti[plain]
            self.table.mean[t], self.table.cov[t] = self.kalman.update(
                self.table.mean[t], self.table.cov[t], boxes[dj[plain]], conf[dj[plain]]
            )
        if long_lost.any():  # re-identified after the motion buffer: the old velocity means nothing
            t = ti[long_lost]
            self.table.mean[t], self.table.cov[t] = self.kalman.initiate(boxes[dj[long_lost]])
        if oru.any():
            self._reupdate(ti[oru], boxes[dj[oru]])
        if cfg.direction_weight > 0:
            self.table.observe_direction(ti, boxes[dj], self.frame_id, cfg.direction_delta)
        self.table.state[ti] = TRACKED
        self.table.hits[ti] += 1
        self.table.last_frame[ti] = self.frame_id
        self.table.last_box[ti] = boxes[dj]
        self.table.score[ti] = conf[dj]
        self.table.saved_mean[ti] = self.table.mean[ti]
        self.table.saved_cov[ti] = self.table.cov[ti]
        if feats is not None:
            clean = clean_crops(boxes[dj], self._overlap(boxes)[dj], cfg.embed_max_overlap)
            added = []
            for j, t in zip(dj[clean].tolist(), ti[clean].tolist(), strict=True):
                if feats[j] is not None:
                    self.table.window[t].append(feats[j])
                    added.append(t)
            self.table.window_changed[added] = True
            self.table.window_frame[added] = self.frame_id

    def _reupdate(self, rows: np.ndarray, boxes: np.ndarray) -> None:
        """OC-SORT ORU: from the state saved at each track's last observation, step along a
        straight virtual path to its new observation ``boxes (K, 4)``, updating with the
        interpolated boxes. Batched: step k advances every track whose gap is at least k."""
        gaps = self.frame_id - self.table.last_frame[rows]
        mean, cov = self.table.saved_mean[rows], self.table.saved_cov[rows]
        start, end = xyxy_to_cxcywh(self.table.last_box[rows]), xyxy_to_cxcywh(boxes)
        for k in range(1, int(gaps.max()) + 1):
            on = gaps >= k
            m, c = self.kalman.predict(mean[on], cov[on])
            virtual = start[on] + (end[on] - start[on]) * (k / gaps[on])[:, None]
            mean[on], cov[on] = self.kalman.update(m, c, cxcywh_to_xyxy(virtual))
        self.table.mean[rows], self.table.cov[rows] = mean, cov

    def _mark_unmatched(self, det_track: np.ndarray, matched: np.ndarray) -> None:
        """Unmatched confirmed tracks become lost; unmatched tentative tracks are dropped."""
        self.table.state[~matched & self.table.confirmed] = LOST
        self.table.keep(matched | self.table.confirmed, det_track)

    def _birth(self, births, boxes, conf, feats, det_track) -> None:
        if not len(births):
            return
        mean, cov = self.kalman.initiate(boxes[births])
        firsts = [None] * len(births)
        if feats is not None:
            clean = clean_crops(
                boxes[births], self._overlap(boxes)[births], self.config.embed_max_overlap
            )
            firsts = [
                feats[j] if ok else None for j, ok in zip(births.tolist(), clean, strict=True)
            ]
        det_track[births] = self.table.append(
            boxes[births], conf[births], self.frame_id, mean, cov, firsts
        )

    def _confirm(self, det_track: np.ndarray) -> None:
        """Confirm tentative tracks with enough hits (at once on the first frame); a confirmed
        track whose tracklet embedding matches a lost track takes over that identity."""
        rows = det_track[det_track >= 0]
        ready = ~self.table.confirmed[rows] & (
            (self.table.hits[rows] >= self.config.min_hits) | (self.frame_id == 1)
        )
        gone = np.zeros(len(self.table), dtype=bool)
        for t in rows[ready].tolist():
            self.table.confirmed[t] = True
            self.table.state[t] = TRACKED
            old = self._late_reid(t, gone)
            if old is None:
                self.table.ids[t] = self._next_id
                self._next_id += 1
            else:
                gone[old] = True
        self.table.keep(~gone, det_track)

    def _hold_tentative(self, dets: sv.Detections, det_track: np.ndarray) -> None:
        """Keep each tentative track's detections; a track confirmed this frame hands them to
        :attr:`backfill` under its id, grouped by frame (one ``sv.Detections`` per frame)."""
        by_frame: dict[int, list[sv.Detections]] = {}
        dj = np.flatnonzero(det_track >= 0)
        for j, t in zip(dj.tolist(), det_track[dj].tolist(), strict=True):
            pending = self.table.pending[t]
            if not self.table.confirmed[t]:
                pending.append((self.frame_id, dets[[j]]))
                continue
            for fid, det in pending:
                det.tracker_id = np.array([self.table.ids[t]], dtype=np.int64)
                by_frame.setdefault(fid, []).append(det)
            pending.clear()
        self.backfill = [(f, sv.Detections.merge(by_frame[f])) for f in sorted(by_frame)]

    def _tracklet_embeddings(self, rows: list[int]) -> np.ndarray:
        windows = [self.table.window[i] for i in rows]  # the embedder stacks (embed stage)
        if self.embedder is not None:
            return self.embedder.embed_tracklets(windows)
        return self._pool.embed_tracklets(windows)

    def _refresh_embeddings(self) -> None:
        rows = [
            i for i in np.flatnonzero(self.table.window_changed).tolist() if self.table.window[i]
        ]
        if not rows:
            return
        self.table.set_embeddings(rows, self._tracklet_embeddings(rows))
        self.table.window_changed[rows] = False
