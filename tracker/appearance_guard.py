"""Appearance that never hurts: the reachability gate, the per-video calibration and trust,
the re-identification evidence and margin, and whole crops (``docs/robustness.md``).

An embedder trained elsewhere (another sport, a broadcast camera, our generator) can rank a
stranger across the frame above the person who just walked behind a pillar. These guards keep
such a model from doing worse than motion alone:

- **Reachability.** A detection may take a track's id by appearance only if it lies within what
  the track's speed and the time since its last box allow: ``margin + seconds x max(max_speed,
  speed_factor x own speed)`` box heights from its last box. Re-entry through a border stays
  possible because the reach grows with the time lost; camera motion is already compensated in
  the track's boxes when ``cmc`` is on.
- **Calibration.** Raw cosine distances mean nothing across embedders (a small model trained
  on our generator puts people 0.002-0.1 apart; another can differ by orders of magnitude). Every motion-confident
  first-stage match (IoU >= :data:`CONFIDENT_IOU`) teaches the tracker this video's scale: the
  distance to the person's own detection and to each *rival* (another detection near the
  track). Re-identification then decides on a distance's *rival rank*, the fraction of rivals
  seen that close (:class:`AppearanceCalibration`).
- **Evidence and margin.** Re-identification needs a rival rank of at most ``reid_rank``, a
  distance ``reid_evidence`` times more common for a person's own detection than for a rival
  (a weak embedder puts both at the same distances), and a lead of ``reid_rank_margin`` over
  every other known person: a look-alike squad gives no decision, not a swap.
- **Gap-aged calibration for re-identification.** The fused stages match across one frame;
  re-identification across a gap. Consecutive crops of one person are near-identical, so any
  network, a random one included, matches them well, and a calibration learnt on them trusts
  it to recognise people after seconds. Re-identification has its own calibration, whose
  positive and rival distances are taken from the track's embedding as it was
  ``reid_calibration_gap`` seconds earlier (:class:`AgedEmbeddings`).
- **Trust.** How well positives and rivals separate (their AUC, the *separability*) maps
  through ``trust_floor .. trust_full`` to a trust in [0, 1] that scales the appearance weight
  of the fused stages, relaxes their gate, and scales ``reid_rank``. An embedder that cannot tell
  people from those around them ends at trust 0: motion only.
- **Exits.** A track lost at the image border walked out of view; ``reid_exit_buffer`` bounds
  how long it may still be re-identified (passers-by seldom come back, players do).
- **Whole crops.** Only crops shaped like a whole person join a track's window
  (:func:`clean_crops`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# A first-stage match with at least this IoU is "motion-confident": a calibration sample.
CONFIDENT_IOU = 0.5
# Width / height outside which a crop is not a whole person: a sliver cut by a side border, or
# a head and shoulders cut by the bottom one.
MIN_CROP_ASPECT, MAX_CROP_ASPECT = 0.25, 1.2
# A lost track whose last box came this close to an image edge (in its own box heights) left
# the view: detectors clip boxes at the border, and noisy ones stop a little short of it.
EXIT_BORDER = 0.1


def reachable(
    last_box: np.ndarray,
    seconds: np.ndarray,
    speed: np.ndarray,
    det_boxes: np.ndarray,
    *,
    margin: float,
    max_speed: float,
    speed_factor: float,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``(K, M)`` bool: detection ``m`` is within reach of track ``k``; with ``pairs`` (rows and
    columns, ``(P,)`` each) only those entries, ``(P,)``, by the same formula.

    last_box: ``(K, 4)`` xyxy of each track's last observed box; seconds: ``(K,)`` since then;
    speed: ``(K,)`` the track's own speed in box heights per second; det_boxes: ``(M, 4)``.
    """
    height = np.maximum(last_box[:, 3] - last_box[:, 1], 1.0)
    reach = height * (margin + seconds * np.maximum(max_speed, speed_factor * speed))
    centre = (last_box[:, :2] + last_box[:, 2:]) / 2
    det_centre = (det_boxes[:, :2] + det_boxes[:, 2:]) / 2
    if pairs is not None:
        rows, cols = pairs
        gap = det_centre[cols] - centre[rows]
        return np.hypot(gap[:, 0], gap[:, 1]) <= reach[rows]
    dist = np.hypot(*(det_centre[None, :, :] - centre[:, None, :]).transpose(2, 0, 1))
    return dist <= reach[:, None]


def clean_crops(boxes: np.ndarray, overlap: np.ndarray, max_overlap: float) -> np.ndarray:
    """``(N,)`` bool: crops of ``boxes (N, 4)`` that may join a track's window: overlapping
    no other detection by more than ``max_overlap`` (``overlap (N,)``, the largest IoU), and
    shaped like a whole person (a person cut by the frame border shows mostly background, whose
    embedding then matches any false positive)."""
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    whole = (width >= MIN_CROP_ASPECT * height) & (width <= MAX_CROP_ASPECT * height)
    return whole & (overlap <= max_overlap)


def at_border(boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """``(K,)`` bool: boxes ``(K, 4)`` (xyxy) within :data:`EXIT_BORDER` box heights (at least
    2 px) of an edge of an image of ``(width, height)``: a track lost there walked out of view
    rather than behind someone."""
    width, height = image_size
    slack = np.maximum(EXIT_BORDER * (boxes[:, 3] - boxes[:, 1]), 2.0)
    return (
        (boxes[:, 0] <= slack)
        | (boxes[:, 1] <= slack)
        | (boxes[:, 2] >= width - slack)
        | (boxes[:, 3] >= height - slack)
    )


def margin_gated(dist: np.ndarray, rows: np.ndarray, margin: float) -> np.ndarray:
    """Costs ``dist[rows]`` with ``inf`` where that row is not ``margin`` closer to the detection
    than the runner-up among all rows of ``dist`` (``(P, M)`` distances of every known person)."""
    cost = dist[rows]
    if len(dist) < 2:
        return cost
    two = np.partition(dist, 1, axis=0)[:2]  # best and second best per detection
    runner_up = np.where(cost <= two[0][None, :], two[1][None, :], two[0][None, :])
    with np.errstate(invalid="ignore"):  # inf - inf: no decision either way
        return np.where(runner_up - cost >= margin, cost, np.inf)


class AppearanceCalibration:
    """This video's appearance scale: how far a person's own detection and a nearby rival lie
    from the person's track embedding, and the trust that separation earns.

    Samples come from motion-confident first-stage matches: the matched detection gives a
    *positive* distance, every other detection within :data:`RIVAL_HEIGHTS` box heights of the
    track a *rival* distance. Both are kept as decayed histograms over log cosine distance
    (embedders differ by orders of magnitude in how far apart they put people), so a fresh
    video has separability 0.5 and trust 0.

    - :meth:`rival_rank` maps a cosine distance to the fraction of rivals seen at least that
      close: 0 is closer than any rival, 0.5 a typical rival. Re-identification decides on
      this scale (and on :meth:`evidence`), so its thresholds mean the same for every embedder.
    - :attr:`separability` is the AUC ``P(positive < rival)``; it maps through
      ``floor .. full`` to the :attr:`trust` in [0, 1]. An embedder that cannot tell a person
      from the people around them ends at trust 0: motion only.
    """

    def __init__(self, *, enabled: bool, floor: float, full: float) -> None:
        self.enabled, self.floor, self.full = enabled, floor, full
        self._pos, self._neg = np.zeros(len(_EDGES) - 1), np.zeros(len(_EDGES) - 1)

    @classmethod
    def pair(cls, cfg: Any) -> tuple[AppearanceCalibration, AppearanceCalibration]:
        """The fused stages' calibration (across one frame) and re-identification's (across a
        gap), with their trust ramps from a :class:`~tracker.config.TrackerConfig`."""
        return (
            cls(enabled=cfg.appearance_trust, floor=cfg.trust_floor, full=cfg.trust_full),
            cls(enabled=cfg.appearance_trust, floor=cfg.reid_trust_floor, full=cfg.reid_trust_full),
        )

    @property
    def separability(self) -> float:
        """AUC of positive against rival distances (ties count half), in [0, 1], shrunk
        towards 0.5 while either histogram holds few samples."""
        n = min(self._pos.sum(), self._neg.sum())
        if n <= 0:
            return 0.5
        pos, neg = self._pos / self._pos.sum(), self._neg / self._neg.sum()
        farther = 1.0 - np.cumsum(neg)  # rivals in a farther bin
        auc = float((pos * (farther + 0.5 * neg)).sum())
        return float(0.5 + (auc - 0.5) * n / (n + CALIBRATION_PRIOR))

    @property
    def trust(self) -> float:
        """In [0, 1]; always 1 when disabled."""
        if not self.enabled:
            return 1.0
        ramp = (self.separability - self.floor) / (self.full - self.floor)
        return float(np.clip(ramp, 0.0, 1.0))

    def rival_rank(self, dist: np.ndarray) -> np.ndarray:
        """Fraction of rivals at most ``dist`` away (interpolated within a bin; 0 below the
        first bin edge, 1e-4); NaN and inf pass through."""
        return self._cdf(self._neg, dist)

    def evidence(self, dist: np.ndarray) -> np.ndarray:
        """How many times more often a person's own detection than a rival lies in ``dist``'s
        bin or closer: ``P(positive <= dist) / P(rival <= dist)`` (whole bins, so that distances
        near 0 are not 0 / 0)."""
        b = np.clip(np.searchsorted(_EDGES, np.nan_to_num(dist, nan=2.0), "right") - 1, 0, None)
        b = np.minimum(b, len(self._pos) - 1)
        pos, neg = (
            np.cumsum(h + RANK_PRIOR / len(h)) / (h.sum() + RANK_PRIOR)
            for h in (self._pos, self._neg)
        )
        return pos[b] / neg[b]

    @staticmethod
    def _cdf(hist: np.ndarray, dist: np.ndarray) -> np.ndarray:
        hist = hist + RANK_PRIOR / len(hist)
        cdf = np.concatenate([[0.0], np.cumsum(hist)]) / hist.sum()
        x = np.log10(np.clip(np.nan_to_num(dist, nan=1.0, posinf=2.0), 1e-9, 2.0))
        return np.where(np.isfinite(dist), np.interp(x, _LOG_EDGES, cdf), dist)

    def observe(self, pos: np.ndarray, rivals: np.ndarray) -> None:
        """Add positive distances ``(K,)`` and rival distances ``(R,)``; older samples decay."""
        n = float(len(pos) + len(rivals))
        if not n:
            return
        decay = CALIBRATION_DECAY**n
        self._pos = self._pos * decay + _histogram(pos)
        self._neg = self._neg * decay + _histogram(rivals)


class AgedEmbeddings:
    """Each track's embedding as it was ``gap`` to ``2 x gap`` frames ago, by track id: what
    re-identification is calibrated on (a returning person is compared with how their track
    looked before the gap, not with the crop of the frame before).

    Two snapshots per id: the newest, taken at frame ``since``, and the one before it. Once the
    newest is ``gap`` frames old it becomes the reference and the current embedding the newest,
    so a track that has lived ``gap`` frames always has a reference of that age or up to twice it.
    """

    def __init__(self) -> None:
        self._snaps: dict[int, tuple[int, np.ndarray, np.ndarray | None]] = {}

    def __len__(self) -> int:
        return len(self._snaps)

    def references(
        self, ids: np.ndarray, current: np.ndarray, frame: int, gap: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Reference embeddings ``(K, E)`` of tracks ``ids (K,)`` whose embeddings at ``frame`` are
        ``current (K, E)``, and ``(K,)`` bool: the track has one (not yet ``gap`` frames old: no)."""
        ref, has = np.zeros_like(current), np.zeros(len(ids), dtype=bool)
        for k, tid in enumerate(ids.tolist()):
            since, newest, older = self._snaps.get(tid, (frame, current[k].copy(), None))
            if frame - since >= gap or newest.shape != current[k].shape:
                since, newest, older = frame, current[k].copy(), newest
            self._snaps[tid] = (since, newest, older)
            if older is not None and older.shape == current[k].shape:
                ref[k], has[k] = older, True
        return ref, has

    def keep_only(self, ids: np.ndarray) -> None:
        """Forget every track not in ``ids`` (tracks the tracker has dropped)."""
        alive = set(ids.tolist())
        self._snaps = {t: v for t, v in self._snaps.items() if t in alive}


# Cosine distances from 1e-4 to 2 in log bins; the first bin also takes everything closer.
_LOG_EDGES = np.linspace(-4.0, np.log10(2.0), 33)
_EDGES = np.concatenate([[0.0], 10.0 ** _LOG_EDGES[1:]])
# Samples the separability is shrunk towards 0.5 with (a fresh video earns no trust), the
# pseudo-samples of the flat prior of ranks (the data decides them soon), and the rate old
# samples are forgotten at (an effective memory of ~2000 samples).
CALIBRATION_PRIOR = 8.0
RANK_PRIOR = 0.5
CALIBRATION_DECAY = 0.9995
# A detection this many track-box heights from a track's predicted centre is a rival: someone
# the track could be confused with.
RIVAL_HEIGHTS = 3.0


def _histogram(dist: np.ndarray) -> np.ndarray:
    return np.histogram(np.clip(dist, 0.0, 2.0), bins=_EDGES)[0].astype(float)
