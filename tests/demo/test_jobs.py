"""demo.jobs (cancel flags, time left, PhaseSink) and demo.collect (spans, feature matching)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import supervision as sv

from demo.collect import FeatureTap, TrackCollector, spans_of
from demo.jobs import Cancelled, Job, JobRegistry, PhaseSink, time_left


def test_time_left_from_the_rate_so_far():
    assert time_left(0, 100, 1.0) == "" and time_left(1, 100, 1.0) == ""  # no rate yet
    assert time_left(50, 100, 10.0) == "about 10 s left"
    assert time_left(10, 100, 60.0) == "about 9 min left"
    assert time_left(99, 100, 10.0) == "less than 1 s left"
    assert time_left(100, 100, 10.0) == "" and time_left(5, None, 1.0) == ""


def test_registry_cancels_by_session_and_all_at_shutdown():
    jobs = JobRegistry()
    a, b = jobs.start("tab-a"), jobs.start("tab-b")
    assert jobs.cancel("tab-a", "cancelled by the visitor") and a.cancelled and not b.cancelled
    with pytest.raises(Cancelled, match="cancelled by the visitor"):
        a.check()
    assert not jobs.cancel("nobody")
    again = jobs.start("tab-b")  # a new request from the same tab replaces the old one
    assert b.cancelled and b.reason == "replaced by a new request" and not again.cancelled
    jobs.finish("tab-a", a)
    assert len(jobs) == 1 and jobs.cancel_all() == 1 and again.cancelled
    assert again.reason == "the server is shutting down"


def test_phase_sink_reports_frames_time_left_and_stops_on_cancel():
    clock = iter(np.arange(0.0, 100.0, 1.0))  # one second per call
    reports = []
    job = Job()
    sink = PhaseSink(
        job,
        lambda f, d: reports.append((f, d)),
        total=10,
        start=0.1,
        end=0.9,
        every=0.0,
        clock=lambda: float(next(clock)),
    )
    with sink:
        for _ in range(4):
            sink.write(None)
    assert reports[0] == (0.1, "tracking")
    assert reports[2] == (pytest.approx(0.1 + 0.8 * 0.2), "tracking: frame 2 of 10, about 8 s left")
    assert reports[-1][1] == "encoding video (H.264) and writing the result files"
    job.cancel("cancelled by the visitor")
    with pytest.raises(Cancelled), sink:
        sink.write(None)


def test_phase_sink_names_no_encoding_phase_after_an_error():
    reports = []
    with pytest.raises(RuntimeError), PhaseSink(None, lambda f, d: reports.append(d), total=3):
        raise RuntimeError("boom")
    assert reports == ["tracking"]


def test_spans_are_runs_of_consecutive_frames():
    assert spans_of([]) == []
    assert spans_of([1, 2, 3, 7, 9, 10]) == [(1, 3), (7, 7), (9, 10)]


def _frame(fid, ids, boxes, frame, backfill=()):
    tracked = sv.Detections(
        xyxy=np.asarray(boxes, np.float32).reshape(-1, 4),
        confidence=np.full(len(ids), 0.9, np.float32),
        tracker_id=np.asarray(ids, np.int64),
    )
    return SimpleNamespace(frame_id=fid, frame=frame, tracked=tracked, backfill=list(backfill))


class _Embedder:
    """Tokens (N, 2, 3) whose CLS is the box's x1 (so the reused features can be checked)."""

    name = "fake"

    def embed_frame(self, frame, boxes):
        cls = np.repeat(np.asarray(boxes)[:, :1], 3, axis=1)
        tokens = np.stack([cls, -cls], axis=1)
        return SimpleNamespace(features=tokens, embeddings=cls)


def test_collector_reuses_the_encoded_cls_of_each_tracked_box():
    frame = np.zeros((100, 200, 3), np.uint8)
    tap = FeatureTap(_Embedder())
    collector = TrackCollector(
        cut=lambda f, box: np.full((4, 2, 3), int(box[0]), np.uint8),
        tap=tap,
        project=lambda mean: mean * 2,
        per_track=2,
        image_size=(200, 100),
    )
    assert tap.name == "fake"  # everything else is forwarded
    with collector:
        for fid, x in ((1, 10.0), (2, 20.0), (3, 30.0)):
            tap.embed_frame(frame, np.array([[x, 10, x + 20, 60], [120.0, 10, 140, 60]]))
            # the tracker reports a slightly moved (Kalman) box for id 5; id 6 was not encoded
            collector.write(
                _frame(fid, [5, 6], [[x + 1, 10, x + 21, 60], [150, 10, 170, 60]], frame)
            )
        collector.write(
            _frame(4, [], [], frame, backfill=[(0, _frame(0, [7], [[1, 1, 5, 5]], None).tracked)])
        )
    result = collector.result
    assert result.spans == {5: [(1, 3)], 6: [(1, 3)], 7: [(0, 0)]}
    assert set(result.features) == {5}  # id 6's boxes were never encoded
    np.testing.assert_allclose(
        result.features[5], [2 * 15.0] * 3
    )  # two of 10, 20, 30: ties -> first
    assert result.feature_frames[5] == [1, 2]
    assert result.best_frames == {5: 1, 6: 1} and result.best_crops[5][0, 0, 0] == 11
    assert result.presence(5).tolist() == [True, True, True, False]
    assert (result.first_frame(6), result.last_frame(6), result.frames(6)) == (1, 3, 3)


def test_collector_keeps_strip_crops_in_the_same_pass_and_lets_frames_go():
    """The attention strip's crops (unpadded, frame order, first and last live frame) come from
    the frames the pass hands its sinks; an id that leaves has its latest crop cut at once."""
    frames = {f: np.full((100, 200, 3), f, np.uint8) for f in range(1, 31)}
    pads = []

    def cut(frame, box, pad=0.06):
        pads.append(pad)
        return frame[:4, :2, ::-1].copy()

    collector = TrackCollector(cut=cut, strip_frames=4, image_size=(200, 100))
    with collector:
        for f in range(1, 31):
            ids = [1, 2] if f <= 12 else [1]  # id 2 leaves after frame 12
            collector.write(
                _frame(f, ids, [[10, 10, 40, 60], [100, 10, 130, 60]][: len(ids)], frames[f])
            )
            if f == 13:  # id 2's frame 12 (not a kept one) is cut now, no longer held
                assert collector._strips[2]._pending is None
                assert collector._strips[2]._tail[1] == 12
    strips = collector.result.strips
    assert [f for f, _ in strips[1]] == [1, 9, 17, 30]  # within stride / 2 of 1, 10.7, 20.3, 30
    assert [f for f, _ in strips[2]] == [1, 5, 9, 12]
    assert all(int(c[0, 0, 0]) == f for t in (1, 2) for f, c in strips[t])  # each its frame's
    assert 0.0 in pads and set(pads) <= {0.0, 0.06}  # strip crops unpadded, best crops padded


def test_collector_publishes_nothing_after_an_error():
    collector = TrackCollector(cut=lambda f, b: f)
    with pytest.raises(ValueError), collector:
        raise ValueError("stop")
    assert collector.result is None
