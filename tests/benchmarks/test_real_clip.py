"""benchmarks/real_clip.py end to end on the project's sample clip with a random tiny model, and
its split / join count on hand-made tracks."""

from __future__ import annotations

import json

import numpy as np

from benchmarks.real_clip import detect_video, main, render, splits_and_joins

RUNS = ("motion only", "random (before)", "random (now)", "synthetic (before)", "synthetic (now)")


def _rows(frames, tid, x=0.0):
    """Result rows of one id over ``frames``: a 10x40 box at ``x``."""
    return np.array([[f, tid, x, 0, 10, 40, 1, -1, -1, -1] for f in frames], float)


def test_a_split_motion_track_and_a_join_are_counted():
    motion = np.vstack([_rows(range(1, 11), 1), _rows(range(1, 11), 2, x=100.0)])
    # track 1 goes to two ids; track 2 keeps one
    split = np.vstack(
        [_rows(range(1, 6), 5), _rows(range(6, 11), 6), _rows(range(1, 11), 7, x=100.0)]
    )
    assert splits_and_joins(motion, split) == {
        "motion_tracks_split": 1,
        "ids_joining_motion_tracks": 0,
        "far_moves": 0,  # id 6 never follows another motion track
    }
    # motion only lost the person at frame 6 and started a new id; the run kept one id
    motion2 = np.vstack([_rows(range(1, 6), 1), _rows(range(6, 11), 2)])
    assert splits_and_joins(motion2, _rows(range(1, 11), 9)) == {
        "motion_tracks_split": 0,
        "ids_joining_motion_tracks": 1,
        "far_moves": 0,  # the same place: a move of 0 box heights
    }
    # fewer than MIN_SHARED frames with another id is not a split
    blip = np.vstack([_rows(range(1, 10), 5), _rows([10], 6)])
    assert splits_and_joins(_rows(range(1, 11), 1), blip)["motion_tracks_split"] == 0


def test_end_to_end_on_the_sample_clip(sample_clip, tiny_checkpoint, tmp_path):
    out = tmp_path / "real_clip.json"
    video = sample_clip / "sample.mp4"
    args = ["--video", str(video), "--cache", str(tmp_path / "real")]
    args += ["--features", str(tmp_path / "features"), "--runs", str(tmp_path / "runs")]
    args += ["--checkpoint", str(tiny_checkpoint), "--model", "test-tiny"]
    args += ["--max-frames", "30", "--hog-upscale", "1", "--out", str(out)]
    assert main(args) == 0
    result = json.loads(out.read_text())

    assert result["video"]["frames"] == 30 and len(result["video"]["sha256"]) == 64
    assert result["video"]["bytes"] == video.stat().st_size
    assert result["detector"]["detections"] > 0
    assert result["upscale_choice"] is None  # by-eye marks exist for the two real clips only
    assert set(result["presets"]) == {"street", "default"}
    for body in result["presets"].values():
        rows = body["rows"]
        assert tuple(rows) == RUNS
        motion = rows["motion only"]
        assert motion["ids"] > 0 and motion["teleports"] == 0
        for name in RUNS[1:]:
            r = rows[name]
            assert {"ids", "mean_track_frames", "teleports", "vs_motion_only"} <= set(r)
            assert set(r["vs_motion_only"]) == {
                "IDF1",
                "IDSW",
                "motion_tracks_split",
                "ids_joining_motion_tracks",
                "far_moves",
            }
            assert 0 <= r["vs_motion_only"]["IDF1"] <= 100
        assert len(body["checks"]) == 2
        assert all(isinstance(c["ok"], bool) for c in body["checks"].values())
    assert isinstance(result["checks_ok"], bool)
    assert {"detect", "embed random", "embed synthetic"} <= set(result["seconds"])
    table = render(result)
    assert "| street | motion only |" in table and "sample.mp4" in table

    # the detections are cached: a second call reads them back
    seq = tmp_path / "real" / "sample"
    stamp = json.loads((seq / "detect.json").read_text())
    assert detect_video(video, seq, 1.0, result["detector"]["conf"], 30) == stamp


def test_upscale_choice_counts_marked_people_per_frame(sample_clip, tmp_path, monkeypatch):
    """People marked at the ground truth's centres in two frames, plus one mark where nobody
    stands: every count is over both frames, and the empty mark is never found."""
    from benchmarks import hog_upscale_check, real_clip
    from cgclip.io.mot import read_mot

    video = sample_clip / "sample.mp4"
    gt = read_mot(sample_clip / "gt.txt", kind="gt")
    marks = {}
    for f in (1, 10):
        rows = gt[(gt[:, 0] == f) & (gt[:, 8] > 0.8)]
        marks[str(f)] = (rows[:, 2:4] + rows[:, 4:6] / 2).round().tolist()
    marks["10"].append([-400, -400])  # nobody there
    sha = real_clip.video_record(video)["sha256"]
    book = tmp_path / "marks.json"
    book.write_text(json.dumps({"clips": {sha: {"heights": [0, 1000], "frames": marks}}}))
    monkeypatch.setattr(hog_upscale_check, "EYE_MARKS_FILE", book)

    choice = hog_upscale_check.upscale_choice(video, 0.1, sha)
    assert choice["frames"] == [1, 10]
    assert choice["marked_people"] == sum(map(len, marks.values()))
    assert set(choice["upscales"]) == {"1", "1.5", "2"}
    for row in choice["upscales"].values():
        assert row["conf>=0.1"]["found"] <= choice["marked_people"] - 1  # the empty mark
        assert row["conf>=0.5"]["found"] <= row["conf>=0.1"]["found"]
    assert choice["upscales"]["1"]["conf>=0.1"]["found"] >= 0.75 * (choice["marked_people"] - 1)
    table = hog_upscale_check.render_choice(choice)
    assert table.startswith(f"Frames 1, 10, {choice['marked_people']} people marked by hand")
    assert hog_upscale_check.upscale_choice(video, 0.1, "0" * 64) is None  # a clip without marks
