"""cgclip.io.mot: MOTChallenge txt, seqinfo.ini and seqmaps."""

from __future__ import annotations

import numpy as np
import pytest

from cgclip.errors import UserError
from cgclip.io.mot import (
    DET_TXT,
    GT_TXT,
    SeqInfo,
    find_sequences,
    frames_of,
    is_sequence,
    read_mot,
    read_seqinfo,
    read_seqmap,
    rows_to_xyxy,
    split_folder,
    write_mot,
    write_seqinfo,
    write_seqmap,
    xyxy_to_rows,
)


def test_round_trip_sorts_and_pads(tmp_path):
    rows = np.array(
        [[2, 7, 10, 20, 30, 40, 0.9], [1, 3, 1.5, 2.25, 3, 4, 0.5], [1, 1, 0, 0, 5, 5, 1]]
    )
    path = write_mot(tmp_path / "res.txt", rows)
    text = path.read_text().splitlines()
    assert text == [
        "1,1,0.00,0.00,5.00,5.00,1,-1,-1,-1",
        "1,3,1.50,2.25,3.00,4.00,0.5,-1,-1,-1",
        "2,7,10.00,20.00,30.00,40.00,0.9,-1,-1,-1",
    ]
    back = read_mot(path, "results")
    assert back.shape == (3, 10)
    np.testing.assert_allclose(back[:, :7], rows[np.lexsort((rows[:, 1], rows[:, 0]))])


def test_short_gt_rows_are_padded_per_kind(tmp_path):
    (tmp_path / "gt.txt").write_text("1 4 10 10 5 8\n")
    gt = read_mot(tmp_path / "gt.txt", "gt")
    assert gt.tolist() == [[1, 4, 10, 10, 5, 8, 1, 1, 1, -1]]
    det = read_mot(tmp_path / "gt.txt", "det")
    assert det[0, 6:].tolist() == [1, -1, -1, -1]


def test_empty_file_is_valid(tmp_path):
    (tmp_path / "det.txt").write_text("\n")
    assert read_mot(tmp_path / "det.txt").shape == (0, 10)
    assert frames_of(read_mot(tmp_path / "det.txt")) == {}


def test_frames_of_groups_by_frame():
    rows = np.array(
        [
            [1, 1, 0, 0, 1, 1, 1, -1, -1, -1],
            [1, 2, 0, 0, 1, 1, 1, -1, -1, -1],
            [4, 1, 0, 0, 1, 1, 1, -1, -1, -1],
        ],
        dtype=float,
    )
    groups = frames_of(rows)
    assert list(groups) == [1, 4]
    assert groups[1][:, 1].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("1,2,3", "at least 6"),
        ("1,2,3,4,x,6", "'x' is not a number"),
        ("0,1,1,1,5,5", "positive whole number"),
        ("1.5,1,1,1,5,5", "positive whole number"),
        ("1,1,1,1,-5,5", "width and height must be positive"),
        ("1,1,1,1,nan,5", "finite"),
        ("1,1,1,1,5,5,1,1,1,1,1", "at most 10"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path, line, needle):
    path = tmp_path / "det.txt"
    path.write_text("1,-1,1,1,5,5,0.9\n" + line + "\n")
    with pytest.raises(UserError) as err:
        read_mot(path)
    msg = str(err.value)
    assert f"{path}:2" in msg and needle in msg
    assert "\n" not in msg


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_mot(tmp_path / "nope.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(UserError, match="not a text file"):
        read_mot(tmp_path / "bin.txt")


def test_seqinfo_round_trip_and_errors(tmp_path):
    info = SeqInfo("dance-00", 25.0, 120, 640, 360)
    write_seqinfo(tmp_path / "seqinfo.ini", info)
    assert read_seqinfo(tmp_path) == info
    (tmp_path / "bad.ini").write_text("[Sequence]\nname=x\nframeRate=25\n")
    with pytest.raises(UserError, match="missing key seqLength"):
        read_seqinfo(tmp_path / "bad.ini")
    (tmp_path / "junk.ini").write_text("no sections here\n")
    with pytest.raises(UserError, match="malformed seqinfo.ini"):
        read_seqinfo(tmp_path / "junk.ini")


def test_seqmap_round_trip(tmp_path):
    write_seqmap(tmp_path / "val.txt", ["a", "b"])
    assert (tmp_path / "val.txt").read_text() == "name\na\nb\n"
    assert read_seqmap(tmp_path / "val.txt") == ["a", "b"]


def test_rows_and_boxes_convert_both_ways(tmp_path):
    xyxy = np.array([[10.0, 20.0, 40.0, 110.0], [0.5, 1.5, 2.5, 4.0]])
    rows = xyxy_to_rows(3, ids=[7, 2], xyxy=xyxy, conf=[0.9, 0.4])
    assert rows.tolist() == [
        [3, 7, 10, 20, 30, 90, 0.9, -1, -1, -1],
        [3, 2, 0.5, 1.5, 2, 2.5, 0.4, -1, -1, -1],
    ]
    assert np.array_equal(rows_to_xyxy(rows), xyxy)
    assert xyxy_to_rows(np.array([1, 2]), [1, 1], xyxy)[:, [0, 6]].tolist() == [[1, 1], [2, 1]]
    assert rows_to_xyxy(read_mot(write_mot(tmp_path / "r.txt", rows), "results")).tolist() == [
        [0.5, 1.5, 2.5, 4.0],  # sorted by id on disk
        [10.0, 20.0, 40.0, 110.0],
    ]
    assert xyxy_to_rows(1, [], np.zeros((0, 4))).shape == (0, 10)
    assert rows_to_xyxy(np.zeros((0, 10))).shape == (0, 4)


def test_sequence_discovery(tmp_path):
    root = tmp_path / "sportsmot"
    for seq, marker in (("b-02", GT_TXT), ("a-01", GT_TXT), ("c-03", DET_TXT)):
        (root / "dataset" / "val" / seq / marker).parent.mkdir(parents=True)
        (root / "dataset" / "val" / seq / marker).write_text("")
    (root / "dataset" / "val" / "notes").mkdir()
    val = split_folder(root, "val")
    assert val == root / "dataset" / "val"  # the SportsMOT release's extra level
    assert split_folder(root / "dataset", "val") == val and split_folder(root, "test") is None
    assert [p.name for p in find_sequences(val)] == ["a-01", "b-02"]
    assert [p.name for p in find_sequences(val, DET_TXT)] == ["c-03"]
    assert [p.name for p in find_sequences(val, (GT_TXT, DET_TXT))] == ["a-01", "b-02", "c-03"]
    assert find_sequences(val / "a-01", include_self=True) == [val / "a-01"]
    assert find_sequences(val / "a-01") == [] and find_sequences(tmp_path / "missing") == []
    assert is_sequence(val / "a-01") and not is_sequence(val / "notes")
