"""Which frames of a tracklet a clip reads: restricted random sampling (RRS).

Training and evaluation both read ``clip_len`` frames per tracklet (``Preprocess.clip_len``,
stored with the weights); training draws them at random inside equal chunks, evaluation takes
each chunk's first frame, so a test clip is deterministic.
"""

from __future__ import annotations

import numpy as np


def rrs_indices(
    num_frames: int, clip_len: int, train: bool, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Restricted random sampling: ``clip_len`` frame indices in temporal order.

    The tracklet is cut into ``clip_len`` equal chunks; training takes one random frame per chunk,
    test the first frame of each chunk. Shorter tracklets repeat frames (chunks of one frame).
    """
    if num_frames < 1:
        raise ValueError("a tracklet needs at least one frame")
    bounds = np.floor(np.linspace(0, num_frames, clip_len + 1)).astype(int)
    start = np.minimum(bounds[:-1], num_frames - 1)
    stop = np.maximum(bounds[1:], start + 1)
    if not train:
        return start
    rng = rng or np.random.default_rng()
    return start + np.floor(rng.random(clip_len) * (stop - start)).astype(int)
