"""The VReID builder on hand-made MOT sequences (filtering, cutting, id map, resume, bad input)
and end to end on the project's synthetic sequences.

The hand-made MOT root (200x100 frames, SportsMOT-style gt with visibility 1 everywhere):

- train/seqA, 120 frames: track 1 is a 20x60 box on every frame (120 frames -> 3 tracklets of
  40); track 2 is 20 px tall on every frame (too small); track 3 stands right behind track 1 on
  frames 1-30 (about 18% visible -> too occluded); track 4 is on frames 1-10, 40-45 and 80-82
  (gaps over max_gap=10 -> pieces of 10, 6 and 3 frames; the 3-frame piece is below min_len=4).
- val/seqB, 30 frames: tracks 1 and 7, one tracklet each. val/seqC, 30 frames: track 7.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import cgclip.data.build_vreid as build_mod
from cgclip.captions import load_captions, read_attributes
from cgclip.data import load_dataset
from cgclip.data.build_vreid import build_vreid, main
from cgclip.data.mot_crops import CropOptions
from cgclip.errors import UserError
from cgclip.io.mot import SeqInfo, read_mot, write_mot, write_seqinfo

W, H = 200, 100


def frames_of_track(track: int, n_frames: int) -> list[int]:
    if track == 3:
        return list(range(1, 31))
    if track == 4:
        return [*range(1, 11), *range(40, 46), *range(80, 83)]
    return list(range(1, n_frames + 1))


BOXES = {
    1: (10, 10, 20, 60),
    2: (100, 10, 20, 20),
    3: (12, 5, 20, 60),
    4: (150, 20, 24, 70),
    7: (60, 30, 20, 50),
}


def write_sequence(seq_dir: Path, n_frames: int, tracks: list[int]) -> None:
    rows = []
    for t in tracks:
        x, y, w, h = BOXES[t]
        rows += [(f, t, x, y, w, h, 1, 1, 1) for f in frames_of_track(t, n_frames)]
    write_mot(seq_dir / "gt" / "gt.txt", np.array(rows, dtype=np.float64))
    write_seqinfo(seq_dir, SeqInfo(seq_dir.name, 25, n_frames, W, H))
    (seq_dir / "img1").mkdir(parents=True)
    for f in range(1, n_frames + 1):
        img = np.full((H, W, 3), f % 200, np.uint8)
        cv2.imwrite(str(seq_dir / "img1" / f"{f:06d}.jpg"), img)


@pytest.fixture()
def mot_root(tmp_path: Path) -> Path:
    root = tmp_path / "mot"
    write_sequence(root / "train" / "seqA", 120, [1, 2, 3, 4])
    write_sequence(root / "val" / "seqB", 30, [1, 7])
    write_sequence(root / "val" / "seqC", 30, [7])
    return root


def write_map(path: Path, rows: list[tuple[str, int, int]]) -> Path:
    path.write_text("sequence,track_id,global_id\n" + "".join(f"{s},{t},{g}\n" for s, t, g in rows))
    return path


def index_of(out: Path) -> dict:
    return json.loads((out / "index.json").read_text())


def test_build_filters_and_cuts_tracks(mot_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "vreid"
    build_vreid(mot_root, out, splits=["train", "val"], progress=False)
    index = index_of(out)
    got = [(t["seq"], t["track"], t["frames"][0], len(t["frames"])) for t in index["tracklets"]]
    assert got == [
        ("seqA", 1, 1, 40),
        ("seqA", 1, 41, 40),
        ("seqA", 1, 81, 40),
        ("seqA", 4, 1, 10),
        ("seqA", 4, 40, 6),
        ("seqB", 1, 1, 30),
        ("seqB", 7, 1, 30),
        ("seqC", 7, 1, 30),
    ]
    assert index["stats"] == {
        "ignored": 0,
        "small": 120,  # track 2
        "occluded": 30,  # track 3
        "short": 3,  # frames 80-82 of track 4
        "kept": 40 * 3 + 10 + 6 + 30 * 3,
        "tracklets": 8,
    }
    # without an id map every (sequence, track) is one identity; every sequence is one camera
    assert [t["pid"] for t in index["tracklets"]] == [1, 1, 1, 2, 2, 3, 4, 5]
    assert [t["camid"] for t in index["tracklets"]] == [0, 0, 0, 0, 0, 1, 1, 2]
    crop = cv2.imread(str(out / "train" / "seqA" / "00001" / "000041.jpg"))
    assert crop.shape == (60, 20, 3)
    assert crop[0, 0, 0] == pytest.approx(41, abs=3)  # cut from frame 41 (gray level = frame)

    ds = load_dataset("sportsvreid", out)
    assert max(len(t) for t in ds.train + ds.gallery) <= 50
    assert all(Path(f).is_file() for t in ds.train for f in t.frames)
    assert [t.start for t in ds.train] == [1, 41, 81, 1, 40]
    # no identity spans two videos: the temporal protocol; 30-frame val tracks have no match
    assert ds.query == [] and len(ds.gallery) == 3


def test_build_options_change_filtering(mot_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "loose"
    opts = CropOptions(min_height=10, min_visibility=0.1, max_len=25, min_len=1)
    build_vreid(mot_root, out, splits=["train"], options=opts, progress=False)
    lengths = {(t["track"]): [] for t in index_of(out)["tracklets"]}
    for t in index_of(out)["tracklets"]:
        lengths[t["track"]].append(len(t["frames"]))
    assert lengths == {1: [24, 24, 24, 24, 24], 2: [24, 24, 24, 24, 24], 3: [15, 15], 4: [10, 6, 3]}


def test_id_map_links_videos_and_sets_the_protocol(mot_root: Path, tmp_path: Path) -> None:
    id_map = write_map(tmp_path / "map.csv", [("seqA", 1, 100), ("seqB", 7, 200), ("seqC", 7, 200)])
    out = tmp_path / "vreid"
    build_vreid(mot_root, out, splits=["train", "val"], id_map=id_map, progress=False)
    index = index_of(out)
    pids = {(t["seq"], t["track"]): t["pid"] for t in index["tracklets"]}
    # unmapped tracks get fresh ids after the largest global id, in (split, seq, track) order
    assert pids == {
        ("seqA", 1): 100,
        ("seqA", 4): 201,
        ("seqB", 1): 202,
        ("seqB", 7): 200,
        ("seqC", 7): 200,
    }
    assert index["unmapped_tracks"] == 2
    ds = load_dataset("dancevreid", out)
    assert ds.num_train_pids == 2
    # pid 200 is in seqB and seqC: cross-video protocol, one query per (identity, video)
    assert [(t.pid, t.seq) for t in ds.query] == [(200, "seqB"), (200, "seqC")]
    assert ds.ignore is None
    mask = ds.ignore_mask()
    assert mask.tolist() == [[False, True, False], [False, False, True]]


def test_resume_after_interrupted_build(
    mot_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = tmp_path / "clean"
    build_vreid(mot_root, clean, progress=False)
    out = tmp_path / "resumed"
    real = build_mod.build_sequence
    calls: list[str] = []

    def crash_in_second(seq_dir: Path, *args, **kwargs):
        calls.append(seq_dir.name)
        result = real(seq_dir, *args, **kwargs)  # the crops of seqB get written ...
        if len(calls) == 2:
            raise KeyboardInterrupt  # ... but the run dies before its marker
        return result

    monkeypatch.setattr(build_mod, "build_sequence", crash_in_second)
    with pytest.raises(KeyboardInterrupt):
        build_vreid(mot_root, out, progress=False)
    assert (out / "train" / "seqA" / "tracklets.json").is_file()
    assert (out / "val" / "seqB" / "00001").is_dir() and not (
        out / "val" / "seqB" / "tracklets.json"
    ).exists()
    assert not (out / "index.json").exists()
    stamp = (out / "train" / "seqA" / "00001" / "000001.jpg").stat().st_mtime_ns

    calls.clear()
    monkeypatch.setattr(
        build_mod, "build_sequence", lambda d, *a, **k: calls.append(d.name) or real(d, *a, **k)
    )
    build_vreid(mot_root, out, progress=False)
    assert calls == ["seqB", "seqC"]  # seqA was finished and is not redone
    assert (out / "train" / "seqA" / "00001" / "000001.jpg").stat().st_mtime_ns == stamp
    assert index_of(out)["tracklets"] == index_of(clean)["tracklets"]

    calls.clear()  # a new id map only relabels; nothing is cropped again
    build_vreid(
        mot_root, out, id_map=write_map(tmp_path / "m.csv", [("seqA", 1, 5)]), progress=False
    )
    assert calls == []
    calls.clear()  # changed cutting options redo every sequence
    build_vreid(mot_root, out, options=CropOptions(max_len=30), progress=False)
    assert calls == ["seqA", "seqB", "seqC"]
    assert max(len(t["frames"]) for t in index_of(out)["tracklets"]) == 30


def test_cli_builds_and_reports_bad_input_in_one_line(
    mot_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    assert (
        main(
            [
                "--mot-root",
                str(mot_root),
                "--split",
                "train",
                "--out",
                str(out),
                "--quiet",
                "--max-len",
                "20",
            ]
        )
        == 0
    )
    assert {len(t["frames"]) for t in index_of(out)["tracklets"] if t["track"] == 1} == {20}
    capsys.readouterr()
    assert main(["--mot-root", str(mot_root), "--split", "test", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("error: ") and "mot/test: split folder not found" in err and "\n" not in err
    )
    assert main(["--mot-root", str(mot_root), "--out", str(out), "--min-visibility", "2"]) == 2
    assert "min_visibility must be in [0, 1]" in capsys.readouterr().err


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda s: (s / "gt" / "gt.txt").unlink(), r"seqB/gt/gt\.txt: ground truth not found"),
        (
            lambda s: (s / "gt" / "gt.txt").write_text(""),
            r"seqB/gt/gt\.txt: no boxes; an empty sequence",
        ),
        (
            lambda s: (s / "gt" / "gt.txt").write_text("1,1,10,10,20,60,1,1,1\n2,1,10,ten,20,60\n"),
            r"seqB/gt/gt\.txt:2: 'ten' is not a number",
        ),
        (
            lambda s: (s / "gt" / "gt.txt").write_text("1,1,10,10\n"),
            r"seqB/gt/gt\.txt:1: expected at least 6",
        ),
        (
            lambda s: (s / "img1" / "000007.jpg").unlink(),
            r"seqB/gt/gt\.txt: frame 7 has boxes but .*img1 has no image",
        ),
        (
            lambda s: (s / "img1" / "000003.jpg").write_bytes(b"xx"),
            r"000003\.jpg: cannot decode image",
        ),
        (lambda s: shutil.rmtree(s / "img1"), r"seqB/img1: image folder of the sequence not found"),
    ],
    ids=[
        "missing-gt",
        "empty-gt",
        "non-number",
        "short-row",
        "missing-frame",
        "corrupt-frame",
        "no-img1",
    ],
)
def test_bad_sequences_name_the_file(mot_root: Path, tmp_path: Path, damage, message: str) -> None:
    damage(mot_root / "val" / "seqB")
    with pytest.raises(UserError, match=message):
        build_vreid(mot_root, tmp_path / "out", progress=False)


def test_bad_id_maps(mot_root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    cases = [
        (
            "seq,track,id\nseqA,1,1\n",
            r"bad\.csv: header must name the columns sequence,track_id,global_id",
        ),
        (
            "sequence,track_id,global_id\nseqA,one,1\n",
            r"bad\.csv:2: track_id and global_id must be integers",
        ),
        (
            "sequence,track_id,global_id\nseqA,1,3\nseqA,1,4\n",
            r"bad\.csv:3: seqA track 1 mapped to both 3 and 4",
        ),
        ("sequence,track_id,global_id\nseqA,1,0\n", r"bad\.csv:2: global_id must be >= 1"),
    ]
    for text, message in cases:
        bad.write_text(text)
        with pytest.raises(UserError, match=message):
            build_vreid(mot_root, tmp_path / "out", id_map=bad, progress=False)
    with pytest.raises(UserError, match=r"nope\.csv: id map not found"):
        build_vreid(mot_root, tmp_path / "out", id_map=tmp_path / "nope.csv", progress=False)


def test_reader_rejects_mot_roots_and_broken_indexes(mot_root: Path, tmp_path: Path) -> None:
    with pytest.raises(
        UserError, match=r"this is a MOT dataset root, not a built sportsvreid folder"
    ):
        load_dataset("sportsvreid", mot_root)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=r"empty/index\.json: VReID index not found; build it with"):
        load_dataset("dancevreid", empty)
    (empty / "index.json").write_text("{not json")
    with pytest.raises(UserError, match=r"index\.json: not valid JSON"):
        load_dataset("dancevreid", empty)
    (empty / "index.json").write_text(
        '{"format": "cgclip-vreid", "version": 1, "tracklets": [{"split": "train"}]}'
    )
    with pytest.raises(UserError, match=r"tracklet entry 0 is malformed \(KeyError"):
        load_dataset("dancevreid", empty)


# ------------------------------------------------------------------- synthetic, end to end
def test_synthetic_sequences_end_to_end(synthetic_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "synthetic"
    shutil.copytree(synthetic_root, root, ignore=shutil.ignore_patterns("*.mp4"))
    ds = load_dataset("synthetic", root)  # builds ROOT/vreid from the generated MOT set
    index = index_of(root / "vreid")
    id_map = {
        (r.split(",")[0], int(r.split(",")[1])): int(r.split(",")[2])
        for r in (root / "id_map.csv").read_text().split()[1:]
    }
    for t in index["tracklets"]:
        assert t["pid"] == id_map[(t["seq"], t["track"])]  # every track is mapped
        assert 4 <= len(t["frames"]) <= 50
    assert index["unmapped_tracks"] == 0
    gt_boxes = sum(len(read_mot(p, "gt")) for p in root.glob("*/*/gt/gt.txt"))
    s = index["stats"]
    assert s["kept"] + s["small"] + s["occluded"] + s["short"] + s["ignored"] == gt_boxes
    assert s["occluded"] > 0  # the generator's depth-ordered occlusions are filtered

    # identities recur across videos of a split, so the cross-video protocol applies
    assert ds.query and ds.ignore is None
    assert all(len({t.seq for t in ds.gallery if t.pid == q.pid}) > 1 for q in ds.query)
    assert {t.pid for t in ds.train}.isdisjoint({t.pid for t in ds.gallery})

    captions = load_captions(ds.captions_path)
    attributes = read_attributes(root / "identities.csv")
    assert set(captions) == {t["pid"] for t in index["tracklets"]}
    for pid, caps in captions.items():
        assert len(caps) == 10 and len(set(caps)) == 10
        uniform = attributes[pid]["uniform"].split(",")[0].strip()
        assert all(uniform in c for c in caps)
        if attributes[pid]["number"]:
            assert all(f"number {attributes[pid]['number']}" in c for c in caps)
    again = load_dataset("synthetic", root)  # built once: the second call only reads
    assert [t.frames for t in again.train] == [t.frames for t in ds.train]


def test_threaded_crop_writing_gives_the_same_set(mot_root: Path, tmp_path: Path) -> None:
    build_vreid(mot_root, tmp_path / "one", progress=False, workers=1)
    build_vreid(mot_root, tmp_path / "two", progress=False, workers=3)
    assert index_of(tmp_path / "one")["tracklets"] == index_of(tmp_path / "two")["tracklets"]
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.jpg"))
    assert files == sorted(
        p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.jpg")
    )
    for rel in files[::25]:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()
