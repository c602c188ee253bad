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


def _replay(sample_clip: Path, out: Path, *extra: str) -> list[str]:
    video, det = sample_clip / "sample.mp4", sample_clip / "det.txt"
    return [str(video), "--detections", str(det), "--output-dir", str(out), *extra]


def test_earlier_outputs_are_never_replaced_without_overwrite(sample_clip, tmp_path, capsys):
    argv = _replay(sample_clip, tmp_path, "--no-video", "--max-frames", "12")
    assert main(argv) == 0
    printed = capsys.readouterr().out
    mot, js = tmp_path / "sample.mot.txt", tmp_path / "sample.tracks.json"
    assert f"mot: {mot}" in printed and f"json: {js}" in printed  # where the results went
    before = {p: p.read_bytes() for p in (mot, js)}

    assert main([*argv[:-2], "--max-frames", "5", "--quiet"]) == 2
    line = _err_line(capsys)
    assert "already exists" in line and "--overwrite" in line and str(tmp_path) in line
    assert {p: p.read_bytes() for p in before} == before  # untouched

    assert main([*argv[:-2], "--max-frames", "5", "--quiet", "--overwrite"]) == 0
    assert mot.read_bytes() != before[mot]


def test_output_dir_that_is_a_file_is_one_line_before_any_work(sample_clip, tmp_path, capsys):
    target = tmp_path / "results"
    target.write_text("a file, not a folder")
    assert main([*_replay(sample_clip, target), "--quiet", "--reid", "clip:/no/such/weights"]) == 2
    line = _err_line(capsys)
    assert str(target) in line and "already exists as a file" in line  # not the --reid error


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    from cgclip.data.synthetic import generate_sample

    return generate_sample(tmp_path_factory.mktemp("long"), frames=300, progress=False)


@pytest.mark.parametrize(
    ("signame", "code", "word"), [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")]
)
def test_a_signal_mid_run_keeps_the_results_up_to_the_last_complete_frame(
    long_clip: Path, tmp_path: Path, subprocess_env, signame: str, code: int, word: str
) -> None:
    import json
    import signal
    import subprocess
    import sys
    import time

    import cv2

    from cgclip.io.mot import read_mot

    out = tmp_path / "out"
    out.mkdir()
    earlier = out / "sample.mot.txt"
    earlier.write_text("1,1,10,10,20,40,1,-1,-1,-1\n")
    argv = [sys.executable, "-m", "tracker.run", *_replay(long_clip, out), "--overwrite", "--quiet"]
    proc = subprocess.Popen(argv, env=subprocess_env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180

    def rows_on_disk() -> bool:  # some frames written: the MOT temp file has its first block
        return any(p.stat().st_size > 0 for p in out.glob(".sample.*.tmp.txt"))

    while not rows_on_disk() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read()  # still tracking
    sig = getattr(signal, signame)
    proc.send_signal(sig)
    if sig == signal.SIGTERM:
        proc.send_signal(sig)  # a second one must not cut the finishing short
    _, err = proc.communicate(timeout=120)
    lines = err.strip().splitlines()
    assert proc.returncode == code and len(lines) == 1, err
    assert lines[0].startswith(f"{word}: kept the results of the ")
    assert 'the JSON says "complete": false' in lines[0]
    assert sorted(p.name for p in out.iterdir()) == [
        "sample.mot.txt",
        "sample.tracked.mp4",
        "sample.tracks.json",
    ]  # published, no temp file left
    data = json.loads((out / "sample.tracks.json").read_text())
    n = data["frames_read"]
    assert f" {n} frames tracked" in lines[0]
    assert data["complete"] is False and data["interrupted"] is True
    assert 0 < n < 300 and [f["frame"] for f in data["frames"]] == list(range(1, n + 1))
    cap = cv2.VideoCapture(str(out / "sample.tracked.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == n  # a playable video of those frames
    cap.release()
    # exactly what a run told to stop after n frames writes
    whole = tmp_path / "whole"
    assert main([*_replay(long_clip, whole), "--max-frames", str(n), "--no-video", "--quiet"]) == 0
    partial = read_mot(out / "sample.mot.txt", kind="results")
    assert partial.tolist() == read_mot(whole / "sample.mot.txt", kind="results").tolist()


def test_truncated_video_is_a_warning_and_recorded_in_the_json(tmp_path: Path, capsys) -> None:
    import json

    from tests.cgclip.io.test_video_atomic import cut_short_avi

    video = cut_short_avi(tmp_path / "cut.avi", frames=60, size=(320, 240))
    det = tmp_path / "det.txt"
    det.write_text("".join(f"{f},-1,40,40,30,80,0.9\n" for f in range(1, 61)))
    out = tmp_path / "out"
    argv = [str(video), "--detections", str(det), "--output-dir", str(out), "--no-video"]
    assert main([*argv, "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: ") and "of the 60 frames" in err[0]
    data = json.loads((out / "cut.tracks.json").read_text())
    assert data["complete"] is False and data["frames_expected"] == 60
    assert data["frames_read"] == len(data["frames"]) < 40

    whole = cut_short_avi(tmp_path / "whole.avi", frames=60, keep=1.0, size=(320, 240))
    assert main([str(whole), "--detections", str(det), "--output-dir", str(out), "--no-video"]) == 0
    assert "warning" not in capsys.readouterr().err
    data = json.loads((out / "whole.tracks.json").read_text())
    assert data["complete"] is True and data["frames_read"] == data["frames_expected"] == 60


@pytest.mark.parametrize(
    ("rows", "expect"),
    [
        ("1,-1,10,10,20,40,0.9\n2,-1,1e39,10,20,40,0.9\n", "det.txt:2: box values must be within"),
        ("1,-1,10,10,20,40,0.9\n2,-1,10,10,1e39,40,0.9\n", "det.txt:2: box values must be within"),
        ("1,-1,10,10,20,40,0.9\n41,-1,10,10,20,40,0.9\n", "up to frame 41 but the video has 40"),
        ("1,-1,10,10,20,40,0.9\n3,-1,700,10,20,40,0.9\n", "the box at frame 3 (x=700 y=10"),
        ("1,-1,10,10,20,40,0.9\n3,-1,10,-90,20,40,0.9\n", "lies outside the 640x360 video"),
    ],
)
def test_det_txt_that_cannot_belong_to_the_video_is_one_line(
    sample_clip: Path, tmp_path: Path, capsys, rows: str, expect: str
) -> None:
    det = tmp_path / "det.txt"
    det.write_text(rows)
    out = tmp_path / "out"
    video = sample_clip / "sample.mp4"
    assert main([str(video), "--detections", str(det), "--output-dir", str(out), "--quiet"]) == 2
    line = _err_line(capsys)
    assert str(det) in line and expect in line
    assert not out.exists() or not any(out.iterdir())


def test_detections_ending_early_are_a_warning(tmp_path: Path, caplog) -> None:
    from cgclip.io.video import VideoInfo
    from tracker.detectors import ReplayDetector

    det = tmp_path / "det.txt"
    det.write_text("".join(f"{f},-1,-5,10,20,40,0.9\n" for f in range(1, 251)))
    replay = ReplayDetector(det)
    replay.check_video(VideoInfo(width=640, height=360, fps=25, frame_count=300))
    assert not caplog.records  # a box partly outside the picture is normal
    replay.check_video(VideoInfo(width=768, height=576, fps=25, frame_count=795))
    assert "detections end at frame 250 of the video's 795" in caplog.text
