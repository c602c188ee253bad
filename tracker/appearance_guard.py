"""Appearance that never hurts: the reachability gate, the re-identification margin and the
per-video appearance trust (``docs/robustness.md``).

An embedder trained elsewhere (another sport, a broadcast camera, our generator) can rank a
stranger across the frame above the person who just walked behind a pillar. Three guards keep
such a model from doing worse than motion alone:

- **Reachability.** A detection may take a track's id by appearance only if it lies within what
  the track's speed and the time since its last box allow: ``margin + seconds x max(max_speed,
  speed_factor x own speed)`` box heights from its last box. Re-entry through a border stays
  possible because the reach grows with the time lost; camera motion is already compensated in
  the track's boxes when ``cmc`` is on.
- **Margin.** Re-identification needs the lost track to be closer than every other known person
  by ``reid_min_margin`` in cosine distance: a look-alike squad gives no decision, not a swap.
- **Trust.** Every motion-confident first-stage match (IoU >= :data:`CONFIDENT_IOU`) is a sample,
  a success when its detection is also the track's nearest in appearance among the frame's
  detections. The running success rate (the *separability*, decayed so the last few hundred
  samples count) maps through ``trust_floor .. trust_full`` to a trust in [0, 1] that scales the
  appearance weight, relaxes the appearance gate and the re-identification threshold. An embedder
  that cannot tell people apart ends at trust 0: motion only.
"""

from __future__ import annotations

import numpy as np

from tracker.matching import cosine_distance

# A first-stage match with at least this IoU is "motion-confident": a separability sample.
CONFIDENT_IOU = 0.5
# The separability estimate starts from this many pseudo-samples at the middle of the trust ramp,
# and forgets old samples at this rate (an effective memory of ~500 samples).
SEPARABILITY_PRIOR = 5.0
SEPARABILITY_DECAY = 0.998


def reachable(
    last_box: np.ndarray,
    seconds: np.ndarray,
    speed: np.ndarray,
    det_boxes: np.ndarray,
    *,
    margin: float,
    max_speed: float,
    speed_factor: float,
) -> np.ndarray:
    """``(K, M)`` bool: detection ``m`` is within reach of track ``k``.

    last_box: ``(K, 4)`` xyxy of each track's last observed box; seconds: ``(K,)`` since then;
    speed: ``(K,)`` the track's own speed in box heights per second; det_boxes: ``(M, 4)``.
    """
    height = np.maximum(last_box[:, 3] - last_box[:, 1], 1.0)
    reach = height * (margin + seconds * np.maximum(max_speed, speed_factor * speed))
    centre = (last_box[:, :2] + last_box[:, 2:]) / 2
    det_centre = (det_boxes[:, :2] + det_boxes[:, 2:]) / 2
    dist = np.hypot(*(det_centre[None, :, :] - centre[:, None, :]).transpose(2, 0, 1))
    return dist <= reach[:, None]


def margin_gated(dist: np.ndarray, rows: np.ndarray, margin: float) -> np.ndarray:
    """Costs ``dist[rows]`` with ``inf`` where that row is not ``margin`` closer to the detection
    than the runner-up among all rows of ``dist`` (``(P, M)`` distances of every known person)."""
    cost = dist[rows]
    if len(dist) < 2:
        return cost
    two = np.partition(dist, 1, axis=0)[:2]  # best and second best per detection
    runner_up = np.where(cost <= two[0][None, :], two[1][None, :], two[0][None, :])
    return np.where(runner_up - cost >= margin, cost, np.inf)


class AppearanceTrust:
    """The running separability of one video's embeddings and the trust it earns."""

    def __init__(self, *, enabled: bool, floor: float, full: float) -> None:
        self.enabled, self.floor, self.full = enabled, floor, full
        mid = (floor + full) / 2
        self._hits, self._total = SEPARABILITY_PRIOR * mid, SEPARABILITY_PRIOR

    @property
    def separability(self) -> float:
        """Running rate at which a motion-confident match is also the nearest in appearance."""
        return self._hits / self._total

    @property
    def trust(self) -> float:
        """In [0, 1]; always 1 when disabled."""
        if not self.enabled:
            return 1.0
        ramp = (self.separability - self.floor) / (self.full - self.floor)
        return float(np.clip(ramp, 0.0, 1.0))

    def observe(self, track_emb: np.ndarray, det_embs: np.ndarray, own: np.ndarray) -> None:
        """Score one frame's samples: ``track_emb (K, E)`` of motion-confidently matched tracks,
        ``det_embs (M, E)`` the frame's candidate detections, ``own (K,)`` the column each
        track was matched to. A success: the own column is the nearest."""
        if not len(track_emb) or len(det_embs) < 2:
            return
        dist = cosine_distance(track_emb, det_embs)  # (K, M)
        is_own = np.arange(len(det_embs))[None, :] == own[:, None]
        pos = dist[is_own]  # one per row
        neg = np.where(is_own, np.inf, dist).min(axis=1)
        n = float(len(pos))
        decay = SEPARABILITY_DECAY**n
        self._hits = self._hits * decay + float((pos < neg).sum())
        self._total = self._total * decay + n
