"""LS-VID (Li et al., ICCV 2019) from its official layout.

::

    ROOT/list_sequence/list_seq_train.txt    "<path prefix> <pid>" per tracklet
    ROOT/list_sequence/list_seq_test.txt
    ROOT/test/data/info_test.mat             variable "query": 1-based rows of list_seq_test
    ROOT/tracklet_train/..., ROOT/tracklet_test/...   the frames

A tracklet's frames are the images whose path (relative to ROOT) starts with its prefix; their
file names are ``<a>_<b>_<cam>_<c>.jpg`` and the camera is the third ``_`` field (1..15).
``info_test.mat`` is a MATLAB v7.3 (HDF5) file in the official release; v5 files work too.
Protocol (as the GLTR/TF-CLIP code): the gallery is the whole test list (queries included,
otherwise some queries have no true match); same-identity-same-camera items and junk (pid -1) are
ignored, which is :meth:`ReidDataset.ignore_mask`'s default. Cameras are 0-based.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cgclip.data._files import (
    PrefixIndex,
    as_int_matrix,
    first_existing,
    load_mat_array,
    read_lines,
    require_dir,
)
from cgclip.data.tracklets import JUNK_PID, ReidDataset, Tracklet
from cgclip.errors import UserError

SOURCE = (
    "get LS-VID through https://github.com/kanei1024/GLTR (request form) and unpack it so that "
    "the dataset root holds list_sequence/, test/data/info_test.mat and the tracklet_* folders"
)
INFO_TEST_CANDIDATES = ("test/data/info_test.mat", "info/data/info_test.mat", "info_test.mat")


def read_lsvid(root: Path) -> ReidDataset:
    root = Path(root).resolve()
    lists = require_dir(root / "list_sequence", SOURCE)
    index = PrefixIndex()
    train = [t for t in _read_list(root, lists / "list_seq_train.txt", index) if t.pid != JUNK_PID]
    test = _read_list(root, lists / "list_seq_test.txt", index)
    info_path = first_existing(root, INFO_TEST_CANDIDATES, "LS-VID info_test.mat", SOURCE)
    arr = np.atleast_2d(load_mat_array(info_path, "query", SOURCE))
    query_idx = as_int_matrix(arr, info_path, "query", None, SOURCE).reshape(-1)
    if query_idx.size == 0 or query_idx.min() < 1 or query_idx.max() > len(test):
        raise UserError(
            f"{info_path}: 'query' must hold 1-based rows of list_seq_test.txt (1..{len(test)}); "
            "the info file does not match the list"
        )
    query = [test[i - 1] for i in query_idx.tolist()]
    return ReidDataset(name="lsvid", train=train, query=query, gallery=test, root=root)


def _read_list(root: Path, path: Path, index: PrefixIndex) -> list[Tracklet]:
    out: list[Tracklet] = []
    for lineno, line in enumerate(read_lines(path, SOURCE), start=1):
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise UserError(f"{path}:{lineno}: expected '<path prefix> <pid>', got {line[:80]!r}")
        prefix, pid = parts[0], int(parts[1])
        frames = index.match(root / prefix)
        if not frames:
            raise UserError(f"{path}:{lineno}: no images under {root / prefix}*; {SOURCE}")
        out.append(Tracklet(frames=tuple(str(p) for p in frames), pid=pid, camid=_camid(frames[0])))
    if not out:
        raise UserError(f"{path}: lists no tracklets; {SOURCE}")
    return out


def _camid(frame: Path) -> int:
    fields = frame.stem.split("_")
    if len(fields) < 3 or not fields[2].lstrip("c").isdigit():
        raise UserError(f"{frame}: cannot read the camera from the name (expected a_b_<cam>_c.jpg)")
    return int(fields[2].lstrip("c")) - 1
