"""Training data: the dataset a config names, RRS clips with tracklet-level flip and random
erasing, and the validation carve.

Every random draw for item ``i`` comes from a generator seeded by (seed, epoch, i), so an epoch's
batches are identical whatever the number of workers, and a resumed run replays the same data.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cgclip.captions import load_captions
from cgclip.data import ReidDataset, Tracklet, load_dataset
from cgclip.data.sampling import rrs_indices
from cgclip.errors import UserError
from cgclip.metrics import default_ignore_mask
from cgclip.model.preprocess import Preprocess, load_clip
from cgclip.train.config import AugmentSection, DataSection

log = logging.getLogger(__name__)

# What the synthetic generator writes before its completion stamp (an interrupted generation).
_GENERATOR_ENTRIES = {"train", "val", "seqmaps"}


def ensure_synthetic(root: str | Path, preset: str, progress: bool = True) -> bool:
    """Generate synthetic preset ``preset`` into ``root`` unless a finished set is already there.

    Generates when ``root`` is missing or empty, or holds an interrupted generation (only the
    generator's own folders, no completion stamp). Any other content is left alone and read as
    is. Returns whether it generated.
    """
    from cgclip.data.synthetic import PRESETS, generate_dataset
    from cgclip.data.synthetic.generate import STAMP_NAME

    root = Path(root)
    if root.exists() and not root.is_dir():
        raise UserError(f"data.root {root} is a file; point it at a folder")
    if root.is_dir():
        entries = {p.name for p in root.iterdir()}
        if STAMP_NAME in entries or not entries <= _GENERATOR_ENTRIES:
            return False
    log.info("generating the synthetic '%s' set into %s (once)", preset, root)
    generate_dataset(root, PRESETS[preset], progress=progress)
    return True


def _wait_for(path: Path, timeout_s: float = 3600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.is_file():
        if time.monotonic() > deadline:
            raise UserError(f"timed out waiting for rank 0 to write {path}")
        time.sleep(2.0)


def load_training_data(
    data: DataSection, progress: bool = True
) -> tuple[ReidDataset, dict[int, list[str]] | None]:
    """The dataset named by a config's data section, and its captions (None for ``idtext``).

    With ``data.generate`` (synthetic only) the set is generated into ``data.root`` first when
    it is not there yet. Captions come from ``data.captions``, else the dataset's own file.
    """
    if data.generate is not None:
        if int(os.environ.get("RANK", "0")) == 0:  # rank 0 generates, and its load builds vreid/
            ensure_synthetic(data.root, data.generate, progress=progress)
        else:  # under torchrun the other ranks wait for rank 0's files instead of racing it
            _wait_for(Path(data.root) / "vreid" / "index.json")
    dataset = load_dataset(data.dataset, data.root, **data.options)
    captions_path = data.captions or dataset.captions_path
    captions = None
    if captions_path is not None and data.text != "idtext":
        captions = load_captions(captions_path)
    return dataset, captions


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
    train: Sequence[Tracklet],
    fraction: float,
    min_ids: int,
    keep_ids: int,
    seed: int,
    mode: str = "random",
) -> tuple[list[Tracklet], ValidationSplit | None]:
    """Hold out ``fraction`` of the training identities (at least ``min_ids``) for validation.

    ``mode="random"`` draws the identities at random; ``mode="block"`` holds out a run of
    consecutive pids (starting at a random one, wrapping around). MOT-derived sets number the
    people of a video (and the synthetic sets the members of a team) consecutively, so a block
    keeps look-alikes together and validation is as hard as the real val split, where random
    picks from many groups are told apart by their kit alone and the score saturates.
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
    if mode == "block":
        start = int(rng.integers(len(eligible)))
        val_pids = {eligible[(start + i) % len(eligible)] for i in range(n_val)}
    elif mode == "random":
        val_pids = set(rng.choice(eligible, size=n_val, replace=False).tolist())
    else:
        raise ValueError(f"unknown validation carve mode {mode!r}")
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
