"""tracker.eval on tiny scenes whose HOTA / MOTA / IDF1 / IDSW are derived by hand.

Boxes in the results equal the ground truth (IoU 1), so every localisation threshold agrees and
the numbers follow from counting:
- switch: one person, 4 frames, ids 1,1,2,2. MOTA = 1 - 1/4; IDF1 = 2*2/(2*4) (best id covers
  2 of 4); DetA = 1; AssA = 2/(2+2+0) = 0.5; HOTA = sqrt(1 * 0.5).
- miss_fp: one person, found in frames 1-3 (id 1), a false positive (id 2) in frame 2.
  MOTA = 1 - (1 FN + 1 FP)/4 = 0.5; IDF1 = 2*3/(2*3 + 1 + 1) = 0.75; DetA = 3/(3+1+1) = 0.6;
  AssA = 3/(3+1+0) = 0.75; HOTA = sqrt(0.45).
- perfect: two people, 4 frames, everything right.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from cgclip.errors import UserError
from cgclip.io.mot import SeqInfo, write_seqinfo
from tracker.eval import evaluate, main


def _box(frame: int, x: float) -> tuple[float, float, float, float]:
    return (x + 2 * frame, 10.0, 20.0, 40.0)


def make_case(root: Path) -> tuple[Path, Path]:
    gt_dir, res_dir = root / "val", root / "results"
    res_dir.mkdir(parents=True)
    scenes = {
        "switch": (
            [(f, 1, 0) for f in range(1, 5)],
            [(f, 1 if f <= 2 else 2, 0) for f in range(1, 5)],
        ),
        "miss_fp": (
            [(f, 1, 0) for f in range(1, 5)],
            [(f, 1, 0) for f in range(1, 4)] + [(2, 2, 300)],
        ),
        "perfect": (
            [(f, i, 100 * i) for f in range(1, 5) for i in (1, 2)],
            [(f, i + 6, 100 * i) for f in range(1, 5) for i in (1, 2)],
        ),
    }
    for name, (gt, res) in scenes.items():
        seq = gt_dir / name
        (seq / "gt").mkdir(parents=True)
        write_seqinfo(
            seq, SeqInfo(name=name, frame_rate=25, seq_length=4, im_width=640, im_height=480)
        )
        (seq / "gt" / "gt.txt").write_text(
            "".join(f"{f},{i},{','.join(map(str, _box(f, x)))},1,1,1\n" for f, i, x in gt)
        )
        (res_dir / f"{name}.txt").write_text(
            "".join(f"{f},{i},{','.join(map(str, _box(f, x)))},1,-1,-1,-1\n" for f, i, x in res)
        )
    return gt_dir, res_dir


def test_metrics_match_hand_derivation(tmp_path):
    gt, res = make_case(tmp_path)
    report = evaluate(gt, res)
    s = report["sequences"]
    assert s["switch"]["MOTA"] == pytest.approx(75.0)
    assert s["switch"]["IDF1"] == pytest.approx(50.0)
    assert s["switch"]["IDSW"] == 1
    assert s["switch"]["DetA"] == pytest.approx(100.0)
    assert s["switch"]["AssA"] == pytest.approx(50.0)
    assert s["switch"]["HOTA"] == pytest.approx(100 * math.sqrt(0.5))
    assert s["miss_fp"]["MOTA"] == pytest.approx(50.0)
    assert s["miss_fp"]["IDF1"] == pytest.approx(75.0)
    assert s["miss_fp"]["DetA"] == pytest.approx(60.0)
    assert s["miss_fp"]["AssA"] == pytest.approx(75.0)
    assert s["miss_fp"]["HOTA"] == pytest.approx(100 * math.sqrt(0.45))
    assert s["miss_fp"]["IDSW"] == 0
    assert all(
        s["perfect"][m] == pytest.approx(100.0) for m in ("HOTA", "DetA", "AssA", "MOTA", "IDF1")
    )
    c = report["combined"]
    # 16 GT boxes in all: FN 1, FP 1, IDSW 1 -> MOTA 1 - 3/16; IDTP 2+3+8, IDFN 2+1, IDFP 2+1.
    assert c["MOTA"] == pytest.approx(100 * (1 - 3 / 16))
    assert c["IDF1"] == pytest.approx(100 * 26 / (26 + 3 + 3))
    assert c["IDSW"] == 1


def test_mot15_ground_truth_is_scored_without_classes(tmp_path):
    """2D MOT 2015 ground truth has world coordinates where MOT17 has class and visibility
    (``frame,id,x,y,w,h,1,-1,-1,-1`` or real coordinates); under MOT17's rules every box would be
    dropped and any result would score 0. A zero-marked row (column 7 = 0) is still ignored."""
    gt, res = make_case(tmp_path)
    for name in ("switch", "miss_fp", "perfect"):
        gt_file = gt / name / "gt" / "gt.txt"
        rows = [line.split(",")[:6] for line in gt_file.read_text().splitlines()]
        text = "".join(",".join(r) + ",1,2.5,-1,-1\n" for r in rows)
        gt_file.write_text(text + "1,99,500,300,20,40,0,-1,-1,-1\n")  # zero-marked: ignored
    s = evaluate(gt, res)["sequences"]
    assert s["switch"]["IDF1"] == pytest.approx(50.0) and s["switch"]["IDSW"] == 1
    assert s["miss_fp"]["MOTA"] == pytest.approx(50.0)
    assert s["perfect"]["HOTA"] == pytest.approx(100.0)


def test_mot15_and_mot17_ground_truth_are_not_mixed(tmp_path):
    gt, res = make_case(tmp_path)
    gt_file = gt / "switch" / "gt" / "gt.txt"
    gt_file.write_text(gt_file.read_text().replace(",1,1,1\n", ",1,-1,-1,-1\n"))
    other = gt / "perfect" / "gt" / "gt.txt"  # a visibility rounded past 1 is still MOT17 style
    other.write_text(other.read_text().replace(",1,1,1\n", ",1,1,1.002\n", 1))
    with pytest.raises(UserError, match=r"without classes \(2D MOT 2015 style: switch\) mixed"):
        evaluate(gt, res)


def test_cli_prints_table_and_writes_json(tmp_path, capsys):
    gt, res = make_case(tmp_path)
    out = tmp_path / "metrics.json"
    assert (
        main(
            [
                "--gt",
                str(gt / "switch"),
                str(gt / "perfect"),
                "--results",
                str(res),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "COMBINED" in text and "switch" in text and "miss_fp" not in text
    data = json.loads(out.read_text())
    assert set(data["sequences"]) == {"switch", "perfect"}
    assert data["sequences"]["switch"]["IDSW"] == 1


def test_cli_bad_inputs_are_one_line_errors(tmp_path, capsys):
    gt, res = make_case(tmp_path)
    (res / "perfect.txt").unlink()
    assert main(["--gt", str(gt), "--results", str(res)]) == 2
    assert "no results for perfect" in capsys.readouterr().err
    (res / "perfect.txt").write_text("9,1,1,1,5,5,1,-1,-1,-1\n")
    assert main(["--gt", str(gt), "--results", str(res)]) == 2
    assert "past the end of sequence perfect" in capsys.readouterr().err
    assert main(["--gt", str(tmp_path / "results"), "--results", str(res)]) == 2
    assert "no MOTChallenge sequences" in capsys.readouterr().err
    (res / "perfect.txt").write_text("1,1,1,1,5\n")
    assert main(["--gt", str(gt), "--results", str(res)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_what_tracker_run_writes_pairs_with_its_ground_truth(tmp_path, capsys):
    """The pairing rule: <seq>.mot.txt in a folder, one results file with one sequence, and a
    bare gt.txt as ground truth give the same numbers as the MOTChallenge layout."""
    gt, res = make_case(tmp_path)
    want = evaluate(gt, res)["sequences"]
    runs = tmp_path / "runs"
    runs.mkdir()
    for name in want:
        (res / f"{name}.txt").rename(runs / f"{name}.mot.txt")
    assert evaluate(gt, runs)["sequences"] == want
    one = runs / "switch.mot.txt"
    assert evaluate(gt / "switch", one)["sequences"] == {"switch": want["switch"]}
    bare = tmp_path / "loose" / "gt.txt"
    bare.parent.mkdir()
    bare.write_text((gt / "switch" / "gt" / "gt.txt").read_text())
    assert evaluate(bare, one)["combined"] == want["switch"]
    assert main(["--gt", str(gt / "switch" / "gt" / "gt.txt"), "--results", str(one)]) == 0
    assert (runs / "tracker_eval.json").is_file()
    assert main(["--gt", str(gt), "--results", str(one)]) == 2
    assert "one results file, but --gt has 3 sequences" in capsys.readouterr().err
