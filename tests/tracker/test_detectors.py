"""Detectors: MOT det replay, the real ultralytics path (model built from yaml), numpy HOG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cgclip.errors import UserError
from cgclip.io.mot import frames_of, read_mot
from cgclip.io.video import open_video
from tracker.detectors import (
    AUTO_UPSCALE,
    HogDetector,
    ReplayDetector,
    YoloDetector,
    auto_upscale,
    check_detector_options,
    load_yolo,
    make_detector,
)
from tracker.hog import HogPeopleDetector, pyramid, window_descriptor
from tracker.matching import box_iou
from tracker.run import main as run_main

DATA = Path(__file__).parent / "data"


def test_replay_detector_serves_frames(tmp_path):
    det = tmp_path / "det.txt"
    det.write_text(
        "1,-1,10,20,30,60,0.9,-1,-1,-1\n1,-1,100,20,30,60,0.4,-1,-1,-1\n3,-1,5,5,10,10,0.7,-1,-1,-1\n"
    )
    d = ReplayDetector(det)
    frames = [np.zeros((100, 200, 3), np.uint8)] * 3
    out = d.detect(frames, [1, 2, 3])
    assert [len(o) for o in out] == [2, 0, 1]
    assert np.allclose(out[0].xyxy, [[10, 20, 40, 80], [100, 20, 130, 80]])
    assert np.allclose(out[0].confidence, [0.9, 0.4]) and out[0].class_id.tolist() == [0, 0]
    assert d.last_frame == 3


def test_replay_detector_ranks_raw_scores(tmp_path, caplog):
    """Raw detector scores (MOT15's ACF: about -1 to 140) become their rank in the file, so the
    tracker's probability thresholds act as quantiles; ties share the highest rank."""
    det = tmp_path / "det.txt"
    scores = [42.8, -0.7, 117.9, 42.8]
    det.write_text(
        "".join(f"1,-1,{10 + 40 * i},20,30,60,{c},-1,-1,-1\n" for i, c in enumerate(scores))
    )
    with caplog.at_level("WARNING"):
        (out,) = ReplayDetector(det).detect([np.zeros((100, 200, 3), np.uint8)], [1])
    assert out.confidence.tolist() == pytest.approx([0.75, 0.25, 1.0, 0.75])
    assert "span [-0.7, 117.9], not [0, 1]" in caplog.text
    (kept,) = ReplayDetector(det, min_conf=0.5).detect([np.zeros((100, 200, 3), np.uint8)], [1])
    assert len(kept) == 3  # --conf 0.5 keeps the better half (and the tie)


def test_replay_detector_rejects_malformed_rows(tmp_path):
    det = tmp_path / "det.txt"
    det.write_text("1,-1,10,20,30,60,0.9\n2,-1,10,twenty,30,60,0.9\n")
    with pytest.raises(UserError, match=r"det.txt:2: 'twenty' is not a number"):
        ReplayDetector(det)


def test_yolo_detector_runs_a_model_built_from_yaml():
    det = YoloDetector("yolo11n.yaml", conf=0.0001, imgsz=160, batch_size=2)
    assert det.person_class == 0
    frames = [
        np.random.default_rng(i).integers(0, 255, (120, 160, 3), dtype=np.uint8) for i in range(2)
    ]
    out = det.detect(frames, [1, 2])
    assert len(out) == 2
    for o in out:
        assert o.xyxy.shape[1] == 4 and len(o.confidence) == len(o)
        assert (o.class_id == 0).all()
        if len(o):
            assert (o.xyxy[:, 0] >= -1).all() and (o.xyxy[:, 2] <= 161).all()


def test_yolo_offline_and_bad_weights_are_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    with pytest.raises(UserError, match="offline alternatives: --detector hog"):
        load_yolo("yolo11n.pt")
    with pytest.raises(UserError, match="not found"):
        load_yolo(str(tmp_path / "missing" / "best.pt"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(UserError, match="not a loadable ultralytics model"):
        load_yolo(str(bad))
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(UserError, match="empty"):
        load_yolo(str(tmp_path / "empty.pt"))


def test_hog_descriptor_matches_opencv4():
    ref = np.load(DATA / "hog_opencv4_reference.npz")
    mine = window_descriptor(ref["image"])
    assert mine.shape == (3780,)
    assert np.abs(mine - ref["descriptor"]).max() < 1e-4


def test_hog_windows_match_opencv4_detect_multiscale():
    """Every raw window of OpenCV 4's detectMultiScale (groupThreshold 0, padding 0) on a stored
    frame, with its margin: the same pyramid, window positions and scores."""
    ref = np.load(DATA / "hog_opencv4_detect.npz")
    det = HogPeopleDetector(scale=float(ref["scale"]), hit_threshold=float(ref["hit_threshold"]))
    boxes, margins = det.detect(ref["image"])
    x, y, w, h = ref["rects"].T
    want = {
        (int(a), int(b), int(a + c), int(b + d)): m
        for a, b, c, d, m in zip(x, y, w, h, ref["weights"], strict=True)
    }
    got = {tuple(int(v) for v in box): m for box, m in zip(boxes, margins, strict=True)}
    assert len(want) > 20 and got.keys() == want.keys()
    assert max(abs(got[k] - want[k]) for k in want) < 0.02
    sizes = {(k[2] - k[0], k[3] - k[1]) for k in want}
    assert len(sizes) > 3  # windows from several pyramid levels


def test_hog_pyramid_is_opencvs():
    scales = pyramid(200, 272, 1.05)
    assert scales[0] == 1.0 and np.allclose(np.diff(np.log(scales)), np.log(1.05))
    assert round(272 / scales[-2]) >= 128 and round(272 / scales[-1]) < 128  # last one kept empty
    assert pyramid(200, 272, 1.0) == [1.0]


def _sample_people(sample_clip):
    frame = next(iter(open_video(sample_clip / "sample.mp4")))
    gt = frames_of(read_mot(sample_clip / "gt.txt", kind="gt"))[1]
    gt = gt[gt[:, 8] > 0.8]  # mostly visible people
    return frame, np.concatenate([gt[:, 2:4], gt[:, 2:4] + gt[:, 4:6]], axis=1)


def test_hog_finds_the_synthetic_people(sample_clip):
    frame, gt_boxes = _sample_people(sample_clip)
    out = HogDetector().detect([frame], [1])[0]
    assert len(out) >= 1 and ((out.confidence > 0) & (out.confidence < 1)).all()
    iou = box_iou(gt_boxes, out.xyxy).max(axis=1)
    assert (iou > 0.3).mean() >= 0.75
    assert (iou >= 0.5).mean() >= 0.5  # boxes are the person, not the padded window
    # person boxes: 40x96 inside each 64x128 window
    w, h = out.xyxy[:, 2] - out.xyxy[:, 0], out.xyxy[:, 3] - out.xyxy[:, 1]
    assert np.allclose(w / h, 40 / 96, atol=0.02)


def test_hog_conf_floor(sample_clip):
    frame, _ = _sample_people(sample_clip)
    every = HogDetector().detect([frame], [1])[0]
    floor = float(np.median(every.confidence))
    kept = HogDetector(conf=floor).detect([frame], [1])[0]
    assert 0 < len(kept) < len(every)
    assert (kept.confidence >= floor - 1e-6).all()
    assert len(HogDetector(conf=1.0).detect([frame], [1])[0]) == 0


def test_hog_upscale_finds_small_people(sample_clip):
    frame, gt_boxes = _sample_people(sample_clip)
    small = cv2.resize(frame, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    gt_small = gt_boxes * 0.5  # people now ~60-90 pixels tall: under HOG's 96-pixel person

    def found(det):
        out = det.detect([small], [1])[0]
        if not len(out):
            return 0.0
        assert out.xyxy.max() <= max(small.shape) + 1  # boxes in the frame's coordinates
        return float((box_iou(gt_small, out.xyxy).max(axis=1) > 0.3).mean())

    assert found(HogDetector(upscale=2.0)) >= found(HogDetector(upscale=1.0)) + 0.5


def test_hog_score_map_shape():
    det = HogPeopleDetector()
    assert det.score_map(np.zeros((136, 80, 3), np.uint8)).shape == (2, 3)
    assert det.score_map(np.zeros((100, 80, 3), np.uint8)).shape == (0, 0)


def test_make_detector_choices(tmp_path):
    det = tmp_path / "det.txt"
    det.write_text("1,-1,1,1,5,5,0.9\n1,-1,10,1,5,5,0.2\n")
    replay = make_detector(detections=det)
    assert isinstance(replay, ReplayDetector) and len(replay.detect([None], [1])[0]) == 2
    assert len(make_detector(detections=det, conf=0.5).detect([None], [1])[0]) == 1
    assert isinstance(make_detector("hog"), HogDetector)
    assert make_detector("hog", hog_upscale=2.0).upscale == 2.0
    assert make_detector("hog").upscale is None  # by frame size (auto_upscale)


def test_hog_upscale_by_frame_size_unless_given(monkeypatch):
    """SD and 720p frames are enlarged 1.5x (walkers there are under HOG's ~100 px person);
    taller frames and a given upscale are left as they are."""
    seen = []

    def spy(frame, upscale, clip):
        seen.append(upscale)
        return np.zeros((0, 4)), np.zeros(0)

    for det, height in ((HogDetector(), 576), (HogDetector(), 720), (HogDetector(), 1080),
                        (HogDetector(upscale=2.0), 576)):  # fmt: skip
        monkeypatch.setattr(det._hog, "detect", spy)
        det.detect([np.zeros((height, 64, 3), np.uint8)], [1])
    assert seen == [1.5, 1.5, 1.0, 2.0]
    assert auto_upscale(480) == AUTO_UPSCALE and auto_upscale(721) == 1.0


def test_unused_detector_options_are_errors():
    given = dict.fromkeys(("conf", "batch", "imgsz", "trust_weights", "hog_upscale"))
    for detector, detections, ok, bad in [
        ("hog", None, {"conf": 0.3, "hog_upscale": 2.0}, {"imgsz": 320, "batch": 4}),
        ("HOG", None, {}, {"trust_weights": True}),
        ("yolo11n.pt", None, {"conf": 0.2, "batch": 2, "imgsz": 320}, {"hog_upscale": 2.0}),
        ("yolo11n.pt", "det.txt", {"conf": 0.5}, {"imgsz": 320, "trust_weights": True}),
    ]:
        check_detector_options(detector, detections, {**given, **ok})
        with pytest.raises(UserError) as err:
            check_detector_options(detector, detections, {**given, **ok, **bad})
        message = str(err.value)
        assert "\n" not in message and "not used by" in message
        for name in bad:
            assert "--" + name.replace("_", "-") in message.split("(")[0]
        for name in ok:  # options the detector does use are not blamed
            assert "--" + name.replace("_", "-") not in message.split("(")[0]


def test_cli_refuses_options_the_detector_does_not_use(sample_clip, tmp_path, capsys):
    video = str(sample_clip / "sample.mp4")
    det = str(sample_clip / "det.txt")
    out = ["--output-dir", str(tmp_path / "out"), "--no-video", "--quiet"]
    for argv, needle in [
        (
            [video, "--detector", "hog", "--imgsz", "320", *out],
            "--imgsz is not used by --detector hog",
        ),
        ([video, "--detector", "hog", "--batch", "8", *out], "--batch is not used"),
        ([video, "--detections", det, "--hog-upscale", "2", *out], "not used by --detections"),
        ([video, "--detections", det, "--trust-weights", *out], "--trust-weights is not used"),
        ([video, "--detector", "yolo11n.pt", "--hog-upscale", "2", *out], "--hog-upscale is not"),
    ]:
        assert run_main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err
    assert not (tmp_path / "out").exists()  # refused before any work
    # the options a detector uses are accepted (and --conf reaches the replayed rows)
    argv = [video, "--detections", det, "--conf", "0.95", "--max-frames", "2", *out]
    assert run_main([*argv, "--config", str(_min_hits_1(tmp_path))]) == 0
    rows = read_mot(tmp_path / "out" / "sample.mot.txt", kind="results")
    dets = read_mot(sample_clip / "det.txt", kind="det")
    dets = dets[dets[:, 0] <= 2]
    assert (dets[:, 6] < 0.95).sum() >= 5  # the floor removes some of these frames' rows
    assert len(rows) and rows[:, 6].min() >= 0.95


def _min_hits_1(folder: Path) -> Path:
    path = folder / "min_hits_1.yaml"
    path.write_text("min_hits: 1\n")
    return path


def test_batch_refuses_options_the_detector_does_not_use(sample_clip, tmp_path, capsys):
    from tracker import batch

    out = tmp_path / "out"
    argv = [str(sample_clip / "sample.mp4"), "--out", str(out), "--detector", "hog"]
    assert batch.main([*argv, "--imgsz", "320", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--imgsz is not used by --detector hog" in err[0]
    assert not out.exists()
