"""benchmarks/hog_detector.py: its one-to-one matching and scores (the OpenCV 4 parts need the
bench venv; tests/tracker/test_detectors.py checks parity against stored OpenCV 4 output)."""

from __future__ import annotations

import numpy as np

from benchmarks.hog_detector import Frame, match, score


def test_matching_is_one_to_one_at_iou_half():
    gt = np.array([[0, 0, 10, 20], [100, 0, 110, 20]], float)
    det = np.array([[0, 0, 10, 20], [1, 0, 11, 20], [100, 8, 110, 28], [300, 0, 310, 20]], float)
    gt_hit, det_hit = match(gt, det)
    # the second person's only candidate overlaps by 12/28 < 0.5; one box per person
    assert gt_hit.tolist() == [True, False]
    assert det_hit.sum() == 1 and det_hit[:2].sum() == 1
    assert match(gt, np.zeros((0, 4)))[0].tolist() == [False, False]


def test_score_counts_visible_people_for_recall_and_every_person_for_precision():
    image = np.zeros((8, 8, 3), np.uint8)
    gt = np.array([[0, 0, 10, 20], [50, 0, 60, 20]], float)
    frames = [
        Frame("street", image, gt, np.array([1.0, 0.2])),  # second person mostly hidden
        Frame("dance", image, gt[:1], np.array([1.0])),
    ]
    dets = [gt.copy(), np.array([[200, 0, 210, 20]], float)]
    out = score(frames, dets)
    assert out["recall"] == 0.5  # 1 of the 2 visible people (street's hidden one not counted)
    assert out["precision"] == 2 / 3  # a box on the hidden person is still a person
    assert out["kinds"]["street"]["recall"] == 1.0 and out["kinds"]["dance"]["recall"] == 0.0
    assert out["per_frame"] == 1.5
