"""Person crops saved by ``python -m tracker.run VIDEO --save-crops DIR``, as a ReID training set.

The tracker (:class:`tracker.crops.CropWriter`) writes one folder per video::

    DIR/crops.json                    {"format": "cgclip-crops", "version": 1, "video", "mode", "ids"}
    DIR/<id:05d>/<frame:06d>.jpg      the crops of track <id> (``--crops all``: every frame;
                                      ``--crops best``: its one best view)

:func:`read_crops` (``load_dataset("crops", ROOT)``) reads ``ROOT`` = one such folder or a folder
of them (one per video, e.g. ``--save-crops crops/match1`` and ``crops/match2``). Each video is a
camera (``camid``) and each (video, track id) an identity: the tracker does not link people
across videos, so the same person in two videos counts as two identities. Each id's crops are cut
into tracklets with the VReID builder's rule (:func:`cgclip.data.mot_crops.split_track`: a gap
of more than ``max_gap`` frames or ``max_len`` frames ends a tracklet; pieces shorter than
``min_len`` are dropped). Every tracklet is in ``train``; query and gallery are empty, and the
trainer carves its validation identities out of ``train`` (``data.val_fraction``).
"""

from __future__ import annotations

import os
from pathlib import Path

from cgclip.data.tracklets import ReidDataset, Tracklet
from cgclip.errors import UserError
from cgclip.io.config import read_json

CROPS_FORMAT = "cgclip-crops"
CROPS_VERSION = 1
CROPS_INDEX = "crops.json"
SOURCE = (
    "write it with `python -m tracker.run VIDEO --save-crops ROOT --crops all` (one folder per "
    "video; ROOT may also hold several such folders)"
)


def id_dir(root: Path, track_id: int) -> Path:
    """``root/<id:05d>``: the folder of one track's crops."""
    return root / f"{int(track_id):05d}"


def crop_file(frame: int) -> str:
    """``<frame:06d>.jpg``, as the VReID sets name their crops."""
    return f"{int(frame):06d}.jpg"


def crop_folders(root: Path) -> list[Path]:
    """``root`` itself when it holds a ``crops.json``, else its subfolders that do (sorted)."""
    if (root / CROPS_INDEX).is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / CROPS_INDEX).is_file())


def read_crops(root: Path, max_len: int = 50, min_len: int = 4, max_gap: int = 10) -> ReidDataset:
    """The crops under ``root`` as a training set (see the module doc)."""
    from cgclip.data.mot_crops import CropOptions, split_track

    root = Path(root).resolve()
    opts = CropOptions(max_len=max_len, min_len=min_len, max_gap=max_gap)
    folders = crop_folders(root)
    if not folders:
        raise UserError(f"{root}: no {CROPS_INDEX} here nor in its subfolders; {SOURCE}")
    train: list[Tracklet] = []
    pids: dict[tuple[str, int], int] = {}  # (video, track id) -> identity, from 1
    crops = 0
    for camid, folder in enumerate(folders):
        index = read_json(
            folder / CROPS_INDEX,
            CROPS_FORMAT,
            CROPS_VERSION,
            what="crops index",
            hint="save the crops again with tracker.run --save-crops",
        )
        seq = folder.name
        for key in sorted(index.get("ids") or {}, key=int):
            track = int(key)
            base = id_dir(folder, track)
            frames = sorted(int(p.stem) for p in base.glob("*.jpg") if p.stem.isdigit())
            crops += len(frames)
            prefix = f"{base}{os.sep}"
            for piece in split_track(frames, opts):
                train.append(
                    Tracklet(
                        frames=tuple(prefix + crop_file(f) for f in piece),
                        pid=pids.setdefault((seq, track), len(pids) + 1),
                        camid=camid,
                        seq=seq,
                        track=track,
                        start=piece[0],
                    )
                )
    if not train:
        raise UserError(
            f"{root}: {crops} crops, but no id has a run of {min_len} or more frames "
            "(min_len); save every crop with --crops all, or lower min_len"
        )
    return ReidDataset(name="crops", train=train, query=[], gallery=[], root=root)
