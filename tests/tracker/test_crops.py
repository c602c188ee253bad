"""``tracker.run --save-crops`` (``tracker.crops``): crops per id, best or all, and the round
trip into a ReID training set (``cgclip.data.crops``)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from cgclip.data import load_dataset
from cgclip.io.mot import read_mot
from tracker.run import main


def _run(sample_clip: Path, out: Path, *extra: str) -> list[str]:
    video, det = sample_clip / "sample.mp4", sample_clip / "det.txt"
    return [str(video), "--detections", str(det), "--output-dir", str(out), "--no-video", *extra]


def test_every_crop_per_id_makes_a_training_set(sample_clip, tmp_path, capsys):
    crops = tmp_path / "crops" / "sample"
    assert (
        main([*_run(sample_clip, tmp_path / "o"), "--save-crops", str(crops), "--crops", "all"])
        == 0
    )
    assert f"crops: {crops}" in capsys.readouterr().out
    rows = read_mot(tmp_path / "o" / "sample.mot.txt", kind="results")
    index = json.loads((crops / "crops.json").read_text())
    assert (index["format"], index["mode"], index["complete"]) == ("cgclip-crops", "all", True)
    ids = sorted({int(t) for t in rows[:, 1]})
    assert sorted(int(k) for k in index["ids"]) == ids
    frame = cv2.VideoCapture(str(sample_clip / "sample.mp4")).read()[1]
    for tid in ids:
        mine = rows[rows[:, 1] == tid]
        files = sorted((crops / f"{tid:05d}").glob("*.jpg"))
        assert [int(p.stem) for p in files] == mine[:, 0].astype(int).tolist()  # one per box
        assert index["ids"][str(tid)]["crops"] == len(files)
    # the crop is the box, not padded: frame 1's first box, cut from the first frame
    first = rows[rows[:, 0] == 1][0]
    x, y, w, h = first[2:6]
    crop = cv2.imread(str(crops / f"{int(first[1]):05d}" / "000001.jpg"))
    x1, y1 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
    x2, y2 = min(int(np.ceil(x + w)), frame.shape[1]), min(int(np.ceil(y + h)), frame.shape[0])
    assert crop.shape == (y2 - y1, x2 - x1, 3)
    assert np.abs(crop.astype(int) - frame[y1:y2, x1:x2].astype(int)).mean() < 6  # JPEG noise

    data = load_dataset("crops", tmp_path / "crops")  # a folder of per-video crop folders
    assert data.name == "crops" and data.query == [] and data.gallery == []
    # every id with a run of min_len (4) frames is kept; a short-lived false-positive id is not
    lasting = {t for t in ids if (rows[:, 1] == t).sum() >= 4}
    assert {t.track for t in data.train} == lasting and len(lasting) >= 8  # the sample's people
    assert data.num_train_pids == len(lasting) and {t.camid for t in data.train} == {0}
    for t in data.train:
        assert all(Path(f).is_file() and Path(f).parent.name == f"{t.track:05d}" for f in t.frames)
        assert len(t) <= 50 and [int(Path(f).stem) for f in t.frames][0] == t.start
    assert load_dataset("crops", crops).num_train_pids == len(lasting)  # one video's folder too


def test_best_crop_per_id_is_the_jsons_best_crop(sample_clip, tmp_path, capsys):
    crops = tmp_path / "best"
    assert main([*_run(sample_clip, tmp_path / "o"), "--save-crops", str(crops), "--quiet"]) == 0
    tracks = json.loads((tmp_path / "o" / "sample.tracks.json").read_text())["tracks"]
    saved = {int(p.parent.name): int(p.stem) for p in crops.glob("*/*.jpg")}
    assert saved == {int(k): v["best_crop"]["frame"] for k, v in tracks.items()}
    assert len(list(crops.glob("*/*.jpg"))) == len(tracks)  # one per id

    # the overwrite policy: an earlier crops folder is kept unless --overwrite
    before = sorted(p.name for p in crops.rglob("*"))
    argv = [*_run(sample_clip, tmp_path / "o2"), "--save-crops", str(crops), "--quiet"]
    assert main([*argv, "--max-frames", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: {crops}: already exists and is not empty; pass --overwrite to replace it, or "
        "choose another --save-crops folder"
    )
    assert sorted(p.name for p in crops.rglob("*")) == before
    assert main([*argv, "--max-frames", "5", "--overwrite", "--crops", "all"]) == 0
    assert json.loads((crops / "crops.json").read_text())["mode"] == "all"
    assert max(int(p.stem) for p in crops.glob("*/*.jpg")) == 5
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folders


def test_crops_option_without_a_folder_is_one_line(sample_clip, tmp_path, capsys):
    assert main([*_run(sample_clip, tmp_path), "--crops", "all", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --crops chooses what --save-crops writes")
