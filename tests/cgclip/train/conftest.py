"""Tiny re-identification fixtures for the training and evaluation tests.

Images are real files on disk (PNG, 32x16), grouped into ``Tracklet``s of a ``ReidDataset``. Each
identity has its own two-colour outfit plus per-frame noise, so a few training steps can learn it.
``trained_run`` trains the tiny config once per session; tests that continue, corrupt or refuse a
run work on a copy of it (``trained_run_copy``), so the whole session trains it once.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from cgclip.data import ReidDataset, Tracklet
from cgclip.train import TrainConfig, TrainResult, load_train_config, train


def write_identity_tracklets(
    root: Path,
    pid: int,
    num_tracklets: int,
    frames: int = 5,
    cams: int = 2,
    rng: np.random.Generator | None = None,
) -> list[Tracklet]:
    rng = rng or np.random.default_rng(pid)
    colour_rng = np.random.default_rng(1000 + pid)
    top, bottom = colour_rng.integers(0, 256, size=(2, 3))
    out = []
    for j in range(num_tracklets):
        paths = []
        for f in range(frames):
            img = np.empty((32, 16, 3), dtype=np.float64)
            img[:16] = top
            img[16:] = bottom
            img += rng.normal(0, 12, img.shape)
            path = root / f"{pid:04d}" / f"{pid:04d}T{j:02d}F{f:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), np.clip(img, 0, 255).astype(np.uint8))
            paths.append(str(path))
        out.append(Tracklet(frames=tuple(paths), pid=pid, camid=j % cams))
    return out


def make_dataset(root: Path, train_ids: int = 8, test_ids: int = 3, per_id: int = 4) -> ReidDataset:
    rng = np.random.default_rng(0)
    train = []
    for pid in range(1, train_ids + 1):
        train += write_identity_tracklets(root / "train", pid, per_id, rng=rng)
    query, gallery = [], []
    for pid in range(100, 100 + test_ids):
        ts = write_identity_tracklets(root / "test", pid, 3, rng=rng)
        query.append(ts[0])
        gallery += ts
    return ReidDataset(name="fixture", train=train, query=query, gallery=gallery, root=root)


@pytest.fixture(scope="session")
def reid_fixture(tmp_path_factory: pytest.TempPathFactory) -> ReidDataset:
    return make_dataset(tmp_path_factory.mktemp("reid"))


def tiny_config(out: Path, *extra: str) -> TrainConfig:
    """``test-tiny`` for 3 epochs of 3 ids x 2 tracklets x 4 frames, writing to ``out``."""
    return load_train_config(
        None,
        [
            "model.name=test-tiny",
            "model.pretrained=null",
            "model.overrides.clip_len=4",
            "sampler.ids_per_batch=3",
            "sampler.tracklets_per_id=2",
            "optim.lr=1e-3",
            "optim.warmup_lr=1e-4",
            "optim.warmup_epochs=1",
            "optim.milestones=[4]",
            "optim.epochs=3",
            "data.num_workers=0",
            "data.val_fraction=0.25",
            "run.eval_every=10",
            f"run.output_dir={out}",
            *extra,
        ],
    )


# The shared run: 4 epochs, validated after each, captions for two of the training identities.
CAPTIONS = {1: ["a person in a bright top"], 2: ["someone in dark trousers"]}
TRAINED_RUN = ("optim.epochs=4", "run.eval_every=1")


@dataclass
class TrainedRun:
    result: TrainResult
    warnings: list[str]  # the UserWarnings training gave


@pytest.fixture(scope="session")
def trained_run(reid_fixture: ReidDataset, tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    """``tiny_config(..., *TRAINED_RUN)`` with ``CAPTIONS``, trained once per session: read-only."""
    out = tmp_path_factory.mktemp("trained") / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(reid_fixture, tiny_config(out, *TRAINED_RUN), CAPTIONS, progress=False)
    return TrainedRun(result, [str(w.message) for w in caught if w.category is UserWarning])


@pytest.fixture()
def trained_run_copy(trained_run: TrainedRun, tmp_path: Path) -> Path:
    """A private copy of the shared run's folder (resuming it writes into it)."""
    return Path(shutil.copytree(trained_run.result.output_dir, tmp_path / "trained-run"))
