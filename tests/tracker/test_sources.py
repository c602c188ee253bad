"""``tracker.run SOURCE`` beyond one file (``tracker.sources``): webcam, stream URLs, folders and
globs of videos, where their outputs go, and the synthetic checkpoint's domain warning."""

from __future__ import annotations

import functools
import http.server
import io
import json
import re
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from cgclip.errors import UserError
from tracker.run import main
from tracker.sources import (
    Source,
    classify,
    domain_warning,
    is_synthetic_footage,
    many_output_dir,
    stream_stem,
)


def test_sources_are_classified_and_streams_named_by_source_and_start(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not decoded here")
    (tmp_path / "seq" / "img1").mkdir(parents=True)
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"x")
    kinds = {
        str(video): "file",
        str(tmp_path / "seq" / "img1"): "frames",
        str(tmp_path / "seq"): "frames",
        str(tmp_path / "videos"): "many",
        str(tmp_path / "videos" / "*.mp4"): "many",
        "0": "webcam",
        "rtsp://cam.local:554/live": "url",
        "https://example.org/media/match%201.mp4?x=1": "url",
    }
    assert {text: classify(text).kind for text in kinds} == kinds
    with pytest.raises(UserError, match=r"nothere\.mp4: no such video file or image folder"):
        classify(str(tmp_path / "nothere.mp4"))

    start = datetime(2026, 12, 2, 14, 29, 5, tzinfo=timezone.utc)
    assert stream_stem(Source("0", "webcam"), start) == "camera0-20261202-142905"
    assert stream_stem(Source("rtsp://cam.local:554/", "url"), start) == "cam.local-20261202-142905"
    url = Source("https://example.org/media/match%201.mp4?x=1", "url")
    assert stream_stem(url, start) == "match_201-20261202-142905"
    assert many_output_dir(Source(str(tmp_path / "videos" / "*.mp4"), "many")) == Path(
        "runs/videos"
    )


def test_footage_our_generator_made_is_recognised(tmp_path, sample_clip):
    assert is_synthetic_footage(classify(str(sample_clip / "sample.mp4")))  # .sample.json
    seq = tmp_path / "synth" / "train" / "dance-01"
    (seq / "img1").mkdir(parents=True)
    (seq / "dance-01.mp4").write_bytes(b"x")
    (tmp_path / "synth" / ".synthetic.json").write_text("{}")
    assert is_synthetic_footage(classify(str(seq / "dance-01.mp4")))
    assert is_synthetic_footage(classify(str(seq / "img1")))
    other = tmp_path / "match.mp4"
    other.write_bytes(b"x")
    assert not is_synthetic_footage(classify(str(other)))
    assert not is_synthetic_footage(classify("0")) and not is_synthetic_footage(
        classify("rtsp://cam/live")
    )


def _checkpoint(copy_checkpoint, folder: Path, meta: dict) -> Path:
    path = copy_checkpoint(folder)
    side = path.with_suffix(".json")
    data = json.loads(side.read_text())
    data["meta"] = meta
    side.write_text(json.dumps(data))
    return path


def test_a_synthetic_checkpoint_on_other_footage_is_one_warning(
    sample_clip, copy_checkpoint, tmp_path, capsys
):
    ckpt = _checkpoint(copy_checkpoint, tmp_path / "ck", {"epoch": 3, "dataset": "synthetic"})
    real = tmp_path / "real" / "match.mp4"
    real.parent.mkdir()
    shutil.copy(sample_clip / "sample.mp4", real)
    det = str(sample_clip / "det.txt")
    common = ["--detections", det, "--reid", str(ckpt), "--no-video", "--max-frames", "3"]

    assert (
        main(
            [
                str(sample_clip / "sample.mp4"),
                *common,
                "--output-dir",
                str(tmp_path / "a"),
                "--quiet",
            ]
        )
        == 0
    )
    assert capsys.readouterr().err == ""  # our own synthetic sample: the checkpoint's domain
    assert main([str(real), *common, "--output-dir", str(tmp_path / "b"), "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: {ckpt} was trained only on synthetic")
    assert "--reid clip" in err[0] and "--save-crops" in err[0]

    source = classify(str(real))
    mixed = _checkpoint(copy_checkpoint, tmp_path / "mix", {"datasets": ["synthetic", "mars"]})
    assert domain_warning(str(mixed), source) is None  # it has seen real people too
    bare = _checkpoint(copy_checkpoint, tmp_path / "bare", {})
    assert domain_warning(str(bare), source) is None  # says nothing: no guess
    assert domain_warning("clip", source) is None and domain_warning("none", source) is None
    assert domain_warning(str(ckpt), classify("0")) is not None  # a webcam is other footage


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with byte ranges (HTTP 206), as web servers do: FFmpeg seeks in an MP4."""

    def log_message(self, *args):
        pass

    def send_head(self):
        ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if ranged is None:
            return super().send_head()
        path = Path(self.translate_path(self.path))
        size = path.stat().st_size
        start = int(ranged[1])
        end = min(int(ranged[2]) if ranged[2] else size - 1, size - 1)
        with open(path, "rb") as fh:
            fh.seek(start)
            body = fh.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return io.BytesIO(body)


@pytest.fixture()
def http_url(sample_clip):
    """``sample.mp4`` served over HTTP by a local server (no network beyond this machine)."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(RangeHandler, directory=str(sample_clip))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sample.mp4"
    server.shutdown()
    thread.join()


def test_an_http_url_is_tracked_as_its_file_is(sample_clip, http_url, tmp_path, capsys):
    det = str(sample_clip / "det.txt")
    by_url, by_file = tmp_path / "url", tmp_path / "file"
    assert main([http_url, "--detections", det, "--output-dir", str(by_url), "--no-video"]) == 0
    printed = capsys.readouterr().out
    [mot] = by_url.glob("sample-*.mot.txt")  # named after the URL's file and the start time
    assert f"mot: {mot}" in printed  # where the outputs went
    assert (
        main(
            [
                str(sample_clip / "sample.mp4"),
                "--detections",
                det,
                "--output-dir",
                str(by_file),
                "--no-video",
                "--quiet",
            ]
        )
        == 0
    )
    assert mot.read_text() == (by_file / "sample.mot.txt").read_text()
    data = json.loads(mot.with_name(mot.name.replace(".mot.txt", ".tracks.json")).read_text())
    assert data["video"] == http_url and data["complete"] is True and data["frames_read"] == 40


def test_a_webcam_runs_until_it_stops_with_outputs_in_runs(
    sample_clip, tmp_path, monkeypatch, capsys
):
    opened = []

    def camera(target):  # no camera here: the sample clip plays the part
        opened.append(target)
        return cv2.VideoCapture(str(sample_clip / "sample.mp4"))

    monkeypatch.setattr("cgclip.io.video.open_capture", camera)
    monkeypatch.chdir(tmp_path)
    assert main(["0", "--detections", str(sample_clip / "det.txt"), "--no-video"]) == 0
    captured = capsys.readouterr()
    assert opened == [0]
    assert "camera 0: 0frame [" in captured.err  # a live source: frames and FPS, no total
    [js] = (tmp_path / "runs").glob("camera0-*.tracks.json")
    data = json.loads(js.read_text())
    assert data["frames_read"] == 40 and data["frames_expected"] is None
    assert data["complete"] is True and "tracked 40 frames" in captured.out


def _mot_folder(sample_clip: Path, root: Path, names: list[str]) -> Path:
    for name in names:
        (root / name / "det").mkdir(parents=True)
        shutil.copy(sample_clip / "sample.mp4", root / name / f"{name}.mp4")
        shutil.copy(sample_clip / "det.txt", root / name / "det" / "det.txt")
    return root


def test_a_folder_of_videos_is_tracked_one_after_another_with_a_summary(
    sample_clip, tmp_path, capsys
):
    root = _mot_folder(sample_clip, tmp_path / "videos", ["a", "b"])
    out = tmp_path / "out"
    argv = [str(root), "--detections", "auto", "--no-video", "--max-frames", "10", "--quiet"]
    assert main([*argv, "--output-dir", str(out)]) == 0
    table = capsys.readouterr().out
    ids = len({line.split(",")[1] for line in (out / "a" / "a.mot.txt").read_text().splitlines()})
    assert ids >= 8  # the sample's people (a false positive may add a short-lived id)
    assert [ln.split()[:4] for ln in table.splitlines()[1:3]] == [
        ["a", "done", "10", str(ids)],
        ["b", "done", "10", str(ids)],
    ]
    assert f"summary: {out / 'summary.csv'}" in table
    assert (out / "a" / "a.mot.txt").read_text() == (out / "b" / "b.mot.txt").read_text()
    assert len((out / "summary.csv").read_text().splitlines()) == 3

    # --save-crops DIR: each video's crops in DIR/<name>/, as tracker.batch writes them
    crops = tmp_path / "crops"
    out2 = tmp_path / "out2"
    assert main([*argv, "--output-dir", str(out2), "--save-crops", str(crops)]) == 0
    for name in ("a", "b"):
        assert (crops / name / "crops.json").is_file()
        assert list((crops / name).glob("*/*.jpg"))

    assert main([str(root / "*" / "*.mp4"), "--out-mot", "x.txt", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --out-mot names one video's output")


def test_pyav_reads_a_url_opencv_cannot_open(sample_clip, http_url, monkeypatch):
    import cgclip.io.video as video

    class Refused:  # an OpenCV built without network streams
        def isOpened(self):  # noqa: N802
            return False

        def release(self):
            pass

    monkeypatch.setattr(video.cv2, "VideoCapture", lambda *args: Refused())
    reader = video.open_video(http_url)
    frames = list(reader)
    monkeypatch.undo()
    cap = cv2.VideoCapture(str(sample_clip / "sample.mp4"))
    first = cap.read()[1]
    cap.release()
    assert (reader.info.width, reader.info.height, reader.info.fps) == (640, 360, 25.0)
    assert len(frames) == 40 and reader.frames_read == 40 and not reader.truncated
    assert np.abs(frames[0].astype(int) - first.astype(int)).mean() < 2  # the same picture
