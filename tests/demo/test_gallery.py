"""demo.gallery: tiles, colours, segments, timeline, attention strip and its sampler."""

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
    render_tile,
    track_color,
)


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


def test_segments_are_runs_of_frames():
    from demo.gallery import segments

    assert segments([1, 2, 3, 7, 8, 10]) == [(1, 3), (7, 8), (10, 10)]
    assert segments(np.array([8, 7, 1, 2, 3, 10])) == [(1, 3), (7, 8), (10, 10)]  # unsorted
    assert segments([1, 2, 3, 7, 8, 10], max_gap=1) == [(1, 3), (7, 10)]
    assert segments([]) == []


def test_describe_segments_lists_runs_with_times():
    from demo.gallery import describe_segments, frame_time

    text = describe_segments(4, [(1, 25), (51, 60)], fps=25.0)
    assert text.startswith("**#4**: 35 frames in 2 segments")
    assert "- frames 1–25 (0.0–1.0 s)" in text and "- frames 51–60 (2.0–2.4 s)" in text
    assert frame_time(1, 25.0) == 0.0 and frame_time(51, 25.0) == pytest.approx(2.0)
    assert "not in any frame" in describe_segments(4, [], 25.0)


def test_timeline_draws_each_run_in_its_row_and_maps_clicks_back():
    from demo.gallery import TimelineLayout, render_timeline, timeline_hit

    lay = TimelineLayout()
    runs = {3: [(1, 50)], 9: [(51, 100), (100, 100)]}
    img = render_timeline(runs, num_frames=100, fps=25.0)
    assert img.shape == (lay.height(2), lay.width, 3) and img.dtype == np.uint8
    mid = lay.top + lay.row_h // 2
    for row, tid in enumerate(runs):
        y = mid + row * lay.row_h
        inside = [lay.x_of(a, 100) + 2 for a, _ in runs[tid]]
        assert all(tuple(img[y, x]) == track_color(tid) for x in inside)
    assert tuple(img[mid, lay.x_of(75, 100)]) != track_color(3)  # #3 is gone by frame 75
    assert tuple(img[mid + lay.row_h, lay.x_of(25, 100)]) != track_color(9)
    assert (img[:, :40] < 100).any()  # the "#id" labels are drawn
    assert timeline_hit(lay.x_of(30, 100) + 1, mid, [3, 9], 100) == (3, 30)
    assert timeline_hit(lay.x_of(80, 100) + 1, mid + lay.row_h, [3, 9], 100) == (9, 80)
    assert timeline_hit(10, lay.height(2) - 2, [3, 9], 100) is None  # the axis, not a row
    assert timeline_hit(10, 0, [3, 9], 100) is None


def test_strip_opacity_and_bars_follow_the_attention():
    from demo.gallery import STRIP_BAR_H, STRIP_CELL_W, STRIP_CROP_H, render_strip, strip_alpha

    w = np.array([0.5, 0.25, 0.0, 0.25])
    alpha = strip_alpha(w)
    assert alpha[0] == 1.0 and alpha[2] == pytest.approx(0.12) and alpha[1] == pytest.approx(0.56)
    assert (strip_alpha(np.zeros(3)) == 1).all()
    crops = [np.zeros((100, 40, 3), np.uint8) for _ in w]  # black crops: opacity shows as grey
    img = render_strip(crops, [1, 5, 9, 13], w, (255, 0, 0))
    assert img.shape[1] == 4 * STRIP_CELL_W
    centre = [
        int(img[STRIP_CROP_H // 2, i * STRIP_CELL_W + STRIP_CELL_W // 2, 0]) for i in range(4)
    ]
    assert centre[0] == 0 and centre[2] > centre[1] > centre[0]  # faded where mass is low
    assert centre[1] == centre[3]
    bar_col = [
        img[STRIP_CROP_H : STRIP_CROP_H + STRIP_BAR_H, i * STRIP_CELL_W + STRIP_CELL_W // 2]
        for i in range(4)
    ]
    heights = [int((col == (255, 0, 0)).all(1).sum()) for col in bar_col]
    assert heights[0] > heights[1] == heights[3] > heights[2] == 0
    assert heights[1] == pytest.approx(heights[0] / 2, abs=1)


@pytest.mark.parametrize("length", [3, 8, 9, 15, 16, 17, 100, 1000, 1001])
def test_strip_sampler_keeps_crops_spread_over_a_streamed_track(length):
    from demo.gallery import StripSampler

    sampler = StripSampler(8)
    cuts = []
    for f in range(1, length + 1):
        sampler.offer(f, lambda f=f: cuts.append(f) or np.full((4, 2, 3), f % 256, np.uint8))
        assert len(sampler.kept) < 16  # bounded memory
    picks = sampler.picks()
    frames = [f for f, _ in picks]
    assert len(frames) == min(8, length) and frames[0] == 1 and frames == sorted(set(frames))
    assert frames[-1] == length  # the strip reaches the track's last frame
    assert all(int(c[0, 0, 0]) == f % 256 for f, c in picks)  # each crop is its frame's
    if length > 8:  # each pick within half a stride of its evenly spaced position
        ideal = np.linspace(1, length, 8)
        assert np.abs(np.array(frames) - ideal).max() <= sampler.stride / 2 + 0.5
    if length >= 100:  # long tracks: most frames are never cut
        assert len(cuts) < length / 2


def test_strip_sampler_seals_the_latest_offer_when_the_track_leaves():
    """Sealed when the track leaves: the crop is cut then, the frame is no longer referenced,
    and a later offer replaces it."""
    from demo.gallery import StripSampler

    sampler = StripSampler(2)
    frames = {f: np.full((4, 2, 3), f, np.uint8) for f in range(1, 12)}
    for f in range(1, 8):
        sampler.offer(f, lambda f=f: frames[f].copy())
    sampler.seal()
    assert sampler._pending is None  # nothing holds frame 7 any more
    assert [f for f, _ in sampler.picks()] == [1, 7]
    for f in (10, 11):  # back after a gap
        sampler.offer(f, lambda f=f: frames[f].copy())
    picks = sampler.picks()
    assert [f for f, _ in picks] == [1, 11] and int(picks[-1][1][0, 0, 0]) == 11
