"""Annotation that stays readable in crowds (``tracker.outputs``): labels that never cover one
another, boxes drawn exactly on the tracked box."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import supervision as sv

from tracker.outputs import VideoAnnotator, draw_box, place_labels


def _intersect(a: np.ndarray, b: np.ndarray) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_a_lone_box_gets_its_label_on_top_at_its_left():
    rects = place_labels(np.array([[100.0, 80.0, 140.0, 200.0]]), np.array([[30, 16]]), (640, 360))
    assert rects.tolist() == [[100, 64, 130, 80]]  # just above the box, touching it


def test_labels_in_a_crowd_never_cover_one_another():
    # a dance line: 12 people 12 px apart with tops a few px apart, and a second row behind
    front = [[100 + 12 * i, 200 + 3 * (i % 3), 160 + 12 * i, 350] for i in range(12)]
    back = [[110 + 12 * i, 190 + 2 * (i % 2), 165 + 12 * i, 330] for i in range(8)]
    boxes = np.array(front + back, dtype=np.float64)
    sizes = np.tile([34, 18], (len(boxes), 1))
    rects = place_labels(boxes, sizes, (640, 360))
    assert len(rects) == len(boxes)
    for i, j in combinations(range(len(rects)), 2):
        assert not _intersect(rects[i], rects[j]), (i, j, rects[i], rects[j])
    assert (
        (rects[:, [0, 1]] >= 0).all() and (rects[:, 2] <= 640).all() and (rects[:, 3] <= 360).all()
    )
    assert ((rects[:, 2] - rects[:, 0]) == 34).all() and ((rects[:, 3] - rects[:, 1]) == 18).all()
    # the labels stay near their people: within a few label heights of the box's top or bottom
    near = np.minimum(abs(rects[:, 3] - boxes[:, 1]), abs(rects[:, 1] - boxes[:, 3]))
    assert (near <= 18 * 8).all()


def test_a_box_at_the_top_edge_gets_its_label_inside():
    rects = place_labels(np.array([[10.0, 0.0, 60.0, 100.0]]), np.array([[30, 16]]), (200, 200))
    assert rects.tolist() == [[10, 0, 40, 16]]  # no room above: inside the top left corner


def test_boxes_are_drawn_exactly_on_the_box_without_padding():
    scene = np.zeros((120, 160, 3), np.uint8)
    draw_box(scene, np.array([10.2, 20.0, 50.0, 80.4]), (0, 255, 0), 3)
    ys, xs = np.nonzero(scene.any(axis=2))
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (
        10,
        49,
        20,
        79,
    )  # pixels [10, 50) x [20, 80)
    drawn = scene.any(axis=2)
    assert drawn[20:23, 10:50].all() and drawn[77:80, 10:50].all()  # 3 px lines, inside the box
    assert drawn[20:80, 10:13].all() and drawn[20:80, 47:50].all()
    assert not drawn[23:77, 13:47].any()


def test_annotated_crowd_has_every_label_in_its_track_colour(tmp_path):
    annotator = VideoAnnotator(tmp_path / "a.mp4", fps=25.0, size=(640, 360))
    boxes = np.array([[100 + 10 * i, 150, 150 + 10 * i, 330] for i in range(6)], np.float32)
    tracked = sv.Detections(
        xyxy=boxes, confidence=np.full(6, 0.9, np.float32), tracker_id=np.arange(1, 7)
    )
    frame = np.zeros((360, 640, 3), np.uint8)
    scene = annotator.annotate(frame, tracked)
    assert not frame.any()  # drawn on a copy
    texts = [f"#{t}" for t in range(1, 7)]
    rects = place_labels(boxes, annotator.label_sizes(texts), (640, 360))
    for tid, (x1, y1, _x2, _y2) in zip(range(1, 7), rects, strict=True):
        colour = annotator.palette.by_idx(tid).as_bgr()
        assert tuple(int(v) for v in scene[y1, x1]) == colour  # the label's corner: its fill
