"""MARS (Zheng et al., ECCV 2016) from its official layout.

::

    ROOT/bbox_train/<pid>/<pid>C<cam>T<tracklet>F<frame>.jpg     e.g. 0001/0001C1T0001F001.jpg
    ROOT/bbox_test/<pid>/...                                      junk ids live in 00-1/
    ROOT/info/train_name.txt, test_name.txt                       one image name per line
    ROOT/info/tracks_train_info.mat   track_train_info (8298, 4)  [start, end, pid, cam], 1-based
    ROOT/info/tracks_test_info.mat    track_test_info (12180, 4)  rows index into test_name.txt
    ROOT/info/query_IDX.mat           query_IDX (1, 1980)         1-based rows of track_test_info

Official protocol (the MARS evaluation code): the gallery is *every* test tracklet, queries
included; for each query, gallery tracklets of the same identity and camera and the junk
tracklets (pid -1) are ignored, distractors (pid 0) stay as negatives. That is exactly
:meth:`ReidDataset.ignore_mask`'s default, so no custom mask is set. Pids are the dataset's own;
cameras are 0-based.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cgclip.data._files import (
    as_int_matrix,
    load_mat_array,
    read_lines,
    require_dir,
)
from cgclip.data.tracklets import JUNK_PID, ReidDataset, Tracklet
from cgclip.errors import UserError

SOURCE = (
    "get MARS from http://zheng-lab.cecs.anu.edu.au/Project/project_mars.html (images) and "
    "https://github.com/liangzheng06/MARS-evaluation (the info/ folder), and unpack bbox_train/, "
    "bbox_test/ and info/ into the dataset root"
)


def read_mars(root: Path) -> ReidDataset:
    root = Path(root).resolve()
    info = require_dir(root / "info", SOURCE)
    for sub in ("bbox_train", "bbox_test"):
        require_dir(root / sub, SOURCE)
    train_names = read_lines(info / "train_name.txt", SOURCE)
    test_names = read_lines(info / "test_name.txt", SOURCE)
    train_info = _track_info(info / "tracks_train_info.mat", "track_train_info", len(train_names))
    test_info = _track_info(info / "tracks_test_info.mat", "track_test_info", len(test_names))
    query_path = info / "query_IDX.mat"
    query_idx = load_mat_array(query_path, "query_IDX", SOURCE)
    query_idx = as_int_matrix(np.atleast_2d(query_idx), query_path, "query_IDX", None, SOURCE)
    query_idx = query_idx.reshape(-1)
    if query_idx.size == 0 or query_idx.min() < 1 or query_idx.max() > len(test_info):
        raise UserError(
            f"{query_path}: query_IDX must hold 1-based rows of track_test_info "
            f"(1..{len(test_info)}); {SOURCE}"
        )

    train = [
        t
        for t in _tracklets(root / "bbox_train", train_names, train_info, info / "train_name.txt")
        if t.pid != JUNK_PID  # the training split has none; skip defensively as the official code
    ]
    test = _tracklets(root / "bbox_test", test_names, test_info, info / "test_name.txt")
    query = [test[i - 1] for i in query_idx.tolist()]
    return ReidDataset(name="mars", train=train, query=query, gallery=test, root=root)


def _track_info(path: Path, key: str, n_names: int) -> np.ndarray:
    arr = as_int_matrix(load_mat_array(path, key, SOURCE), path, key, 4, SOURCE)
    start, end = arr[:, 0], arr[:, 1]
    bad = np.flatnonzero((start < 1) | (end < start) | (end > n_names))
    if bad.size:
        i = int(bad[0])
        raise UserError(
            f"{path}: row {i + 1} of {key} spans images {start[i]}..{end[i]}, outside 1..{n_names} "
            f"of the matching *_name.txt; the info files do not belong together"
        )
    return arr


def _pid_folder(pid: int) -> str:
    return f"{pid:04d}" if pid >= 0 else "00-1"


def _tracklets(
    image_root: Path, names: list[str], info: np.ndarray, names_path: Path
) -> list[Tracklet]:
    out: list[Tracklet] = []
    for row, (start, end, pid, cam) in enumerate(info.tolist(), start=1):
        frames = names[start - 1 : end]
        folder = _pid_folder(pid)
        if any(not name.startswith(folder) for name in frames):
            raise UserError(
                f"{names_path}: images {start}..{end} (track row {row}) do not all belong to pid "
                f"{pid}; the info .mat file and the name list do not match"
            )
        first = image_root / folder / frames[0]
        if not first.is_file():
            raise UserError(f"{first}: image listed in {names_path.name} is missing; {SOURCE}")
        base = f"{image_root / folder}{os.sep}"  # plain strings: pathlib is slow for 1M frames
        paths = tuple(base + name for name in frames)
        out.append(Tracklet(frames=paths, pid=int(pid), camid=int(cam) - 1))
    return out
