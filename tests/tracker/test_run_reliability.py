"""``python -m tracker.run`` and bad input that used to pass silently or clobber outputs: numbers
out of range, existing outputs, truncated videos, det.txt files of another video."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.run import main


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize(
    ("option", "value", "expect"),
    [
        ("--max-frames", "-5", "argument --max-frames: must be a whole number in [1, inf)"),
        ("--max-frames", "0", "argument --max-frames: must be a whole number in [1, inf)"),
        ("--conf", "nan", "argument --conf: must be a finite number in [0, 1]"),
        ("--conf", "1.5", "argument --conf: must be a finite number in [0, 1]"),
        ("--batch", "0", "argument --batch: must be a whole number in [1, inf)"),
        ("--imgsz", "-640", "argument --imgsz: must be a whole number in [32, 16384]"),
    ],
)
def test_numeric_options_out_of_range_are_one_line(
    sample_clip: Path, tmp_path: Path, capsys, option: str, value: str, expect: str
) -> None:
    video, det = sample_clip / "sample.mp4", sample_clip / "det.txt"
    argv = [str(video), "--detections", str(det), "--output-dir", str(tmp_path), option, value]
    assert main([*argv, "--quiet"]) == 2
    assert expect in _err_line(capsys)
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing replaced
