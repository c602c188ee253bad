"""iLIDS-VID (Wang et al., ECCV 2014) from its official layout.

::

    ROOT/i-LIDS-VID/sequences/cam1/person001/cam1_person001_00317.png ...
    ROOT/i-LIDS-VID/sequences/cam2/person001/...
    ROOT/train-test people splits/train_test_splits_ilidsvid.mat   ls_set (10, 300)

``ls_set[s]`` is a permutation of the 300 people, as 1-based indices into the sorted
``personNNN`` folder names (the numbers have gaps, so index != NNN).

Which half is train: we follow Wang et al. (ECCV'14), as torchreid does: the **first 150
columns of a row are the test people and the last 150 the training people** (``train_half=
"second"``, the default). TF-CLIP's released code takes the opposite half (``train_half="first"``)
— pass that to reproduce its numbers. Protocol: train on both cameras of the training people;
query = cam1 sequences of the test people, gallery = cam2 sequences; report the mean over the 10
splits (``split=0..9``). Pids are the ``NNN`` of the folder name; cam1 is camid 0, cam2 camid 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cgclip.data._files import as_int_matrix, list_images, load_mat_array, require_dir
from cgclip.data.tracklets import ReidDataset, Tracklet
from cgclip.errors import UserError

SOURCE = (
    "get iLIDS-VID from https://xiatian-zhu.github.io/downloads_qmul_iLIDS-VID_ReID_dataset.html "
    "and unpack it so that the dataset root holds i-LIDS-VID/ and 'train-test people splits/'"
)
NUM_SPLITS = 10
SPLIT_MAT = Path("train-test people splits") / "train_test_splits_ilidsvid.mat"


def read_ilidsvid(root: Path, split: int = 0, train_half: str = "second") -> ReidDataset:
    root = Path(root).resolve()
    if not isinstance(split, int) or not 0 <= split < NUM_SPLITS:
        raise UserError(f"iLIDS-VID split must be an integer in 0..{NUM_SPLITS - 1}, got {split!r}")
    if train_half not in ("first", "second"):
        raise UserError(f"iLIDS-VID train_half must be 'first' or 'second', got {train_half!r}")
    seq_root = require_dir(root / "i-LIDS-VID" / "sequences", SOURCE)
    cam_dirs = [require_dir(seq_root / f"cam{c}", SOURCE) for c in (1, 2)]
    people = [sorted(p.name for p in d.iterdir() if p.is_dir()) for d in cam_dirs]
    if not people[0]:
        raise UserError(f"{cam_dirs[0]}: no personNNN folders; {SOURCE}")
    if people[0] != people[1]:
        only = sorted(set(people[0]) ^ set(people[1]))[:3]
        raise UserError(
            f"{seq_root}: cam1 and cam2 hold different people (e.g. {only}); the copy is incomplete"
        )
    persons = people[0]

    mat_path = root / SPLIT_MAT
    ls_set = as_int_matrix(
        load_mat_array(mat_path, "ls_set", SOURCE), mat_path, "ls_set", None, SOURCE
    )
    if ls_set.shape[0] != NUM_SPLITS or ls_set.shape[1] % 2:
        raise UserError(
            f"{mat_path}: ls_set has shape {ls_set.shape}, expected ({NUM_SPLITS}, 300); {SOURCE}"
        )
    order = ls_set[split]
    if order.min() < 1 or order.max() > len(persons) or len(set(order.tolist())) != len(order):
        raise UserError(
            f"{mat_path}: ls_set row {split} must be distinct 1-based indices into the "
            f"{len(persons)} person folders; the split file does not match the sequences"
        )
    half = len(order) // 2
    first, second = order[:half], order[half:]
    train_idx, test_idx = (second, first) if train_half == "second" else (first, second)

    def tracklet(index: int, cam: int) -> Tracklet:
        name = persons[index - 1]
        folder = cam_dirs[cam] / name
        frames = list_images(folder)
        if not frames:
            raise UserError(f"{folder}: no images; the iLIDS-VID copy is incomplete")
        return Tracklet(frames=tuple(str(p) for p in frames), pid=_pid(name, folder), camid=cam)

    train = [tracklet(i, cam) for i in np.sort(train_idx).tolist() for cam in (0, 1)]
    test_sorted = np.sort(test_idx).tolist()
    query = [tracklet(i, 0) for i in test_sorted]
    gallery = [tracklet(i, 1) for i in test_sorted]
    return ReidDataset(name="ilidsvid", train=train, query=query, gallery=gallery, root=root)


def _pid(name: str, folder: Path) -> int:
    digits = name.removeprefix("person")
    if not digits.isdigit():
        raise UserError(f"{folder}: expected a folder named personNNN")
    return int(digits)
