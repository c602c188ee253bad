"""The matching stages of :class:`tracker.tracker.Tracker`: cost matrices and gated Hungarian
assignments, one method per stage (the order they run in is in ``Tracker.update``).

``MatchingStages`` is a mixin: it reads the tracker's ``config``, ``table`` (the
:class:`~tracker.tracks.TrackTable`), ``_pred_xyxy`` (this frame's predicted boxes), ``frame_id``,
``frame_rate`` and ``_calibration``, and writes only ``det_track`` / ``matched``, the per-frame
assignment arrays it is handed; the late re-identification at confirmation (``_late_reid``,
which also asks the tracker for a tracklet embedding) hands a lost track's identity to a new
one. Every appearance-driven stage goes through the guards of :mod:`tracker.appearance_guard`.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from tracker.appearance_guard import CONFIDENT_IOU, RIVAL_HEIGHTS, margin_gated, reachable
from tracker.matching import (
    assign_pairs,
    cosine_distance,
    cosine_pairs,
    direction_pairs,
    fuse_cost,
    iou_pairs,
    linear_assignment,
    near_pairs,
    paired_iou,
)
from tracker.tracks import LOST


class MatchingStages:
    """Matching stages over the tracker's state (see the module docstring)."""

    def _appearance_cost(
        self, rows: np.ndarray, det_idx: np.ndarray, embs: np.ndarray | None, pr, pc
    ) -> np.ndarray | None:
        """Cosine distances of the candidate pairs ``(rows[pr], det_idx[pc])``; NaN for tracks
        without an embedding yet."""
        if embs is None or self.config.appearance_weight == 0:
            return None
        temb, has = self.table.embeddings(rows)
        if not has.any() or temb.shape[1] != embs.shape[1]:
            return None
        dist = cosine_pairs(temb, embs[det_idx], pr, pc)
        dist[~has[pr]] = np.nan  # no appearance evidence: fuse_cost falls back to motion alone
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

    @property
    def trust(self) -> float:
        """How far appearance is trusted on this video so far, in [0, 1] (1 without
        ``appearance_trust``; see :mod:`tracker.appearance_guard`)."""
        return self._calibration.trust

    @property
    def separability(self) -> float:
        """AUC of own against rival distances across one frame (the fused stages' calibration)."""
        return self._calibration.separability

    @property
    def reid_trust(self) -> float:
        """Trust in appearance across a gap of ``reid_calibration_gap`` seconds, in [0, 1]: what
        re-identification is allowed (1 without ``appearance_trust``)."""
        return self._reid_calibration.trust

    @property
    def reid_separability(self) -> float:
        """AUC of own against rival distances across a gap (re-identification's calibration)."""
        return self._reid_calibration.separability

    def _observe_calibration(self, high, boxes, embs, det_track) -> None:
        """This frame's motion-confident first-stage matches as calibration samples: the
        distance to the matched detection, and to every other detection near the track."""
        if embs is None or not len(high) or not self.config.appearance_trust:
            return
        rows = det_track[high]
        hit = rows >= 0
        rows, cols = rows[hit], high[hit]
        if not len(rows):
            return
        temb, has = self.table.embeddings(rows)
        if temb.shape[1] != embs.shape[1]:
            return
        pred = self._pred_xyxy[rows]
        ok = (
            has
            & (paired_iou(pred, boxes[cols]) >= CONFIDENT_IOU)
            & np.isfinite(embs[cols]).all(axis=1)
        )
        if not ok.any():
            return
        rows, cols, temb, pred = rows[ok], cols[ok], temb[ok], pred[ok]
        others = high[np.isfinite(embs[high]).all(axis=1)]  # sorted, and holds every col
        own = np.searchsorted(others, cols)  # (K,) each match's own detection among others
        # Rivals: the other detections within RIVAL_HEIGHTS of the track's predicted centre, by
        # a sweep rather than a dense (K, O) distance test. The cosine distances stay one dense
        # product: in a crowd a fifth of all pairs are rivals, and gathering their embeddings
        # pair by pair costs more than the BLAS product.
        pk, po = near_pairs(
            (pred[:, :2] + pred[:, 2:]) / 2,
            RIVAL_HEIGHTS * np.maximum(pred[:, 3] - pred[:, 1], 1.0),
            (boxes[others, :2] + boxes[others, 2:]) / 2,
        )
        rival = po != own[pk]
        pk, po = pk[rival], po[rival]
        every = np.arange(len(rows))
        dist = cosine_distance(temb, embs[others])  # (K, O)
        pos, riv = dist[every, own], dist[pk, po]
        self._calibration.observe(pos, riv)
        gap = int(round(self.config.reid_calibration_gap * self.frame_rate))
        if gap <= 0:
            self._reid_calibration.observe(pos, riv)
            return
        ref, aged = self._aged.references(self.table.ids[rows], temb, self.frame_id, gap)
        if aged.any():
            dist = cosine_distance(ref[aged], embs[others])  # (A, O)
            row_of, keep = np.cumsum(aged) - 1, aged[pk]
            self._reid_calibration.observe(
                dist[np.arange(len(dist)), own[aged]], dist[row_of[pk[keep]], po[keep]]
            )
        if len(self._aged) > 2 * len(self.table.ids) + 64:
            self._aged.keep_only(self.table.ids)

    def _reachable(self, rows: np.ndarray, det_boxes: np.ndarray, pairs=None) -> np.ndarray:
        """``(K, M)`` bool: detection ``m`` is within reach of track ``rows[k]``'s last observed
        box, given the time since and the track's speed (``TrackerConfig.reid_*``); with
        ``pairs`` (indices into both) only those entries, ``(P,)``."""
        cfg = self.config
        if not cfg.reid_gate:
            shape = (len(pairs[0]),) if pairs is not None else (len(rows), len(det_boxes))
            return np.ones(shape, dtype=bool)
        last = self.table.last_box[rows]
        height = np.maximum(last[:, 3] - last[:, 1], 1.0)
        speed = np.hypot(*self.table.saved_mean[rows, 4:6].T) * self.frame_rate / height
        return reachable(
            last,
            (self.frame_id - self.table.last_frame[rows]) / self.frame_rate,
            speed,
            det_boxes,
            margin=cfg.reid_margin,
            max_speed=cfg.reid_max_speed,
            speed_factor=cfg.reid_speed_factor,
            pairs=pairs,
        )

    def _fused_cost(self, rows, det_idx, boxes, embs, max_cost: float, conf=None):
        """IoU (predicted boxes) fused with appearance for ``rows`` x ``det_idx``, gated, on the
        candidate pairs (IoU >= ``min_iou``): ``(pr, pc, cost)``, indices into both.

        Appearance weighs ``appearance_weight * trust`` and its gate relaxes towards "no gate"
        (a cosine distance of 2) as trust falls; pairs out of reach are gated out. With the
        detections' confidences ``conf`` (score fusion), each IoU is scaled by its detection's."""
        cfg = self.config
        trust = self.trust
        pr, pc, iou = iou_pairs(self._pred_xyxy[rows], boxes[det_idx], cfg.min_iou)
        if conf is not None:
            iou = iou * conf[det_idx[pc]]
        appearance = self._appearance_cost(rows, det_idx, embs, pr, pc) if trust > 0 else None
        cost = fuse_cost(
            iou,
            appearance,
            appearance_weight=cfg.appearance_weight * trust,
            min_iou=cfg.min_iou,
            appearance_gate=cfg.appearance_gate + (2.0 - cfg.appearance_gate) * (1.0 - trust),
            max_motion_cost=max_cost,
        )
        if appearance is not None:
            cost[~self._reachable(rows, boxes[det_idx], (pr, pc))] = np.inf
        return pr, pc, cost

    def _match_first(self, pool, high, boxes, conf, embs, det_track, matched) -> None:
        cfg = self.config
        if not len(pool) or not len(high):
            return
        fused_conf = conf if cfg.fuse_score else None
        pr, pc, cost = self._fused_cost(pool, high, boxes, embs, cfg.match_thresh, fused_conf)
        if cfg.direction_weight > 0:
            t, d = pool[pr], high[pc]
            last = (self.table.last_box[t, :2] + self.table.last_box[t, 2:]) / 2
            centres = (boxes[d, :2] + boxes[d, 2:]) / 2
            direction = direction_pairs(self.table.direction[t], last, centres)
            cost = cost + cfg.direction_weight * direction * conf[d]
        matches, _, _ = assign_pairs((len(pool), len(high)), pr, pc, cost, cfg.match_thresh)
        self._assign(pool, high, matches, det_track, matched)

    def _match_iou(
        self, rows, det_idx, boxes, max_cost, det_track, matched, *, predicted: bool
    ) -> None:
        """IoU-only matching against predicted or last observed boxes."""
        if not len(rows) or not len(det_idx):
            return
        tboxes = self._pred_xyxy[rows] if predicted else self.table.last_box[rows]
        pr, pc, iou = iou_pairs(tboxes, boxes[det_idx], self.config.min_iou)
        matches, _, _ = assign_pairs((len(rows), len(det_idx)), pr, pc, 1.0 - iou, max_cost)
        self._assign(rows, det_idx, matches, det_track, matched)

    def _match_tentative(self, rows, det_idx, boxes, embs, det_track, matched) -> None:
        max_cost = self.config.tentative_match_thresh
        pr, pc, cost = self._fused_cost(rows, det_idx, boxes, embs, max_cost)
        matches, _, _ = assign_pairs((len(rows), len(det_idx)), pr, pc, cost, max_cost)
        self._assign(rows, det_idx, matches, det_track, matched)

    def _reid_cost(self, lost: np.ndarray, emb: np.ndarray, boxes: np.ndarray, exclude: np.ndarray):
        """Costs ``(L, M)`` of lost tracks ``lost`` against embeddings ``emb (M, E)`` at
        ``boxes (M, 4)``, with ``inf`` where re-identification is not allowed: out of reach, or
        not a margin closer than the runner-up among every other confirmed track with an
        embedding (rows in ``exclude`` are not people to compare with). Returns the costs and
        their threshold, or ``None`` when appearance is not trusted.

        With ``appearance_trust`` costs are rival ranks of the gap-aged calibration
        (:meth:`AppearanceCalibration.rival_rank`), held to ``reid_rank * reid_trust``,
        ``reid_evidence`` and a ``reid_rank_margin``; without it, cosine distances held to
        ``reid_thresh`` and ``reid_min_margin``."""
        cfg = self.config
        calibrated = cfg.appearance_trust
        thresh = cfg.reid_rank * self.reid_trust if calibrated else cfg.reid_thresh
        if thresh <= 0 or not len(lost):
            return None
        known = self.table.confirmed & self.table.has_embedding()
        known[exclude] = False
        people = np.flatnonzero(known)  # every lost row is among them
        dist = cosine_distance(self.table.emb[people], emb)  # (P, M)
        dist[:, ~np.isfinite(emb).all(axis=1)] = np.inf  # skipped crops (embed_skip_iou)
        if calibrated:
            calibration = self._reid_calibration
            ok = (dist <= cfg.reid_thresh) & (calibration.evidence(dist) >= cfg.reid_evidence)
            dist = np.where(ok, calibration.rival_rank(dist), np.inf)
        margin = cfg.reid_rank_margin if calibrated else cfg.reid_min_margin
        cost = margin_gated(dist, np.searchsorted(people, lost), margin)
        cost[~self._reachable(lost, boxes)] = np.inf
        return cost, thresh

    def _match_reid(self, det_idx, embs, boxes, det_track, matched) -> None:
        lost = np.flatnonzero(
            self.table.confirmed
            & (self.table.state == LOST)
            & self.table.has_embedding()
            & ~matched
        )
        if not len(lost) or self.table.emb.shape[1] != embs.shape[1]:
            return
        out = self._reid_cost(lost, embs[det_idx], boxes[det_idx], np.zeros(0, np.int64))
        if out is None:
            return
        matches, _, _ = linear_assignment(*out)
        self._assign(lost, det_idx, matches, det_track, matched)

    def _late_reid(self, t: int, gone: np.ndarray) -> int | None:
        """Row of the lost track whose identity track ``t`` takes over, or ``None``."""
        if not self.table.window[t]:
            return None
        has = self.table.has_embedding()
        lost = np.flatnonzero(self.table.confirmed & (self.table.state == LOST) & has & ~gone)
        if not len(lost):
            return None
        emb = self._tracklet_embeddings([t])[0]
        if self.table.emb.shape[1] != emb.shape[0]:
            return None
        exclude = np.concatenate([[t], np.flatnonzero(gone)]).astype(np.int64)
        out = self._reid_cost(lost, emb[None], self.table.last_box[[t]], exclude)
        if out is None:
            return None
        dist, thresh = out[0][:, 0], out[1]
        best = int(np.argmin(dist))
        if not dist[best] <= thresh:
            return None
        old = int(lost[best])
        self.table.ids[t], self.table.start[t] = self.table.ids[old], self.table.start[old]
        window = self.table.window[t]
        room = window.maxlen - len(window)
        earlier = list(self.table.window[old])[-room:] if room else []
        self.table.window[t] = deque(earlier + list(window), maxlen=window.maxlen)
        self.table.window_changed[t] = True
        # The id was reported up to the old track's last frame: backfill only what came after.
        seen_until = self.table.last_frame[old]
        self.table.pending[t] = [(f, d) for f, d in self.table.pending[t] if f > seen_until]
        return old
