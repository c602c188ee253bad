"""Training clips: RRS frame sampling, tracklet-level flip, random erasing; the validation carve.

Every random draw for item ``i`` comes from a generator seeded by (seed, epoch, i), so an epoch's
batches are identical whatever the number of workers, and a resumed run replays the same data.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cgclip.data import Tracklet
from cgclip.metrics import default_ignore_mask
from cgclip.model.preprocess import Preprocess, load_clip, rrs_indices
from cgclip.train.config import AugmentSection


def random_erase(
    frame: torch.Tensor, rng: np.random.Generator, area: tuple[float, float], aspect: float
) -> torch.Tensor:
    """Erase one random rectangle of a (3, H, W) normalised frame with 0 (the mean colour).

    Zhong et al.'s random erasing: area fraction in ``area``, aspect ratio log-uniform in
    [aspect, 1/aspect]; up to 100 tries to fit the rectangle, else the frame is left as is.
    """
    _, h, w = frame.shape
    for _ in range(100):
        target = rng.uniform(*area) * h * w
        ratio = math.exp(rng.uniform(math.log(aspect), math.log(1 / aspect)))
        eh = int(round(math.sqrt(target * ratio)))
        ew = int(round(math.sqrt(target / ratio)))
        if 0 < eh < h and 0 < ew < w:
            y = int(rng.integers(0, h - eh + 1))
            x = int(rng.integers(0, w - ew + 1))
            frame = frame.clone()
            frame[:, y : y + eh, x : x + ew] = 0.0
            return frame
    return frame


class TrainClips(torch.utils.data.Dataset):
    """Item i -> (clip (T, 3, H, W) float, label, camid) with training RRS and augmentation."""

    def __init__(
        self,
        tracklets: Sequence[Tracklet],
        labels: Sequence[int],
        preprocess: Preprocess,
        augment: AugmentSection,
        seed: int = 0,
    ) -> None:
        if len(tracklets) != len(labels):
            raise ValueError("one label per tracklet")
        self.tracklets = list(tracklets)
        self.labels = list(labels)
        self.preprocess = preprocess
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.tracklets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        t = self.tracklets[i]
        idx = rrs_indices(len(t.frames), self.preprocess.clip_len, train=True, rng=rng)
        clip = load_clip(t.frames, idx, self.preprocess)  # (T, H, W, 3) uint8
        if rng.random() < self.augment.flip_prob:
            clip = clip[:, :, ::-1]  # the same flip for every frame of the tracklet
        x = self.preprocess.to_tensor(clip)  # (T, 3, H, W)
        if self.augment.erase_prob > 0:
            a = self.augment
            x = torch.stack(
                [
                    random_erase(f, rng, a.erase_area, a.erase_aspect)
                    if rng.random() < a.erase_prob
                    else f
                    for f in x
                ]
            )
        return x, self.labels[i], t.camid


@dataclass
class ValidationSplit:
    """Identities held out of training for model selection (never the dataset's test split)."""

    query: list[Tracklet]
    gallery: list[Tracklet]
    ignore: np.ndarray  # (Q, G) bool

    @property
    def num_ids(self) -> int:
        return len({t.pid for t in self.query})


def carve_validation(
    train: Sequence[Tracklet], fraction: float, min_ids: int, keep_ids: int, seed: int
) -> tuple[list[Tracklet], ValidationSplit | None]:
    """Hold out ``fraction`` of the training identities (at least ``min_ids``) for validation.

    Only identities with at least two tracklets can be held out (a query needs a match). Each held
    out tracklet is a query against all the others: itself is ignored, and so are same-identity
    same-camera tracklets (the MARS rule; for MOT-derived sets, adjacent pieces of the same track),
    unless that leaves no query answerable, in which case only the query itself is ignored.
    At least ``keep_ids`` identities stay for training. Returns (train tracklets, split or None).
    """
    if fraction <= 0:
        return list(train), None
    by_pid: dict[int, list[Tracklet]] = defaultdict(list)
    for t in train:
        by_pid[t.pid].append(t)
    pids = sorted(by_pid)
    eligible = [p for p in pids if len(by_pid[p]) >= 2]
    n_val = max(min_ids, int(round(fraction * len(pids))))
    n_val = min(n_val, len(eligible), len(pids) - keep_ids)
    if n_val < min_ids:
        warnings.warn(
            f"not enough identities to carve a validation split ({len(pids)} ids, {len(eligible)} "
            f"with 2+ tracklets, {keep_ids} needed for training): training without validation; "
            "the last epoch's model is the selected one",
            stacklevel=2,
        )
        return list(train), None
    rng = np.random.default_rng(seed)
    val_pids = set(rng.choice(eligible, size=n_val, replace=False).tolist())
    kept = [t for t in train if t.pid not in val_pids]
    held = [t for t in train if t.pid in val_pids]
    pid = [t.pid for t in held]
    cam = [t.camid for t in held]
    ignore = default_ignore_mask(pid, pid, cam, cam)
    np.fill_diagonal(ignore, True)
    same = np.equal.outer(pid, pid)
    if not (same & ~ignore).any():
        ignore = np.eye(len(held), dtype=bool)
    return kept, ValidationSplit(query=held, gallery=held, ignore=ignore)
