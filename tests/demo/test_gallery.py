"""demo.gallery on hand-made tracker JSON: crop choice, presence, tiles, colours."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from demo.gallery import (
    BORDER,
    CROP_H,
    TILE_W,
    TIMELINE_H,
    cut,
    plan_crops,
    presence,
    render_tile,
    track_color,
)


def _obj(tid, box, conf):
    return {"id": tid, "box": box, "confidence": conf}


# Image 200x100. Quality = conf x (1 - max IoU with another box) x (0.5 if at the border).
# frame 1: id1 touches x=0 -> 0.9 * 1 * 0.5 = 0.45; id2 alone -> 0.5
# frame 2: the boxes overlap by 5x20 = 100 px, union 300 -> IoU 1/3:
#          id1 -> 0.6 * 2/3 = 0.4; id2 -> 0.8 * 2/3 = 0.533
# frame 3: id2 alone -> 0.5 (ties frame 1; the earlier frame wins)
RESULT = {
    "width": 200,
    "height": 100,
    "fps": 25.0,
    "frames": [
        {"frame": 1, "objects": [_obj(1, [0, 10, 10, 30], 0.9), _obj(2, [100, 10, 110, 30], 0.5)]},
        {"frame": 2, "objects": [_obj(1, [10, 10, 20, 30], 0.6), _obj(2, [15, 10, 25, 30], 0.8)]},
        {"frame": 3, "objects": [_obj(2, [50, 10, 60, 30], 0.5)]},
    ],
    "tracks": {
        "1": {
            "first_frame": 1,
            "last_frame": 2,
            "frames": 2,
            "best_crop": {"frame": 1, "box": [0, 10, 10, 30]},
        },
        "2": {
            "first_frame": 1,
            "last_frame": 3,
            "frames": 3,
            "best_crop": {"frame": 2, "box": [15, 10, 25, 30]},
        },
    },
}


def _plan(per_track):
    plan = plan_crops(RESULT, per_track)
    return {
        f: sorted((t, tuple(b), best) for t, b, best in items) for f, items in plan.by_frame.items()
    }, plan.last_frame


def test_plan_takes_best_crops_and_top_quality_boxes():
    by_frame, last = _plan(0)
    assert by_frame == {1: [(1, (0, 10, 10, 30), True)], 2: [(2, (15, 10, 25, 30), True)]}
    assert last == 2
    by_frame, last = _plan(1)
    assert by_frame == {
        1: [(1, (0, 10, 10, 30), False), (1, (0, 10, 10, 30), True)],
        2: [(2, (15, 10, 25, 30), False), (2, (15, 10, 25, 30), True)],
    }
    by_frame, last = _plan(
        2
    )  # id1: both frames; id2: frame 2 (0.533) and frame 1 (0.5, earlier than 3)
    flat = sorted((f, t) for f, items in by_frame.items() for t, _, best in items if not best)
    assert flat == [(1, 1), (1, 2), (2, 1), (2, 2)] and last == 2
    _, last = _plan(5)  # everything
    assert last == 3


def test_presence_per_frame():
    pres = presence(RESULT, 3)
    assert pres[1].tolist() == [True, True, False] and pres[2].tolist() == [True, True, True]
    assert presence(RESULT, 2)[2].tolist() == [True, True]  # frames past the end are ignored


def test_tile_letterboxes_the_crop_and_draws_the_timeline():
    crop = np.zeros((200, 50, 3), np.uint8)
    crop[:] = (10, 200, 30)
    present = np.r_[np.ones(50, bool), np.zeros(50, bool)]  # first half of the video
    color = (255, 0, 0)
    tile = render_tile(crop, present, color)
    assert tile.shape == (CROP_H + TIMELINE_H, TILE_W, 3)
    assert tuple(tile[CROP_H // 2, TILE_W // 2]) == (10, 200, 30)  # the crop, centred
    assert tuple(tile[0, 0]) == color and tuple(tile[CROP_H - 1, TILE_W - 1]) == color  # border
    assert tuple(tile[CROP_H // 2, BORDER + 2]) == (24, 24, 24)  # letterbox bars beside a tall crop
    row = tile[CROP_H + TIMELINE_H - 4]
    assert (row[: TILE_W // 2] == color).all() and (row[TILE_W // 2 + 1 :] == 70).all()
    half = render_tile(crop, np.array([True, False] * TILE_W), color)  # 2 frames a column
    shade = half[CROP_H + TIMELINE_H - 4, 5]
    assert tuple(shade) == (162, 35, 35)  # 70 + 0.5 * (color - 70)


def test_cut_pads_and_clips_to_the_frame():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[..., 0] = 255  # blue in BGR
    crop = cut(frame, [-20, 90, 30, 150], pad=0.0)
    assert crop.shape == (10, 30, 3) and (crop[..., 2] == 255).all()  # RGB out
    assert cut(frame, [50, 20, 150, 70], pad=0.1).shape == (60, 120, 3)
    assert cut(frame, [500, 500, 600, 600]).shape == (1, 1, 3)  # off-frame: one edge pixel


@pytest.mark.parametrize("track_id", [1, 3, 17])
def test_tile_colour_is_the_videos_box_colour(track_id):
    scene = np.zeros((60, 60, 3), np.uint8)
    det = sv.Detections(xyxy=np.array([[10.0, 10, 50, 50]]), tracker_id=np.array([track_id]))
    scene = sv.BoxAnnotator(thickness=2, color_lookup=sv.ColorLookup.TRACK).annotate(scene, det)
    assert tuple(int(c) for c in scene[10, 30, ::-1]) == track_color(track_id)
