"""Noisy public detections derived from the ground truth, like a real detector's ``det.txt``.

- Box jitter proportional to the box size.
- Misses that become likely as a person gets occluded (visibility drops).
- Confidence that falls with occlusion, so occluded people land in ByteTrack's low-score stage.
- A few false positives per frame at person-like sizes, mostly with low confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DetectionNoise:
    jitter: float = 0.04  # std of box centre/size noise, as a fraction of box w/h
    miss_base: float = 0.03  # miss probability of a fully visible person
    miss_occluded: float = 0.9  # added miss probability as visibility goes to 0 (power 1.5)
    fp_per_frame: float = 0.35  # mean number of false positives per frame
    conf_noise: float = 0.08


def noisy_detections(
    frame: int,
    boxes: np.ndarray,
    visibility: np.ndarray,
    *,
    width: int,
    height: int,
    rng: np.random.Generator,
    noise: DetectionNoise = DetectionNoise(),
) -> np.ndarray:
    """Detections for one frame: ``(M, 10)`` rows ``frame, -1, x, y, w, h, conf, -1, -1, -1``.

    ``boxes`` is ``(N, 4)`` ground-truth ``x, y, w, h`` and ``visibility`` ``(N,)`` in ``[0, 1]``.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    vis = np.asarray(visibility, dtype=np.float64).reshape(-1)
    p_miss = noise.miss_base + noise.miss_occluded * (1.0 - vis) ** 1.5
    keep = rng.random(len(boxes)) >= p_miss
    out = []
    for (x, y, w, h), v in zip(boxes[keep], vis[keep], strict=True):
        cx = x + w / 2 + rng.normal(0.0, noise.jitter * w)
        cy = y + h / 2 + rng.normal(0.0, noise.jitter * h)
        nw = w * float(np.exp(rng.normal(0.0, noise.jitter)))
        nh = h * float(np.exp(rng.normal(0.0, noise.jitter)))
        conf = float(np.clip(0.3 + 0.65 * v + rng.normal(0.0, noise.conf_noise), 0.05, 0.99))
        out.append((cx - nw / 2, cy - nh / 2, nw, nh, conf))
    for _ in range(rng.poisson(noise.fp_per_frame)):
        fh = rng.uniform(0.12, 0.34) * height
        fw = fh * rng.uniform(0.3, 0.5)
        fx = rng.uniform(0, width - fw)
        fy = rng.uniform(height * 0.2, height - fh)
        out.append((fx, fy, fw, fh, float(rng.uniform(0.08, 0.6))))
    rows = []
    for x, y, w, h, conf in out:
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(float(width), x + w), min(float(height), y + h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        rows.append((frame, -1, x0, y0, x1 - x0, y1 - y0, round(conf, 4), -1, -1, -1))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 10)
