"""MARS, iLIDS-VID and LS-VID readers on miniature copies of the official layouts.

Each fixture writes a handful of tiny images and the official index files (``.mat`` files through
scipy.io.savemat with the original variable names and shapes), so the expected tracklets, cameras
and query/gallery splits below are derived by hand from the fixture.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import scipy.io

from cgclip.data import list_datasets, load_dataset
from cgclip.errors import UserError


def write_image(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((8, 4, 3), value % 256, np.uint8)
    assert cv2.imwrite(str(path), img)


# --------------------------------------------------------------------------------------- MARS
# (pid, cam, tracklet no., frames) in the order of the name lists
MARS_TRAIN = [(1, 1, 1, 3), (1, 2, 1, 2), (3, 1, 1, 2)]
MARS_TEST = [(-1, 1, 1, 2), (0, 2, 1, 2), (2, 1, 1, 3), (2, 2, 1, 2), (2, 1, 2, 2), (4, 3, 1, 2)]
MARS_QUERY = [3, 6]  # 1-based rows of track_test_info: pid 2 cam 1, pid 4 cam 3


def mars_names(rows: list[tuple[int, int, int, int]]) -> tuple[list[str], np.ndarray]:
    names, info = [], []
    for pid, cam, trk, n in rows:
        pid_s = f"{pid:04d}" if pid >= 0 else "00-1"
        start = len(names) + 1
        names += [f"{pid_s}C{cam}T{trk:04d}F{f:03d}.jpg" for f in range(1, n + 1)]
        info.append([start, len(names), pid, cam])
    return names, np.array(info, dtype=np.float64)  # MATLAB stores doubles


@pytest.fixture()
def mars_root(tmp_path: Path) -> Path:
    root = tmp_path / "MARS"
    for split, rows, key in (
        ("train", MARS_TRAIN, "track_train_info"),
        ("test", MARS_TEST, "track_test_info"),
    ):
        names, info = mars_names(rows)
        for i, name in enumerate(names):
            write_image(root / f"bbox_{split}" / name[:4] / name, i)
        (root / "info").mkdir(parents=True, exist_ok=True)
        (root / "info" / f"{split}_name.txt").write_text("\n".join(names) + "\n")
        scipy.io.savemat(root / "info" / f"tracks_{split}_info.mat", {key: info})
    scipy.io.savemat(root / "info" / "query_IDX.mat", {"query_IDX": np.array([MARS_QUERY])})
    return root


def test_mars_tracklets_cameras_and_split(mars_root: Path) -> None:
    ds = load_dataset("mars", mars_root)
    assert [(t.pid, t.camid, len(t)) for t in ds.train] == [(1, 0, 3), (1, 1, 2), (3, 0, 2)]
    # the official gallery is every test tracklet, junk and distractors included
    assert [(t.pid, t.camid, len(t)) for t in ds.gallery] == [
        (p, c - 1, n) for p, c, _, n in MARS_TEST
    ]
    assert [(t.pid, t.camid) for t in ds.query] == [(2, 0), (4, 2)]
    first = ds.train[0].frames
    assert all(Path(f).is_absolute() and Path(f).is_file() for f in first)
    assert [Path(f).name for f in first] == [f"0001C1T0001F00{i}.jpg" for i in (1, 2, 3)]
    # query 0 (pid 2, cam 0): ignore junk, itself and its same-camera tracklet; keep the rest
    expected = np.array(
        [
            [True, False, True, False, True, False],
            [True, False, False, False, False, True],
        ]
    )
    np.testing.assert_array_equal(ds.ignore_mask(), expected)
    assert ds.captions_path is None


def test_mars_missing_and_malformed_files(mars_root: Path, tmp_path: Path) -> None:
    (mars_root / "info" / "query_IDX.mat").unlink()
    with pytest.raises(UserError, match=r"query_IDX\.mat: file not found; get MARS"):
        load_dataset("mars", mars_root)
    scipy.io.savemat(mars_root / "info" / "query_IDX.mat", {"query_idx": np.array([[1]])})
    with pytest.raises(
        UserError, match=r"query_IDX\.mat: no variable 'query_IDX' \(found \['query_idx'\]\)"
    ):
        load_dataset("mars", mars_root)
    scipy.io.savemat(mars_root / "info" / "query_IDX.mat", {"query_IDX": np.array([[99]])})
    with pytest.raises(UserError, match=r"1-based rows of track_test_info \(1\.\.6\)"):
        load_dataset("mars", mars_root)
    scipy.io.savemat(mars_root / "info" / "query_IDX.mat", {"query_IDX": np.array([[1]])})
    scipy.io.savemat(
        mars_root / "info" / "tracks_train_info.mat", {"track_train_info": np.ones((3, 3))}
    )
    with pytest.raises(
        UserError, match=r"tracks_train_info\.mat: variable 'track_train_info' has shape \(3, 3\)"
    ):
        load_dataset("mars", mars_root)
    (mars_root / "info" / "tracks_train_info.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(UserError, match=r"tracks_train_info\.mat"):
        load_dataset("mars", mars_root)


def test_mars_names_not_matching_info(mars_root: Path) -> None:
    names, info = mars_names(MARS_TRAIN)
    info[0, 2] = 3  # claims pid 3 for images named 0001...
    scipy.io.savemat(mars_root / "info" / "tracks_train_info.mat", {"track_train_info": info})
    with pytest.raises(
        UserError,
        match=r"train_name\.txt: images 1\.\.3 \(track row 1\) do not all belong to pid 3",
    ):
        load_dataset("mars", mars_root)


# ---------------------------------------------------------------------------------- iLIDS-VID
ILIDS_PEOPLE = ["person001", "person002", "person005", "person007"]  # numbers have gaps


@pytest.fixture()
def ilids_root(tmp_path: Path) -> Path:
    root = tmp_path / "iLIDS-VID"
    for cam in (1, 2):
        for k, person in enumerate(ILIDS_PEOPLE):
            for f in range(2 + k % 2):
                write_image(
                    root
                    / "i-LIDS-VID"
                    / "sequences"
                    / f"cam{cam}"
                    / person
                    / f"cam{cam}_{person}_{f:05d}.png"
                )
    ls_set = np.array([[3, 1, 4, 2]] + [[1, 2, 3, 4]] * 9, dtype=np.float64)  # (10, 2 * half)
    split_dir = root / "train-test people splits"
    split_dir.mkdir(parents=True)
    scipy.io.savemat(split_dir / "train_test_splits_ilidsvid.mat", {"ls_set": ls_set})
    return root


def test_ilidsvid_split_halves_and_cameras(ilids_root: Path) -> None:
    ds = load_dataset("ilidsvid", ilids_root, split=0)
    # row 0 = [3, 1, 4, 2]: first half (people 3 and 1 -> person005, person001) is the test set
    assert [(t.pid, t.camid) for t in ds.query] == [(1, 0), (5, 0)]
    assert [(t.pid, t.camid) for t in ds.gallery] == [(1, 1), (5, 1)]
    assert [(t.pid, t.camid) for t in ds.train] == [(2, 0), (2, 1), (7, 0), (7, 1)]
    assert [len(t) for t in ds.train] == [3, 3, 3, 3]
    assert not ds.ignore_mask().any()  # cross-camera by construction
    first = load_dataset("ilidsvid", ilids_root, split=0, train_half="first")
    assert sorted({t.pid for t in first.train}) == [1, 5]
    other = load_dataset("ILIDS-VID", ilids_root, split=3)  # rows 1..9 are [1, 2, 3, 4]
    assert [t.pid for t in other.query] == [1, 2]


def test_ilidsvid_bad_inputs(ilids_root: Path) -> None:
    with pytest.raises(UserError, match=r"split must be an integer in 0\.\.9, got 10"):
        load_dataset("ilidsvid", ilids_root, split=10)
    mat = ilids_root / "train-test people splits" / "train_test_splits_ilidsvid.mat"
    scipy.io.savemat(mat, {"ls_set": np.ones((5, 4))})
    with pytest.raises(UserError, match=r"ls_set has shape \(5, 4\), expected \(10, 300\)"):
        load_dataset("ilidsvid", ilids_root)
    scipy.io.savemat(mat, {"splits": np.ones((10, 4))})
    with pytest.raises(UserError, match=r"train_test_splits_ilidsvid\.mat: no variable 'ls_set'"):
        load_dataset("ilidsvid", ilids_root)
    for p in (ilids_root / "i-LIDS-VID/sequences/cam2/person007").iterdir():
        p.unlink()
    (ilids_root / "i-LIDS-VID/sequences/cam2/person007").rmdir()
    with pytest.raises(
        UserError, match=r"cam1 and cam2 hold different people \(e\.g\. \['person007'\]\)"
    ):
        load_dataset("ilidsvid", ilids_root)


# ------------------------------------------------------------------------------------- LS-VID
# (list prefix, pid, camera, frames)
LSVID_TRAIN = [
    ("tracklet_train/0001/0001_t01_", 1, 1, 3),
    ("tracklet_train/0001/0001_t02_", 1, 4, 2),
]
LSVID_TEST = [
    ("tracklet_test/0002/0002_t01_", 2, 2, 2),
    ("tracklet_test/0002/0002_t02_", 2, 2, 3),  # same camera as the query: ignored
    ("tracklet_test/0002/0002_t03_", 2, 5, 2),
    ("tracklet_test/0003/0003_t01_", 3, 12, 2),
    ("tracklet_test/0000/0000_t01_", -1, 3, 2),  # junk
]


def write_lsvid(root: Path, info_key: str = "query", hdf5: bool = False) -> None:
    for name, rows in (("train", LSVID_TRAIN), ("test", LSVID_TEST)):
        for prefix, _pid, cam, n in rows:
            for f in range(n):
                write_image(root / f"{prefix}{cam:02d}_{f:04d}.jpg")
        lines = [f"{prefix} {pid}" for prefix, pid, _, _ in rows]
        (root / "list_sequence").mkdir(parents=True, exist_ok=True)
        (root / "list_sequence" / f"list_seq_{name}.txt").write_text("\n".join(lines) + "\n")
    info = root / "test" / "data" / "info_test.mat"
    info.parent.mkdir(parents=True, exist_ok=True)
    query = np.array([[1, 4]], dtype=np.float64)
    if hdf5:
        write_mat73(info, info_key, query)
    else:
        scipy.io.savemat(info, {info_key: query})


def write_mat73(path: Path, key: str, value: np.ndarray) -> None:
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 with a 512-byte header, arrays transposed."""
    with h5py.File(path, "w", userblock_size=512) as fh:
        fh.create_dataset(key, data=value.T)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 ."
    with path.open("r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")


@pytest.mark.parametrize("hdf5", [False, True], ids=["mat-v5", "mat-v7.3"])
def test_lsvid_tracklets_and_query(tmp_path: Path, hdf5: bool) -> None:
    root = tmp_path / "LS-VID"
    write_lsvid(root, hdf5=hdf5)
    ds = load_dataset("lsvid", root)
    assert [(t.pid, t.camid, len(t)) for t in ds.train] == [(1, 0, 3), (1, 3, 2)]
    assert [(t.pid, t.camid, len(t)) for t in ds.gallery] == [
        (pid, cam - 1, n) for _, pid, cam, n in LSVID_TEST
    ]
    assert [(t.pid, t.camid) for t in ds.query] == [(2, 1), (3, 11)]
    np.testing.assert_array_equal(
        ds.ignore_mask(),
        [[True, True, False, False, True], [False, False, False, True, True]],
    )
    assert all(Path(f).name.startswith("0002_t02_") for f in ds.gallery[1].frames)


def test_lsvid_bad_inputs(tmp_path: Path) -> None:
    root = tmp_path / "LS-VID"
    write_lsvid(root, info_key="gallery", hdf5=True)
    with pytest.raises(
        UserError, match=r"info_test\.mat: no variable 'query' \(found \['gallery'\]\)"
    ):
        load_dataset("lsvid", root)
    (root / "test" / "data" / "info_test.mat").unlink()
    with pytest.raises(
        UserError, match=r"LS-VID info_test\.mat not found \(looked for .*test/data/info_test\.mat"
    ):
        load_dataset("lsvid", root)
    lst = root / "list_sequence" / "list_seq_train.txt"
    lst.write_text("tracklet_train/0001/0001_t01_ 1\ntracklet_train/9999/nothing_ 5\n")
    with pytest.raises(UserError, match=r"list_seq_train\.txt:2: no images under"):
        load_dataset("lsvid", root)
    lst.write_text("tracklet_train/0001/0001_t01_ one\n")
    with pytest.raises(UserError, match=r"list_seq_train\.txt:1: expected '<path prefix> <pid>'"):
        load_dataset("lsvid", root)


# ----------------------------------------------------------------------------------- registry
def test_registry_names_options_and_missing_roots(tmp_path: Path, mars_root: Path) -> None:
    assert list_datasets() == [
        "crops",
        "dancevreid",
        "ilidsvid",
        "lsvid",
        "mars",
        "sportsvreid",
        "synthetic",
    ]
    with pytest.raises(
        UserError, match=r"unknown dataset 'market'; choose one of crops, dancevreid"
    ):
        load_dataset("market", tmp_path)
    for name, where in [
        ("mars", "get MARS from"),
        ("ilidsvid", "get iLIDS-VID from"),
        ("lsvid", "get LS-VID through"),
        ("sportsvreid", "get SportsMOT from"),
        ("dancevreid", "get DanceTrack from"),
        ("synthetic", "generate it with `python -m cgclip.data.synthetic generate"),
    ]:
        with pytest.raises(UserError, match=rf"nowhere: {name} dataset root not found; {where}"):
            load_dataset(name, tmp_path / "nowhere")
    with pytest.raises(UserError, match=r"unknown option\(s\) \['split'\] for dataset mars"):
        load_dataset("mars", mars_root, split=1)
    with pytest.raises(UserError, match=r"caps\.json: caption file not found"):
        load_dataset("mars", mars_root, captions=tmp_path / "caps.json")
    (mars_root / "captions.json").write_text('{"1": ["a man"]}')
    assert load_dataset("mars", mars_root).captions_path == (mars_root / "captions.json").resolve()
