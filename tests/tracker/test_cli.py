"""``python -m tracker.run`` on the synthetic sample clip with replayed detections, every output
checked, and the bad inputs the issue lists, each a one-line error with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from cgclip.io.mot import read_mot
from tracker.run import default_outputs, main


def _track_sample(sample_clip: Path, out: Path, *extra: str) -> int:
    return main(
        [
            str(sample_clip / "sample.mp4"),
            "--detections",
            str(sample_clip / "det.txt"),
            "--preset",
            "dance",
            "--output-dir",
            str(out),
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def tracked(sample_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert _track_sample(sample_clip, out, "--quiet") == 0
    return out


def _check_outputs(out: Path, sample_clip: Path) -> dict:
    """Every output of a run on the 40-frame sample clip: MOT txt, JSON and annotated MP4 agree
    with each other and with the clip. Returns the JSON."""
    mot_path, json_path, video_path = (
        out / "sample.mot.txt",
        out / "sample.tracks.json",
        out / "sample.tracked.mp4",
    )
    rows = read_mot(mot_path, kind="results")
    gt = read_mot(sample_clip / "gt.txt", kind="gt")
    assert len(rows) > 0.7 * len(gt)
    assert rows[:, 0].min() >= 1 and rows[:, 0].max() <= 40 and (rows[:, 1] >= 1).all()
    for f in np.unique(rows[:, 0]):  # an id appears at most once per frame
        ids = rows[rows[:, 0] == f, 1]
        assert len(ids) == len(np.unique(ids))

    data = json.loads(json_path.read_text())
    assert data["width"] == 640 and data["fps"] > 0 and data["config"]["min_hits"] >= 1
    assert [fr["frame"] for fr in data["frames"]] == list(range(1, 41))
    n_objects = sum(len(fr["objects"]) for fr in data["frames"])
    assert n_objects == len(rows)
    for tid, summary in data["tracks"].items():
        mine = rows[rows[:, 1] == int(tid)]
        assert (
            summary["first_frame"] == mine[:, 0].min() and summary["last_frame"] == mine[:, 0].max()
        )
        assert summary["frames"] == len(mine)
        best = summary["best_crop"]
        row = mine[mine[:, 0] == best["frame"]][0]
        assert np.allclose(
            best["box"], [row[2], row[3], row[2] + row[4], row[3] + row[5]], atol=0.02
        )

    cap = cv2.VideoCapture(str(video_path))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (360, 640, 3) and count == 40
    fourcc = int(cv2.VideoCapture(str(video_path)).get(cv2.CAP_PROP_FOURCC))
    assert fourcc.to_bytes(4, "little") in (b"avc1", b"h264", b"H264")  # plays in browsers
    return data


def test_run_writes_consistent_mot_json_and_video(tracked, sample_clip):
    assert _check_outputs(tracked, sample_clip)["reid"] == "none"


def test_run_with_a_tiny_cgclip_checkpoint(sample_clip, tiny_checkpoint, tmp_path, capsys):
    """``--reid <checkpoint>``: every output written and consistent, the embedder named in the
    JSON, and the embed stage timed apart from association."""
    assert _track_sample(sample_clip, tmp_path, "--reid", str(tiny_checkpoint)) == 0
    data = _check_outputs(tmp_path, sample_clip)
    assert data["reid"].startswith("cgclip:test-tiny") and str(tiny_checkpoint) in data["reid"]
    table = {
        line.split()[0]: float(line.split()[1])
        for line in capsys.readouterr().out.splitlines()
        if line.split() and line.split()[0] in ("embed", "associate")
    }
    assert table["embed"] > 0 and table["associate"] > 0


def test_run_as_module_with_no_video(sample_clip, tmp_path, subprocess_env):
    mot, js = tmp_path / "a" / "r.txt", tmp_path / "b" / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tracker.run",
            str(sample_clip / "sample.mp4"),
            "--detections",
            str(sample_clip / "det.txt"),
            "--no-video",
            "--out-mot",
            str(mot),
            "--out-json",
            str(js),
            "--max-frames",
            "10",
        ],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "decode" in proc.stdout and "associate" in proc.stdout  # per-stage timing table
    assert read_mot(mot, kind="results")[:, 0].max() <= 10
    assert len(json.loads(js.read_text())["frames"]) == 10
    assert not list(sample_clip.glob("*.tracked.mp4"))


def test_run_with_hog_detector(sample_clip, tmp_path):
    assert (
        main(
            [
                str(sample_clip / "sample.mp4"),
                "--detector",
                "hog",
                "--max-frames",
                "2",
                "--no-video",
                "--output-dir",
                str(tmp_path),
                "--quiet",
                "--config",
                str(_yaml(tmp_path, "min_hits: 1\n")),
            ]
        )
        == 0
    )
    rows = read_mot(tmp_path / "sample.mot.txt", kind="results")
    assert len(rows) > 0 and set(rows[:, 0]) <= {1, 2}


def test_run_with_yolo_built_from_yaml(sample_clip, tmp_path):
    """The real ultralytics path, on a randomly initialised model (no download)."""
    assert (
        main(
            [
                str(sample_clip / "sample.mp4"),
                "--detector",
                "yolo11n.yaml",
                "--imgsz",
                "160",
                "--batch",
                "2",
                "--max-frames",
                "3",
                "--no-video",
                "--output-dir",
                str(tmp_path),
                "--quiet",
            ]
        )
        == 0
    )
    assert (tmp_path / "sample.mot.txt").is_file()
    assert len(json.loads((tmp_path / "sample.tracks.json").read_text())["frames"]) == 3


def test_default_output_paths(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x")
    assert default_outputs(video, None)["mot"] == tmp_path / "clip.mot.txt"
    seq = tmp_path / "seq-01" / "img1"
    seq.mkdir(parents=True)
    outs = default_outputs(seq, None)
    assert outs["json"] == tmp_path / "seq-01" / "seq-01.tracks.json"
    assert default_outputs(seq, tmp_path / "o")["video"] == tmp_path / "o" / "seq-01.tracked.mp4"


def _yaml(folder: Path, text: str) -> Path:
    p = folder / "cfg.yaml"
    p.write_text(text)
    return p


def _bad_cases(sample_clip: Path, tmp: Path, ckpt: Path) -> dict[str, tuple[list[str], str]]:
    video, det = str(sample_clip / "sample.mp4"), str(sample_clip / "det.txt")
    (tmp / "empty.mp4").write_bytes(b"")
    (tmp / "notes.mp4").write_text("these are meeting notes, not a video\n" * 20)
    (tmp / "truncated.mp4").write_bytes((sample_clip / "sample.mp4").read_bytes()[:2000])
    (tmp / "bad_det.txt").write_text("1,-1,10,10,20,40,0.9\n2,-1,10,10,-5,40,0.9\n")
    (tmp / "other_det.txt").write_text("500,-1,10,10,20,40,0.9\n")
    (tmp / "weights.safetensors").write_bytes(b"\x00" * 64)
    (tmp / "bad.yaml").write_text("min_hitz: 3\n")
    (tmp / "badtype.yaml").write_text("min_hits: three\n")
    (tmp / "broken.yaml").write_text("min_hits: [1,\n")
    replay = ["--detections", det, "--no-video", "--output-dir", str(tmp / "out")]
    return {
        "missing video": ([str(tmp / "nope.mp4"), *replay], "no such video"),
        "empty video": ([str(tmp / "empty.mp4"), *replay], "empty"),
        "not a video": ([str(tmp / "notes.mp4"), *replay], "not a video"),
        "corrupt video": ([str(tmp / "truncated.mp4"), *replay], "corrupt"),
        "malformed det": (
            [video, "--detections", str(tmp / "bad_det.txt"), "--no-video"],
            "bad_det.txt:2: box width and height must be positive",
        ),
        "det of another sequence": (
            [
                video,
                "--detections",
                str(tmp / "other_det.txt"),
                "--no-video",
                "--output-dir",
                str(tmp / "out"),
            ],
            "another sequence",
        ),
        "missing det": ([video, "--detections", str(tmp / "nope.txt")], "not found"),
        "backend without a model": ([video, *replay, "--backend", "onnx"], "--reid none loads no"),
        "precision without a model": ([video, *replay, "--precision", "fp16"], "--reid none"),
        "not a cgclip checkpoint": (
            [video, *replay, "--reid", str(tmp / "weights.safetensors")],
            "not a cgclip checkpoint",
        ),
        "random file as checkpoint": (
            [video, *replay, "--reid", str(tmp / "notes.mp4")],
            "not a cgclip checkpoint",
        ),
        "missing checkpoint": (
            [video, *replay, "--reid", str(tmp / "nope.safetensors")],
            "no such file",
        ),
        "offline clip": ([video, *replay, "--reid", "clip"], "--reid clip:/path/to/"),
        "missing device": ([video, *replay, "--reid", str(ckpt), "--device", "cuda:99"], "CUDA"),
        "unknown backend": (
            [video, *replay, "--reid", str(ckpt), "--backend", "warp"],
            "unknown backend",
        ),
        "bad config key": (
            [video, *replay, "--config", str(tmp / "bad.yaml")],
            "unknown setting(s) min_hitz",
        ),
        "bad config type": (
            [video, *replay, "--config", str(tmp / "badtype.yaml")],
            "min_hits must be a whole number",
        ),
        "broken yaml": ([video, *replay, "--config", str(tmp / "broken.yaml")], "not valid YAML"),
        "unknown preset": ([video, *replay, "--preset", "curling"], "unknown tracker preset"),
        "offline yolo": ([video, "--detector", "yolo11n.pt", "--no-video"], "offline alternatives"),
        "missing yolo weights": (
            [video, "--detector", str(tmp / "w" / "best.pt"), "--no-video"],
            "YOLO weights not found",
        ),
    }


def _offline(*args, **kwargs):
    raise OSError("network is unreachable")


def test_bad_inputs_give_one_line_errors(
    sample_clip, tiny_checkpoint, tmp_path, capsys, monkeypatch
):
    import open_clip.pretrained

    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setattr(open_clip.pretrained, "download_pretrained", _offline)
    for name, (argv, needle) in _bad_cases(sample_clip, tmp_path, tiny_checkpoint).items():
        rc = main([*argv, "--quiet"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2, name
        assert len(err) == 1 and err[0].startswith("error: "), (name, err)
        assert needle in err[0], (name, err[0])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_failure_mid_video_leaves_no_partial_outputs(tmp_path, capsys):
    frames = tmp_path / "seq" / "img1"
    frames.mkdir(parents=True)
    for i in range(1, 4):
        cv2.imwrite(str(frames / f"{i:06d}.jpg"), np.full((120, 160, 3), 60 * i, np.uint8))
    (frames / "000004.jpg").write_bytes(b"not a jpeg")
    det = tmp_path / "det.txt"
    det.write_text("".join(f"{i},-1,10,10,30,60,0.9\n" for i in range(1, 5)))
    out = tmp_path / "out"
    assert main([str(frames), "--detections", str(det), "--output-dir", str(out), "--quiet"]) == 2
    assert "000004.jpg: cannot decode image" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())
