"""Detectors: MOT det replay, the real ultralytics path (model built from yaml), numpy HOG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cgclip.errors import UserError
from cgclip.io.mot import frames_of, read_mot
from cgclip.io.video import open_video
from tracker.detectors import HogDetector, ReplayDetector, YoloDetector, load_yolo, make_detector
from tracker.hog import HogPeopleDetector, window_descriptor
from tracker.matching import box_iou

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


def test_hog_finds_the_synthetic_people(sample_clip):
    frame = next(iter(open_video(sample_clip / "sample.mp4")))
    gt = frames_of(read_mot(sample_clip / "gt.txt", kind="gt"))[1]
    gt = gt[gt[:, 8] > 0.8]  # mostly visible people
    gt_boxes = np.concatenate([gt[:, 2:4], gt[:, 2:4] + gt[:, 4:6]], axis=1)
    out = HogDetector().detect([frame], [1])[0]
    assert len(out) >= 1 and ((out.confidence > 0) & (out.confidence < 1)).all()
    found = box_iou(gt_boxes, out.xyxy).max(axis=1) > 0.3
    assert found.mean() >= 0.75


def test_hog_score_map_shape():
    det = HogPeopleDetector()
    assert det.score_map(np.zeros((136, 80, 3), np.uint8)).shape == (2, 3)
    assert det.score_map(np.zeros((100, 80, 3), np.uint8)).shape == (0, 0)


def test_make_detector_choices(tmp_path):
    det = tmp_path / "det.txt"
    det.write_text("1,-1,1,1,5,5,0.9\n")
    assert isinstance(make_detector(detections=det), ReplayDetector)
    assert isinstance(make_detector("hog"), HogDetector)
