"""The one tracking loop (``tracker.pipeline``): sinks, the backfill of file outputs, the stage
timer, frame sources and their frame rate."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import supervision as sv

from cgclip.io.mot import SeqInfo, read_mot, write_seqinfo
from tracker import TrackerConfig
from tracker.detectors import ReplayDetector
from tracker.outputs import BackfillBuffer, JsonWriter, MotRows, MotWriter, VideoAnnotator
from tracker.pipeline import STAGES, StageTimer, TrackedFrame, iter_tracked, open_source
from tracker.tracker import Tracker

W, H = 480, 240


def person(x: float) -> list[float]:
    return [x, 60.0, x + 30.0, 150.0]


def scene(f: int) -> list[list[float]]:
    """A walks from frame 1; B stands from frame 4; C shows up for frames 7-8 only (never
    confirmed with min_hits=3: a tentative track is dropped at its first miss)."""
    boxes = [person(20 + 2 * f)]
    if f >= 4:
        boxes.append(person(300))
    if f in (7, 8):
        boxes.append(person(200))
    return boxes


class ScriptedDetector:
    """Detections from ``scene``, four frames per call (the loop must batch and unbatch)."""

    batch_size = 4

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def detect(self, frames, frame_ids):
        self.calls.append(list(frame_ids))
        out = []
        for f in frame_ids:
            boxes = np.array(scene(f), dtype=np.float32)
            out.append(
                sv.Detections(
                    xyxy=boxes,
                    confidence=np.full(len(boxes), 0.9, np.float32),
                    class_id=np.zeros(len(boxes), np.int64),
                )
            )
        return out


def blank_frames(n: int = 10) -> list[np.ndarray]:
    return [np.full((H, W, 3), 40, np.uint8) for _ in range(n)]


def test_file_outputs_keep_the_tentative_frames_the_live_stream_cannot(tmp_path):
    tracker = Tracker(TrackerConfig(min_hits=3))
    timer = StageTimer()
    detector = ScriptedDetector()
    sinks = [
        MotWriter(tmp_path / "r.txt"),
        JsonWriter(tmp_path / "r.json", meta={"video": "toy"}, image_size=(W, H)),
        VideoAnnotator(tmp_path / "r.mp4", fps=30.0, size=(W, H), timer=timer),
    ]
    live = {}
    for r in iter_tracked(blank_frames(), detector, tracker, sinks=sinks, timer=timer):
        live[r.frame_id] = sorted(r.tracked.tracker_id.tolist())
        assert r.backfill_horizon == 2
    assert detector.calls == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    # live: A from frame 1 (the first frame confirms at once), B only from its third frame, 6
    assert live == {f: [1] if f < 6 else [1, 2] for f in range(1, 11)}

    rows = read_mot(tmp_path / "r.txt", kind="results")
    lines = (tmp_path / "r.txt").read_text().splitlines()
    assert [tuple(map(int, ln.split(",")[:2])) for ln in lines] == sorted(
        (int(f), int(t)) for f, t in rows[:, :2]
    )  # the file itself is in frame, then id order
    assert rows[rows[:, 1] == 1, 0].tolist() == list(range(1, 11))
    assert rows[rows[:, 1] == 2, 0].tolist() == list(range(4, 11))  # from B's first frame
    assert set(rows[:, 1]) == {1, 2}  # C was never confirmed
    b4 = rows[(rows[:, 0] == 4) & (rows[:, 1] == 2)][0]
    assert b4[2:6].tolist() == [300, 60, 30, 90]

    data = json.loads((tmp_path / "r.json").read_text())
    assert data["video"] == "toy"
    assert [fr["frame"] for fr in data["frames"]] == list(range(1, 11))
    per_frame = {fr["frame"]: [o["id"] for o in fr["objects"]] for fr in data["frames"]}
    assert per_frame == {f: [1] if f < 4 else [1, 2] for f in range(1, 11)}
    b = data["tracks"]["2"]
    assert (b["first_frame"], b["last_frame"], b["frames"]) == (4, 10, 7)
    assert 4 <= b["best_crop"]["frame"] <= 10 and b["best_crop"]["box"] == person(300)

    cap = cv2.VideoCapture(str(tmp_path / "r.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    cap.release()
    assert set(timer.seconds) == set(STAGES)
    assert timer.seconds["draw"] > 0 and timer.seconds["embed"] == 0  # no embedder


def test_backfill_older_than_the_held_frames_is_refused():
    buf = BackfillBuffer()
    empty = sv.Detections.empty()
    empty.tracker_id = np.zeros(0, np.int64)
    for f in (1, 2, 3):
        buf.push(TrackedFrame(f, None, empty, [], backfill_horizon=1))
    late = sv.Detections(xyxy=np.array([person(5)], np.float32), tracker_id=np.array([7]))
    with pytest.raises(ValueError, match="backfill for frame 1 arrived at frame 4"):
        buf.push(TrackedFrame(4, None, empty, [(1, late)], backfill_horizon=1))


def test_files_are_published_only_when_the_loop_finishes(tmp_path):
    out = tmp_path / "r.txt"
    loop = iter_tracked(
        blank_frames(), ScriptedDetector(), Tracker(TrackerConfig()), sinks=[MotWriter(out)]
    )
    for r in loop:
        if r.frame_id == 3:
            break
    loop.close()
    assert not out.exists() and not list(tmp_path.iterdir())  # no partial file, no temp file
    rows = MotRows()
    results = list(
        iter_tracked(
            blank_frames(), ScriptedDetector(), Tracker(TrackerConfig()), sinks=[rows], max_frames=5
        )
    )
    assert [r.frame_id for r in results] == [1, 2, 3, 4, 5]
    assert rows.rows[:, 0].max() == 5


def test_stage_timer_counts_nested_stages_once(monkeypatch):
    clock = iter([0.0, 1.0, 3.0, 4.0, 10.0, 12.0])
    monkeypatch.setattr("tracker.pipeline.time.perf_counter", lambda: next(clock))
    timer = StageTimer()
    with timer("associate"), timer("embed"):  # associate 0 .. 4, of which embed 1 .. 3
        pass
    with timer("detect"):  # 10 .. 12
        pass
    assert timer.seconds["associate"] == 2.0
    assert timer.seconds["embed"] == 2.0
    assert timer.seconds["detect"] == 2.0
    assert timer.seconds["decode"] == 0.0


def _mot_sequence(root, frames: int = 6, fps: float = 10.0):
    seq = root / "toy-01"
    (seq / "img1").mkdir(parents=True)
    for f in range(1, frames + 1):
        cv2.imwrite(str(seq / "img1" / f"{f:06d}.jpg"), np.zeros((H, W, 3), np.uint8))
    write_seqinfo(seq, SeqInfo("toy-01", fps, frames, W, H))
    (seq / "det").mkdir()
    det = "".join(f"{f},-1,{20 + 2 * f},60,30,90,0.9,-1,-1,-1\n" for f in range(1, frames + 1))
    (seq / "det" / "det.txt").write_text(det)
    return seq


def test_sources_give_the_frame_rate_and_decode_only_when_asked(tmp_path):
    seq = _mot_sequence(tmp_path)
    decoded = open_source(seq / "img1")
    assert decoded.fps == 10.0 and decoded.info.frame_count == 6
    assert all(f.shape == (H, W, 3) for f in decoded.frames)
    marker = np.zeros((1, 1, 3), np.uint8)
    bare = open_source(seq, decode=False, placeholder=marker)
    assert (bare.fps, bare.info.size, bare.info.frame_count) == (10.0, (W, H), 6)
    assert [f is marker for f in bare.frames] == [True] * 6
    frames = open_source(blank_frames(3), fps=25.0)
    assert (frames.fps, frames.info.size, frames.info.frame_count) == (25.0, (W, H), 3)


def test_track_video_runs_the_tracker_at_the_video_frame_rate(tmp_path, monkeypatch):
    import tracker.run as run

    seq = _mot_sequence(tmp_path)
    built = []

    class Recording(Tracker):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self.frame_rate)

    monkeypatch.setattr(run, "Tracker", Recording)
    summary = run.track_video(
        seq / "img1",
        detector=ReplayDetector(seq / "det" / "det.txt"),
        config=TrackerConfig(min_hits=3),
        out_mot=tmp_path / "r.txt",
        progress=False,
    )
    assert built == [10.0] and summary.frames == 6 and summary.ids == 1
    rows = read_mot(tmp_path / "r.txt", kind="results")
    assert rows[:, 0].tolist() == [1, 2, 3, 4, 5, 6]  # frame 1 confirms at once


def test_frame_tracker_detects_and_tracks_one_frame_per_call():
    from tracker import Tracker, TrackerConfig
    from tracker.pipeline import FrameTracker

    class Walker:
        """One person walking right; the detector sees the frame ids it is given."""

        batch_size = 1

        def __init__(self) -> None:
            self.seen: list[int] = []

        def detect(self, frames, frame_ids):
            self.seen += list(frame_ids)
            return [
                sv.Detections(
                    xyxy=np.array([[10.0 + 5 * f, 20, 40 + 5 * f, 110]]),
                    confidence=np.array([0.9]),
                    class_id=np.array([0]),
                )
                for f in frame_ids
            ]

    detector = Walker()
    track = FrameTracker(detector, Tracker(TrackerConfig(min_hits=2)))
    frame = np.zeros((200, 300, 3), np.uint8)
    ids = [track(frame).tracker_id.tolist() for _ in range(4)]
    assert ids == [[1], [1], [1], [1]]  # the first frame confirms at once, then persists
    assert detector.seen == [1, 2, 3, 4]
    track.reset()
    assert track(frame).tracker_id.tolist() == [1] and detector.seen[-1] == 1


def test_track_video_feeds_extra_sinks_in_the_same_pass(tmp_path):
    """``track_video(sinks=...)``: each extra sink sees every frame and closes before the file
    writers publish (what the demo's progress and gallery sinks rely on)."""
    from tracker.run import track_video

    seq = _mot_sequence(tmp_path)
    out = tmp_path / "r.txt"
    events: list[str] = []

    class Probe:
        def __init__(self, name: str) -> None:
            self.name = name

        def __enter__(self):
            events.append(f"enter {self.name}")
            return self

        def write(self, result: TrackedFrame) -> None:
            events.append(f"{self.name} {result.frame_id}")

        def __exit__(self, *exc):
            events.append(f"exit {self.name} (file published: {out.exists()})")

    summary = track_video(
        seq / "img1",
        detector=ReplayDetector(seq / "det" / "det.txt"),
        config=TrackerConfig(min_hits=3),
        out_mot=out,
        progress=False,
        sinks=[Probe("a"), Probe("b")],
    )
    assert summary.frames == 6 and out.exists()
    assert events[:2] == ["enter a", "enter b"]
    assert [e for e in events if e.startswith("a ")] == [f"a {f}" for f in range(1, 7)]
    assert events[-2:] == ["exit b (file published: False)", "exit a (file published: False)"]


class InterruptAt(ScriptedDetector):
    """Ctrl-C while detecting the batch that holds frame ``at``."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def detect(self, frames, frame_ids):
        if self.at in frame_ids:
            raise KeyboardInterrupt
        return super().detect(frames, frame_ids)


def test_keep_partial_publishes_every_frame_the_sinks_got_on_an_interrupt(tmp_path):
    stops = []
    js = JsonWriter(tmp_path / "r.json", image_size=(W, H))
    js.footer = lambda: {"stopped": [type(e).__name__ for e, _ in stops]}
    sinks = [MotWriter(tmp_path / "r.txt"), js, MotRows()]
    seen = []
    with pytest.raises(KeyboardInterrupt):
        for r in iter_tracked(
            blank_frames(),
            InterruptAt(6),  # batches 1-4, 5-8: frames 1-4 reach the sinks
            Tracker(TrackerConfig(min_hits=3)),
            sinks=sinks,
            keep_partial=True,
            on_stop=lambda err, written: stops.append((err, written)),
        ):
            seen.append(r.frame_id)
    assert seen == [1, 2, 3, 4] and [w for _, w in stops] == [4]
    rows = read_mot(tmp_path / "r.txt", kind="results")
    # every frame up to the last complete one, the held (backfill) frames flushed too
    assert sorted(set(rows[:, 0].tolist())) == [1, 2, 3, 4]
    # B, tentative from frame 4, would be confirmed at frame 6: the partial run never has it
    assert rows[:, 1].tolist() == [1, 1, 1, 1]
    data = json.loads((tmp_path / "r.json").read_text())
    assert [f["frame"] for f in data["frames"]] == [1, 2, 3, 4]
    assert data["stopped"] == ["KeyboardInterrupt"] and js.frames_written == 4
    assert sinks[2].rows[:, 0].max() == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.txt"]  # no temp files


def test_without_keep_partial_or_before_any_frame_an_interrupt_keeps_nothing(tmp_path):
    for keep, at in ((False, 6), (True, 2)):  # at 2: the first batch (frames 1-4) never ends
        with pytest.raises(KeyboardInterrupt):
            for _ in iter_tracked(
                blank_frames(),
                InterruptAt(at),
                Tracker(TrackerConfig()),
                sinks=[MotWriter(tmp_path / "r.txt")],
                keep_partial=keep,
            ):
                pass
        assert list(tmp_path.iterdir()) == []


def test_signals_wait_while_the_sinks_write_a_frame():
    import os
    import signal

    from tracker.pipeline import signals_deferred

    with pytest.raises(KeyboardInterrupt), signals_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        reached = True  # the interrupt did not cut the block short
    assert reached
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    with signals_deferred(active=False):  # the loop without keep_partial: nothing changes
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class FakeCamera:
    """A ``cv2.VideoCapture`` of a webcam: ``n`` frames, then nothing; no frame count."""

    def __init__(self, n: int = 9) -> None:
        self.n, self.read_count, self.released = n, 0, False

    def isOpened(self):  # noqa: N802
        return True

    def read(self):
        if self.read_count >= self.n:
            return False, None
        self.read_count += 1
        return True, np.full((H, W, 3), self.read_count, np.uint8)

    def get(self, prop):
        return 15.0 if prop == cv2.CAP_PROP_FPS else -1.0  # a camera knows no length

    def release(self):
        self.released = True


def test_a_webcam_index_opens_a_live_source(monkeypatch):
    opened = []

    def open_capture(target):
        opened.append(target)
        return FakeCamera()

    monkeypatch.setattr("cgclip.io.video.open_capture", open_capture)
    src = open_source("0")
    assert opened == [0] and src.name == "camera 0"
    assert (src.fps, src.info.size, src.info.frame_count) == (15.0, (W, H), 0)  # live: no length
    rows = MotRows()
    results = list(iter_tracked(src, ScriptedDetector(), Tracker(TrackerConfig()), sinks=[rows]))
    assert [int(r.frame[0, 0, 0]) for r in results] == list(range(1, 10))
    assert rows.rows[:, 0].max() == 9 and not src.truncated()


def test_a_source_that_cannot_be_opened_is_one_line(monkeypatch):
    from cgclip.errors import UserError

    monkeypatch.setattr("cgclip.io.video.open_capture", lambda target: None)
    with pytest.raises(UserError, match=r"^camera 3: cannot open; check that a camera"):
        open_source("3")
    with pytest.raises(UserError, match=r"^rtsp://cam.invalid/s: cannot open; check the URL"):
        open_source("rtsp://cam.invalid/s")
