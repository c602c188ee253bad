"""Detector profiles: ``det.txt`` in the style of the public detections trackers are compared on.

The ``synthetic`` profile is the generator's original noise (:mod:`.detections`, the default).
The others imitate the three public detection sets of MOT17 (the MOT16 sequences; Milan et al.,
"MOT16: A Benchmark for Multi-Object Tracking", arXiv:1603.00831, and the MOT17 release notes):

==========  ==========  =====================================================================
profile     MOT17 AP    what the profile reproduces
==========  ==========  =====================================================================
``dpm``     0.61        DPM v5: many false positives (recall ~0.6-0.7 at precision ~0.6-0.7),
                        loose and jittery boxes, scores that barely separate hits from clutter
``frcnn``   0.72        Faster R-CNN (VGG16): tight boxes, few false positives (precision
                        ~0.9), misses that grow quickly as people get small, calibrated scores
``sdp``     0.81        SDP (scale-dependent pooling): like ``frcnn`` with fewer small-object
                        misses and higher recall (~0.8)
==========  ==========  =====================================================================

Only the APs are the published figures. The recall/precision bands are approximations consistent
with them and with the detection rows MOTChallenge lists for the public sets; box jitter, the
size fall-off, the score distributions and the correlation times are chosen by us to give those
bands and the qualitative behaviour every tracker paper describes (DPM scores are SVM margins
with no probabilistic meaning; the CNN detectors miss people under ~50-60 px at 1080p, i.e. under
~5-6 % of the image height). ``tests/synthetic`` checks the orderings (``dpm`` has more false
positives and flatter scores than ``frcnn``; ``frcnn`` misses small people more than large ones),
not the exact values.

Errors of a real detector are correlated in time (the same person is missed, and the box is off
the same way, for several consecutive frames), so misses and box noise follow a per-person AR(1)
process with a correlation time in seconds: the noise per second is the same at any frame rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter
from scipy.special import ndtr


@dataclass(frozen=True)
class DetectorProfile:
    """Parameters of one detector style (sizes are fractions of the box or of the image height)."""

    recall_max: float  # detection probability of a large, fully visible person
    occlusion_miss: float  # extra miss probability as visibility goes to 0 (power 1.5)
    small_h50: float  # box height (fraction of image height) detected half as often as a large one
    small_width: float  # width of that logistic fall-off (same unit)
    miss_corr_s: float  # correlation time of misses, seconds
    jitter_xy: float  # std of the centre error, fraction of box w / h
    jitter_wh: float  # std of the log size error
    loose: float  # mean box inflation (DPM boxes are larger than the person)
    jitter_corr_s: float  # correlation time of box errors, seconds
    fp_background: float  # clutter false positives per frame on a 640x360 image (scaled by area)
    fp_per_person: float  # false positives next to people (body parts, two people in one box)
    fp_static_sites: float  # mean number of background places that fire again and again
    dup_rate: float  # share of hits with a second, shifted box (failed non-maximum suppression)
    conf_tp: tuple[float, float]  # Beta(a, b) score of a fully visible hit
    conf_fp: tuple[float, float]  # Beta(a, b) score of a false positive
    conf_vis: float  # how much occlusion lowers a hit's score (0 none .. 1 proportional)


PROFILES: dict[str, DetectorProfile] = {
    "dpm": DetectorProfile(
        recall_max=0.78,
        occlusion_miss=0.75,
        small_h50=0.07,
        small_width=0.02,
        miss_corr_s=0.15,
        jitter_xy=0.07,
        jitter_wh=0.09,
        loose=0.08,
        jitter_corr_s=0.1,
        fp_background=2.0,
        fp_per_person=0.25,
        fp_static_sites=3.0,
        dup_rate=0.12,
        conf_tp=(2.4, 2.0),
        conf_fp=(2.0, 2.3),
        conf_vis=0.2,
    ),
    "frcnn": DetectorProfile(
        recall_max=0.93,
        occlusion_miss=0.85,
        small_h50=0.11,
        small_width=0.018,
        miss_corr_s=0.3,
        jitter_xy=0.025,
        jitter_wh=0.035,
        loose=0.0,
        jitter_corr_s=0.2,
        fp_background=0.25,
        fp_per_person=0.04,
        fp_static_sites=0.5,
        dup_rate=0.02,
        conf_tp=(7.0, 1.3),
        conf_fp=(1.3, 4.0),
        conf_vis=0.55,
    ),
    "sdp": DetectorProfile(
        recall_max=0.95,
        occlusion_miss=0.75,
        small_h50=0.07,
        small_width=0.015,
        miss_corr_s=0.3,
        jitter_xy=0.02,
        jitter_wh=0.03,
        loose=0.0,
        jitter_corr_s=0.2,
        fp_background=0.2,
        fp_per_person=0.03,
        fp_static_sites=0.4,
        dup_rate=0.015,
        conf_tp=(8.0, 1.2),
        conf_fp=(1.3, 4.5),
        conf_vis=0.5,
    ),
}
PROFILE_NAMES = ("synthetic", *PROFILES)


def _ar1(noise: np.ndarray, track: np.ndarray, rho: float) -> np.ndarray:
    """Turn iid ``(R, C)`` normals into a stationary AR(1) per track (rows sorted by track, time)."""
    if rho <= 0.0 or len(noise) == 0:
        return noise
    out = np.empty_like(noise)
    scale = float(np.sqrt(1.0 - rho * rho))
    starts = np.flatnonzero(np.r_[True, track[1:] != track[:-1]])
    ends = np.r_[starts[1:], len(track)]
    for a, b in zip(starts, ends, strict=True):
        seg = noise[a:b]
        zi = (1.0 - scale) * seg[:1]  # so the first value keeps unit variance
        out[a:b] = lfilter([scale], [1.0, -rho], seg, axis=0, zi=zi)[0]
    return out


def profile_detections(
    gt: np.ndarray,
    *,
    frames: int,
    fps: float,
    width: int,
    height: int,
    rng: np.random.Generator,
    profile: DetectorProfile,
) -> np.ndarray:
    """Detections of a whole sequence: ``(M, 10)`` rows ``frame, -1, x, y, w, h, conf, -1, -1, -1``.

    ``gt`` is ``(N, 9)`` rows ``frame, id, x, y, w, h, 1, 1, visibility`` (frames 1..``frames``).
    """
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 9)
    gt = gt[np.lexsort((gt[:, 0], gt[:, 1]))]  # by track, then time (for the AR(1) noise)
    frame, track = gt[:, 0].astype(int), gt[:, 1].astype(int)
    x, y, w, h = (gt[:, c] for c in range(2, 6))
    vis = gt[:, 8]

    def rho(corr_s: float) -> float:
        return float(np.exp(-1.0 / (fps * corr_s))) if corr_s > 0 else 0.0

    u_miss = _ar1(rng.standard_normal((len(gt), 1)), track, rho(profile.miss_corr_s))[:, 0]
    u_box = _ar1(rng.standard_normal((len(gt), 4)), track, rho(profile.jitter_corr_s))
    size = 1.0 / (1.0 + np.exp(-(h / height - profile.small_h50) / profile.small_width))
    hidden = np.clip(1.0 - vis, 0.0, 1.0)  # visibility can round past [0, 1]
    p_det = profile.recall_max * size * (1.0 - profile.occlusion_miss * hidden**1.5)
    hit = ndtr(u_miss) < p_det
    # Loose boxes grow around the person, a little more upwards (DPM's root filter).
    cx = x + w / 2 + profile.jitter_xy * w * u_box[:, 0]
    cy = y + h / 2 + profile.jitter_xy * h * u_box[:, 1] - 0.25 * profile.loose * h
    nw = w * np.exp(profile.loose + profile.jitter_wh * u_box[:, 2])
    nh = h * np.exp(profile.loose + profile.jitter_wh * u_box[:, 3])
    conf = rng.beta(*profile.conf_tp, size=len(gt)) * (1.0 - profile.conf_vis * (1.0 - vis))
    boxes = [np.stack([frame, cx - nw / 2, cy - nh / 2, nw, nh, conf], axis=1)[hit]]

    # Duplicates: a second box on the same person, shifted and rescaled, with a lower score.
    dup = hit & (rng.random(len(gt)) < profile.dup_rate)
    k = int(dup.sum())
    if k:
        dw, dh = nw[dup] * rng.uniform(0.7, 1.2, k), nh[dup] * rng.uniform(0.6, 1.0, k)
        dx = cx[dup] + rng.normal(0.0, 0.25, k) * nw[dup]
        dy = cy[dup] + rng.normal(0.0, 0.15, k) * nh[dup]
        dconf = conf[dup] * rng.uniform(0.4, 0.9, k)
        boxes.append(np.stack([frame[dup], dx - dw / 2, dy - dh / 2, dw, dh, dconf], axis=1))

    # False positives next to people: part of a body or a box spanning two people.
    k = int(rng.poisson(profile.fp_per_person * len(gt)))
    if k:
        src = rng.integers(0, len(gt), k)
        fh = h[src] * rng.uniform(0.45, 1.1, k)
        fw = np.minimum(fh * rng.uniform(0.35, 0.6, k), w[src] * rng.uniform(0.6, 2.2, k))
        fx = x[src] + w[src] / 2 + rng.normal(0.0, 0.6, k) * w[src] - fw / 2
        fy = y[src] + rng.uniform(-0.1, 0.5, k) * h[src]
        fconf = rng.beta(*profile.conf_fp, size=k)
        boxes.append(np.stack([frame[src], fx, fy, fw, fh, fconf], axis=1))

    # Background clutter, sized like the people of the scene: random places and static sites.
    ref_h = h if len(h) else np.array([0.25 * height])
    area = width * height / (640.0 * 360.0)
    k = int(rng.poisson(profile.fp_background * area * frames))
    sites = int(rng.poisson(profile.fp_static_sites * area))
    if sites:  # each site fires in about half of the frames
        fired = rng.random((sites, frames)) < rng.uniform(0.3, 0.7, (sites, 1))
        site_of, site_frame = np.nonzero(fired)
    else:
        site_of, site_frame = np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    fh = rng.choice(ref_h, k + sites) * rng.uniform(0.7, 1.3, k + sites)
    fw = fh * rng.uniform(0.3, 0.5, k + sites)
    fx = rng.uniform(0.0, 1.0, k + sites) * (width - fw)
    fy = rng.uniform(0.05, 1.0, k + sites) * (height - fh)
    site_jit = rng.normal(0.0, 0.03, (len(site_of), 2)) * fh[k + site_of, None]
    clutter = np.concatenate(
        [
            np.stack(
                [
                    rng.integers(1, frames + 1, k),
                    fx[:k],
                    fy[:k],
                    fw[:k],
                    fh[:k],
                    rng.beta(*profile.conf_fp, size=k),
                ],
                axis=1,
            ),
            np.stack(
                [
                    site_frame + 1,
                    fx[k + site_of] + site_jit[:, 0],
                    fy[k + site_of] + site_jit[:, 1],
                    fw[k + site_of],
                    fh[k + site_of],
                    rng.beta(*profile.conf_fp, size=len(site_of)),
                ],
                axis=1,
            ),
        ]
    )
    boxes.append(clutter)
    return _clip_rows(np.concatenate(boxes), width, height)


def _clip_rows(raw: np.ndarray, width: int, height: int) -> np.ndarray:
    """``(M, 6)`` frame, x, y, w, h, conf -> clipped ``(M', 10)`` MOT det rows, ordered by frame."""
    x0, y0 = np.maximum(raw[:, 1], 0.0), np.maximum(raw[:, 2], 0.0)
    x1 = np.minimum(raw[:, 1] + raw[:, 3], float(width))
    y1 = np.minimum(raw[:, 2] + raw[:, 4], float(height))
    keep = (x1 - x0 >= 2) & (y1 - y0 >= 2)
    conf = np.round(np.clip(raw[:, 5], 0.01, 0.99), 4)
    n = int(keep.sum())
    rows = np.column_stack(
        [
            raw[keep, 0],
            -np.ones(n),
            x0[keep],
            y0[keep],
            (x1 - x0)[keep],
            (y1 - y0)[keep],
            conf[keep],
            -np.ones((n, 3)),
        ]
    )
    return rows[np.argsort(rows[:, 0], kind="stable")]
