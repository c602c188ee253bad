"""Toy scenes with hand-made detections, each asserting the exact id continuity expected."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from cgclip.errors import UserError
from tracker import Tracker, TrackerConfig, load_preset


def person(x: float, y: float = 100.0, w: float = 30.0, h: float = 90.0) -> list[float]:
    return [x, y, x + w, y + h]


def dets(
    boxes: list[list[float]], conf: list[float] | None = None, emb: np.ndarray | None = None
) -> sv.Detections:
    d = sv.Detections(
        xyxy=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        confidence=np.array(conf if conf is not None else [0.9] * len(boxes), dtype=np.float32),
        class_id=np.zeros(len(boxes), dtype=np.int64),
    )
    if emb is not None:
        d.data["embedding"] = np.asarray(emb, dtype=np.float32)
    return d


def ids_by_box(out: sv.Detections) -> dict[float, int]:
    """tracker id keyed by the box's left edge (unique per person in these scenes)."""
    return {round(float(b[0]), 3): int(t) for b, t in zip(out.xyxy, out.tracker_id, strict=True)}


def test_crossing_with_occlusion_keeps_both_ids():
    tracker = Tracker(TrackerConfig(min_hits=1))
    seen_a, seen_b = set(), set()
    for f in range(40):
        xa, xb = 50 + 6 * f, 290 - 6 * f  # they meet around frame 20
        boxes = [person(xa)]
        if not 17 <= f <= 23:  # B hidden behind A while they cross
            boxes.append(person(xb, y=104))
        out = tracker.update(dets(boxes))
        by = ids_by_box(out)
        seen_a.add(by[round(xa, 3)])
        if len(boxes) == 2:
            seen_b.add(by[round(xb, 3)])
    assert seen_a == {1} and seen_b == {2}
    assert tracker.ids_assigned == 2


def test_occlusion_then_reappearance_keeps_id_and_velocity():
    tracker = Tracker(TrackerConfig(min_hits=1, max_time_lost=30))
    ids = []
    for f in range(50):
        x = 20 + 4 * f
        if 20 <= f < 32:  # behind a pillar for 12 frames
            out = tracker.update(dets([]))
            assert len(out) == 0
            continue
        out = tracker.update(dets([person(x)]))
        ids.extend(out.tracker_id.tolist())
    assert set(ids) == {1} and len(ids) == 50 - 12
    # OC-SORT re-update after the gap keeps the learnt velocity (4 px/frame), not a jump.
    assert abs(tracker.active_tracks[0].velocity[0] - 4.0) < 0.5


def _exit_reentry(use_embeddings: bool) -> list[tuple[int, str, int]]:
    """A and B play; A leaves (frame 20), C appears (frame 40), A comes back (frame 90)."""
    rng = np.random.default_rng(0)
    basis = np.eye(16, dtype=np.float32)
    look = {"A": basis[0] + basis[3], "B": basis[1] + basis[4], "C": basis[2] + basis[5]}
    tracker = Tracker(TrackerConfig(min_hits=2, max_time_lost=30, reid_buffer=200))
    log = []
    for f in range(120):
        people = {"A": person(100 + 5 * f)} if f < 20 else {}
        people["B"] = person(400, y=60)
        if f >= 40:
            people["C"] = person(300, y=200)
        if f >= 90:
            people["A"] = person(20 + 3 * (f - 90))  # comes back far from where it left
        names = list(people)
        emb = None
        if use_embeddings:
            emb = np.stack([look[n] + rng.normal(0, 0.05, 16) for n in names])
        out = tracker.update(dets([people[n] for n in names], emb=emb))
        by = ids_by_box(out)
        for n in names:
            tid = by.get(round(people[n][0], 3))
            if tid is not None:
                log.append((f, n, tid))
    return log


def test_exit_and_reentry_is_reidentified_by_appearance():
    log = _exit_reentry(use_embeddings=True)
    ids = {n: {t for _, m, t in log if m == n} for n in "ABC"}
    assert ids == {"A": {1}, "B": {2}, "C": {3}}
    # A is reported again from the first frame it is back.
    assert (90, "A", 1) in log


def test_exit_and_reentry_without_appearance_gets_a_new_id():
    log = _exit_reentry(use_embeddings=False)
    ids = {n: {t for _, m, t in log if m == n} for n in "ABC"}
    assert ids["B"] == {2} and ids["C"] == {3}
    assert ids["A"] == {1, 4}  # motion alone cannot know the returning player


def test_low_confidence_detections_extend_tracks_but_never_start_them():
    tracker = Tracker(TrackerConfig(min_hits=1, high_thresh=0.5, low_thresh=0.1))
    tracker.update(dets([person(10)], conf=[0.9]))
    for f in range(1, 6):  # A's detector confidence drops; a weak ghost appears far away
        out = tracker.update(dets([person(10 + 2 * f), person(400)], conf=[0.3, 0.3]))
        assert out.tracker_id.tolist() == [1]
    out = tracker.update(dets([person(10 + 12)], conf=[0.05]))  # below low_thresh: dropped
    assert len(out) == 0


def test_tentative_false_positive_never_gets_an_id():
    tracker = Tracker(TrackerConfig(min_hits=3))
    tracker.update(dets([person(10)]))  # frame 1: born confirmed (id 1)
    outs = []
    for f in range(1, 8):
        boxes = [person(10 + f)]
        if f == 3:
            boxes.append(person(300))  # one-frame false positive
        if f >= 4:
            boxes.append(person(200))  # a real newcomer, confirmed at its 3rd hit
        outs.append(tracker.update(dets(boxes)))
    assert [o.tracker_id.tolist() for o in outs] == [[1], [1], [1], [1], [1], [1, 2], [1, 2]]


def test_output_keeps_input_order_and_data():
    tracker = Tracker(TrackerConfig(min_hits=1))
    d = dets([person(10), person(200)])
    d.data["name"] = np.array(["a", "b"])
    out = tracker.update(d)
    assert out.data["name"].tolist() == ["a", "b"] and out.tracker_id.tolist() == [1, 2]
    assert np.allclose(out.xyxy, d.xyxy)


def test_two_trackers_do_not_share_state_and_reset_restarts_ids():
    t1, t2 = Tracker(TrackerConfig(min_hits=1)), Tracker(TrackerConfig(min_hits=1))
    a = t1.update(dets([person(10), person(100)]))
    b = t2.update(dets([person(300)]))
    assert a.tracker_id.tolist() == [1, 2] and b.tracker_id.tolist() == [1]
    t1.reset()
    assert t1.tracks == [] and t1.frame_id == 0
    assert t1.update(dets([person(50)])).tracker_id.tolist() == [1]


def test_presets_and_reid_options(tiny_checkpoint):
    sports = Tracker.from_preset("sports")
    assert sports.config == load_preset("sports") and sports.embedder is None
    assert Tracker.from_preset("dance", reid="none", min_hits=5).config.min_hits == 5
    dance = Tracker.from_preset("dance", reid=str(tiny_checkpoint), device="cpu")
    assert dance.embedder.model.name == "test-tiny" and dance.config == load_preset("dance")
    with pytest.raises(UserError, match="no such file"):
        Tracker.from_preset("default", reid="nope.safetensors")
    with pytest.raises(UserError, match="unknown tracker preset"):
        Tracker.from_preset("hockey")
    with pytest.raises(UserError, match="unknown setting"):
        Tracker.from_preset("default", min_hitz=2)
    with pytest.raises(UserError, match="output_box must be"):
        Tracker.from_preset("default", output_box="smooth")
    with pytest.raises(UserError, match="low_thresh <= high_thresh"):
        TrackerConfig(low_thresh=0.6, high_thresh=0.5)


def test_camera_pan_is_compensated():
    """A player stands still on a textured field; the camera starts panning (8 px/frame) while
    the player is occluded, so in the image the player jumps left. CMC keeps the prediction on it."""
    rng = np.random.default_rng(1)
    world = (rng.random((240, 1200)) * 255).astype(np.uint8)
    world = np.repeat(np.kron(world[:, :300], np.ones((1, 4), np.uint8))[..., None], 3, axis=2)
    results = {}
    for cmc in (False, True):
        tracker = Tracker(TrackerConfig(min_hits=1, cmc=cmc, cmc_downscale=1, max_time_lost=30))
        ids = []
        for f in range(40):
            cam = 8 * max(0, f - 8)
            frame = np.ascontiguousarray(world[:, cam : cam + 320])
            x = 400 - cam  # the player stands at world x = 400
            visible = not 10 <= f < 25
            out = tracker.update(dets([person(x, y=60)] if visible else []), frame)
            ids.extend(out.tracker_id.tolist())
        results[cmc] = ids
    assert set(results[True]) == {1}
    assert set(results[False]) == {1, 2}  # without CMC the prediction runs off and a new id starts


def test_kalman_output_boxes_are_smoother_than_jittered_detections():
    rng = np.random.default_rng(5)
    errors = {}
    for mode in ("detection", "kalman"):
        tracker = Tracker(TrackerConfig(min_hits=1, output_box=mode))
        err = []
        for f in range(60):
            true = np.array(person(50 + 3 * f))
            noisy = true + rng.normal(0, 3, 4)
            out = tracker.update(dets([noisy.tolist()]))
            assert out.tracker_id.tolist() == [1]
            if f >= 20:  # after the filter has settled
                err.append(np.abs(out.xyxy[0] - true).mean())
        errors[mode] = float(np.mean(err))
    assert errors["kalman"] < 0.8 * errors["detection"]


def test_confidence_noise_lets_confident_boxes_pull_the_filter_harder():
    """NSA Kalman (``confidence_noise``): after a jump in a confident box, the filtered box
    sits closer to it than with fixed measurement noise; off (0) it is the plain filter."""
    filtered = {}
    for k in (0.0, 1.0):
        tracker = Tracker(TrackerConfig(min_hits=1, output_box="kalman", confidence_noise=k))
        for f in range(20):
            tracker.update(dets([person(50 + 3 * f)], conf=[0.95]))
        out = tracker.update(dets([person(50 + 3 * 20 + 8)], conf=[0.95]))
        assert out.tracker_id.tolist() == [1]
        filtered[k] = out.xyxy[0, 0]
    measured = person(50 + 3 * 20 + 8)[0]
    assert abs(filtered[1.0] - measured) < 0.5 * abs(filtered[0.0] - measured)


def test_empty_frames_and_dropped_detections_keep_embeddings_aligned():
    tracker = Tracker(TrackerConfig(min_hits=1))
    look = np.eye(4, dtype=np.float32)
    assert tracker.update(dets([person(10)], emb=look[:1])).tracker_id.tolist() == [1]
    assert len(tracker.update(dets([], emb=np.zeros((0, 4), np.float32)))) == 0
    # The dropped (too weak) detection must not shift the embeddings of the kept ones.
    out = tracker.update(dets([person(300), person(12)], conf=[0.01, 0.9], emb=look[[1, 0]]))
    assert out.tracker_id.tolist() == [1] and np.allclose(out.data["embedding"], look[:1])
    assert tracker.tracks[0].has_embedding


def test_score_fusion_makes_a_weak_box_need_a_closer_overlap():
    """``fuse_score`` (ByteTrack): cost ``1 - IoU x confidence`` in the first stage. A box of
    confidence 0.5 that overlaps the track at IoU 0.6 (cost 0.4, or 0.7 fused) keeps the id
    under match_thresh 0.6 only without fusion; a confident one keeps it either way."""
    for fuse, weak_keeps in ((False, True), (True, False)):
        cfg = TrackerConfig(min_hits=1, high_thresh=0.3, match_thresh=0.6, fuse_score=fuse)
        # No observation recovery: its IoU-only stage would give the box back to the track.
        cfg = cfg.replace(observation_recovery=False, output_box="detection")
        for conf, keeps in ((0.5, weak_keeps), (0.95, True)):
            tracker = Tracker(cfg)
            for _ in range(5):
                tracker.update(dets([person(100)], conf=[0.95]))
            out = tracker.update(dets([person(107.5)], conf=[conf]))  # IoU 0.6 with the track
            assert (out.tracker_id.tolist() == [1]) is keeps, (fuse, conf)
