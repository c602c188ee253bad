"""Appearance that never hurts: hand-built toy scenes with exact id assertions.

Embeddings are hand-made unit vectors passed with the detections (``data["embedding"]``), so each
scene controls exactly how alike people look.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import supervision as sv

from cgclip.errors import UserError
from tracker import Tracker, TrackerConfig
from tracker.appearance_guard import AgedEmbeddings

DIM = 16
BASIS = np.eye(DIM, dtype=np.float32)
LOOKS = {
    "A": BASIS[0] + BASIS[3],
    "B": BASIS[1] + BASIS[4],
    "C": BASIS[2] + BASIS[5],
    "D": BASIS[0] + BASIS[3],  # A's look-alike
}


def person(x: float, y: float = 100.0, w: float = 30.0, h: float = 90.0) -> list[float]:
    return [x, y, x + w, y + h]


def frame_dets(people: dict[str, list[float]], looks: dict[str, np.ndarray] | None, rng):
    names = list(people)
    d = sv.Detections(
        xyxy=np.array([people[n] for n in names], dtype=np.float32).reshape(-1, 4),
        confidence=np.full(len(names), 0.9, dtype=np.float32),
        class_id=np.zeros(len(names), dtype=np.int64),
    )
    if looks is not None and names:
        d.data["embedding"] = np.stack(
            [looks[n] + rng.normal(0, 0.05, DIM).astype(np.float32) for n in names]
        )
    return names, d


def run_scene(scene, config: TrackerConfig, looks=LOOKS, frames: int = 120, **kw):
    """``scene(f) -> {name: box}``; returns ``{name: set of ids}`` and the tracker."""
    rng = np.random.default_rng(0)
    tracker = Tracker(config, **kw)
    seen: dict[str, set[int]] = {}
    for f in range(frames):
        people = scene(f)
        names, d = frame_dets(people, looks, rng)
        out = tracker.update(d)
        by_left = {
            round(float(b[0]), 3): int(t) for b, t in zip(out.xyxy, out.tracker_id, strict=True)
        }
        for n in names:
            tid = by_left.get(round(float(people[n][0]), 3))
            if tid is not None:
                seen.setdefault(n, set()).add(tid)
    return seen, tracker


def far_side_lookalike(f: int) -> dict[str, list[float]]:
    """A walks on the left and is hidden for frames 30-44; from frame 33 D, who looks exactly
    like A, walks on the far right; B and C stand apart (they teach the tracker that
    appearance separates people)."""
    people = {} if 30 <= f < 45 else {"A": person(40 + 1.0 * f)}
    people |= {"B": person(250, y=20), "C": person(330, y=250)}
    if f >= 33:
        people["D"] = person(560 - 1.0 * (f - 33), y=120)
    return people


def test_lookalike_on_the_far_side_never_takes_a_lost_id():
    cfg = TrackerConfig(min_hits=1, max_time_lost=30, reid_buffer=200)
    seen, tracker = run_scene(far_side_lookalike, cfg)
    # Appearance is trusted: it separates everyone from the people near them (A and D, who
    # cannot be told apart, are never near each other). Only reachability keeps D off A's id.
    assert tracker.trust > 0.3
    assert seen == {"A": {1}, "B": {2}, "C": {3}, "D": {4}}


def test_without_the_gate_the_far_lookalike_steals_the_id():
    """The same scene with the gate off: the failure the gate exists for (a 500 px teleport)."""
    # A is lost at frame 30: a short calibration gap lets re-identification learn before that
    # (hand-made looks do not change with time, so any gap calibrates the same).
    cfg = TrackerConfig(
        min_hits=1, max_time_lost=30, reid_buffer=200, reid_gate=False, reid_calibration_gap=0.2
    )
    seen, _ = run_scene(far_side_lookalike, cfg)
    assert 1 in seen["D"]


def left_border_exit(f: int) -> dict[str, list[float]]:
    """A walks out through the left border (frame ~25), B and C stay; A comes back through the
    left border 60 frames later, lower in the frame, walking right."""
    people = {}
    if f < 25:
        x = 60 - 4 * f
        people["A"] = [max(x, 0.0), 100.0, x + 30.0, 190.0]  # clipped at the border
    elif f >= 85:
        x = -20 + 3 * (f - 85)
        people["A"] = [max(x, 0.0), 160.0, x + 30.0, 250.0]
    return people | {"B": person(300, y=20), "C": person(420, y=220)}


def test_player_leaving_through_the_left_border_comes_back_with_the_id():
    cfg = TrackerConfig(min_hits=2, max_time_lost=30, reid_buffer=300)
    seen, _ = run_scene(left_border_exit, cfg, frames=130)
    assert seen == {"A": {1}, "B": {2}, "C": {3}}


SIZE = (640, 360)  # (width, height) of the toy scenes' image


@pytest.mark.parametrize(("exit_buffer", "ids_of_a"), [(None, {1}), (90, {1}), (30, {1, 4})])
def test_reid_exit_buffer_bounds_how_long_an_exit_is_reidentified(exit_buffer, ids_of_a):
    """A left through the border 60 frames before coming back: re-identified with the exit
    buffer unset (reid_buffer) or longer than the absence, a new person after a shorter one."""
    cfg = TrackerConfig(min_hits=2, max_time_lost=30, reid_buffer=300, reid_exit_buffer=exit_buffer)
    seen, _ = run_scene(left_border_exit, cfg, frames=130, image_size=SIZE)
    assert seen == {"A": ids_of_a, "B": {2}, "C": {3}}


def hidden_in_view(f: int) -> dict[str, list[float]]:
    """A walks right in the middle of the view and is hidden for 60 frames (behind a bus),
    then walks on; B and C stand apart."""
    people = {} if 30 <= f < 90 else {"A": person(100 + 1.0 * f, y=120)}
    return people | {"B": person(300, y=20), "C": person(420, y=250)}


def test_reid_exit_buffer_leaves_occlusions_inside_the_view_alone():
    cfg = TrackerConfig(min_hits=2, max_time_lost=30, reid_buffer=300, reid_exit_buffer=0)
    motion_only, _ = run_scene(hidden_in_view, cfg, looks=None, frames=130, image_size=SIZE)
    seen, _ = run_scene(hidden_in_view, cfg, frames=130, image_size=SIZE)
    assert motion_only["A"] == {1, 4}  # 60 frames: past the motion buffer
    assert seen == {"A": {1}, "B": {2}, "C": {3}}


def test_at_border_marks_boxes_touching_an_edge():
    from tracker.appearance_guard import at_border

    boxes = np.array(
        [
            [0, 100, 30, 190],  # left edge
            [300, 0, 330, 90],  # top
            [610, 100, 640, 190],  # right
            [300, 270, 330, 360],  # bottom
            [8, 100, 38, 190],  # 8 px in: within a tenth of its 90 px height
            [12, 100, 42, 190],  # 12 px in: inside the view
            [1, 100, 11, 110],  # small box 1 px in: the 2 px floor
            [300, 100, 330, 190],  # middle
        ],
        dtype=float,
    )
    assert at_border(boxes, SIZE).tolist() == [True] * 5 + [False, True, False]


def test_tracker_takes_the_image_size_from_frames_unless_given():
    dets = sv.Detections(xyxy=np.array([[10, 10, 40, 100]], dtype=np.float32))
    frame = np.zeros((360, 640, 3), np.uint8)
    learnt = Tracker(TrackerConfig())
    assert learnt.image_size is None
    learnt.update(dets, frame)
    assert learnt.image_size == (640, 360)
    learnt.reset()  # the next video may have another size
    assert learnt.image_size is None
    given = Tracker(TrackerConfig(), image_size=(1920, 1080))
    given.update(dets, frame)
    given.reset()
    assert given.image_size == (1920, 1080)


@pytest.mark.parametrize("kind", ["identical", "noise"])
def test_an_embedder_that_cannot_tell_people_apart_falls_back_to_motion(kind):
    """Everyone looks the same (or appearance is pure noise): trust drops to 0 and ids are
    exactly those of motion only, on a scene with an exit and a re-entry."""
    rng = np.random.default_rng(1)
    # The same vector for everyone, or a fresh random vector per person and frame.
    looks = dict.fromkeys(LOOKS, BASIS[0]) if kind == "identical" else _NoiseLooks(rng)
    cfg = TrackerConfig(min_hits=2, max_time_lost=30, reid_buffer=300)
    motion_only, _ = run_scene(left_border_exit, cfg, looks=None, frames=130)
    with_app, tracker = run_scene(left_border_exit, cfg, looks=looks, frames=130)
    assert tracker.trust == 0.0
    assert with_app == motion_only
    assert motion_only["A"] == {1, 4}  # motion alone cannot know the returning player


class _WideLooks(dict):
    """A matched embedder on a wide cosine scale: a person's crops lie about 0.5 apart in cosine
    distance from their track's mean look, different people about 1 (orthogonal looks plus large
    per-crop noise)."""

    def __init__(self) -> None:
        super().__init__()
        self.rng = np.random.default_rng(5)

    def __getitem__(self, name: str) -> np.ndarray:
        return (BASIS["ABCD".index(name)] + self.rng.normal(0, 0.4, DIM)).astype(np.float32)


def walkers(f: int) -> dict[str, list[float]]:
    """Three people walking apart, always seen."""
    return {"A": person(40 + f), "B": person(250 + 0.5 * f, y=20), "C": person(400, y=250)}


def test_a_matched_embedder_on_a_wide_cosine_scale_keeps_every_id():
    """The default has no absolute cosine gate in the fused stages: with one (0.4, the old
    default) this embedder's own crops fail it and every walker is split into new ids."""
    cfg = TrackerConfig(min_hits=2, observation_recovery=False)  # as the default preset
    seen, tracker = run_scene(walkers, cfg, looks=_WideLooks(), frames=80)
    assert tracker.trust == 1.0
    assert seen == {"A": {1}, "B": {2}, "C": {3}}
    gated, _ = run_scene(walkers, replace(cfg, appearance_gate=0.4), looks=_WideLooks(), frames=80)
    assert sum(len(ids) for ids in gated.values()) > 3


class _DriftingLooks(dict):
    """Each person's look turns slowly with time (a full turn away in about 40 frames): crops of
    one frame and the next are near-identical, as for any network on real footage, but after a
    second the look says nothing. Called once per frame per person, in scene order."""

    def __init__(self, names) -> None:
        super().__init__()
        rng = np.random.default_rng(3)
        self.start = {n: rng.normal(0, 1, DIM) for n in names}
        self.turn = {n: rng.normal(0, 1, DIM) for n in names}
        self.calls = dict.fromkeys(names, 0)

    def __getitem__(self, name: str) -> np.ndarray:
        self.calls[name] += 1
        angle = self.calls[name] / 40.0 * np.pi / 2
        a, b = self.start[name], self.turn[name]
        return (np.cos(angle) * a + np.sin(angle) * b).astype(np.float32)


def test_reid_is_calibrated_across_a_gap_not_across_one_frame():
    """Looks that match frame to frame but drift within a second: the one-frame calibration
    trusts them (the fused stages may use them), the gap-aged one does not, so the returning
    player is not re-identified by a guess; with the gap set to 0 (calibrating re-identification
    on consecutive frames, as before) the same embedder is trusted for it too."""
    cfg = TrackerConfig(min_hits=2, max_time_lost=30, reid_buffer=300)
    motion_only, _ = run_scene(left_border_exit, cfg, looks=None, frames=130)
    seen, tracker = run_scene(left_border_exit, cfg, looks=_DriftingLooks("ABC"), frames=130)
    assert tracker.trust == 1.0 and tracker.reid_trust == 0.0
    assert seen == motion_only
    _, naive = run_scene(
        left_border_exit,
        replace(cfg, reid_calibration_gap=0.0),
        looks=_DriftingLooks("ABC"),
        frames=130,
    )
    assert naive.reid_trust == 1.0


def test_aged_embeddings_are_one_to_two_gaps_old():
    aged = AgedEmbeddings()
    ids = np.array([7])
    refs = {}
    for frame in range(0, 50):
        ref, has = aged.references(ids, np.full((1, 2), float(frame)), frame, gap=10)
        refs[frame] = float(ref[0, 0]) if has[0] else None
    assert all(refs[f] is None for f in range(10))  # younger than one gap: no reference
    assert all(10 <= f - refs[f] <= 20 for f in range(10, 50))
    aged.keep_only(np.array([3]))
    assert len(aged) == 0


class _NoiseLooks(dict):
    def __init__(self, rng) -> None:
        super().__init__()
        self.rng = rng

    def __getitem__(self, name: str) -> np.ndarray:
        return self.rng.normal(0, 1, DIM).astype(np.float32)


def test_reid_needs_a_margin_over_every_other_known_person():
    """A leaves and comes back where it left; B (still in view) looks exactly like A. The
    embedding cannot say which of the two the newcomer is, so A's return gets a new id."""
    looks = {**LOOKS, "B": LOOKS["A"]}
    cfg = TrackerConfig(min_hits=2, max_time_lost=30, reid_buffer=300)
    seen, _ = run_scene(left_border_exit, cfg, looks=looks, frames=130)
    assert seen["A"] == {1, 4}
    assert seen["B"] == {2} and seen["C"] == {3}


def test_confirmed_tracks_hand_back_their_tentative_frames():
    tracker = Tracker(TrackerConfig(min_hits=3))
    rng = np.random.default_rng(0)
    live, back = {}, {}
    for f in range(1, 9):
        people = {"B": person(300)} if f >= 4 else {}
        _, d = frame_dets(people, None, rng)
        out = tracker.update(d)
        live[f] = out.tracker_id.tolist()
        for fid, det in tracker.backfill:
            back[fid] = det.tracker_id.tolist()
            assert det.xyxy.tolist() == [person(300)]
    # B appears at frame 4 and is confirmed (and reported live) at its third frame, 6.
    assert live == {1: [], 2: [], 3: [], 4: [], 5: [], 6: [1], 7: [1], 8: [1]}
    assert back == {4: [1], 5: [1]}
    assert max(6 - f for f in back) == tracker.backfill_horizon == 2


def test_frame_count_knobs_scale_with_the_frame_rate():
    cfg = TrackerConfig(max_time_lost=30, reid_buffer=300)
    assert (Tracker(cfg).max_time_lost, Tracker(cfg).reid_buffer) == (30, 300)
    fast = Tracker(cfg, frame_rate=60)
    assert (fast.max_time_lost, fast.reid_buffer) == (60, 600)
    assert Tracker(cfg, frame_rate=10).max_time_lost == 10
    with pytest.raises(UserError, match="frame_rate"):
        Tracker(cfg, frame_rate=float("nan"))


def test_backfill_never_reports_an_id_twice_in_a_frame():
    """A is tracked to frame 4; a second box of A's look starts at frame 3 beside it and is
    confirmed at frame 5, after A is lost, taking A's id by late re-identification. Its
    tentative frames 3-4 already have A under that id, so they are not backfilled."""
    cfg = TrackerConfig(
        min_hits=3, max_time_lost=30, reid_buffer=300, reid_min_margin=0.0, appearance_trust=False
    )
    tracker = Tracker(cfg)
    rng = np.random.default_rng(0)
    per_frame: dict[int, list[int]] = {}
    for f in range(1, 9):
        people = {"A": person(100)} if f <= 4 else {}
        if f >= 3:
            people["D"] = person(180)  # A's look-alike, within reach of A's last box
        _, d = frame_dets(people, LOOKS, rng)
        out = tracker.update(d)
        for fid, det in [*tracker.backfill, (f, out)]:
            per_frame.setdefault(fid, []).extend(det.tracker_id.tolist())
    assert per_frame[5] == [1]  # D took A's id at its confirmation
    assert all(len(ids) == len(set(ids)) for ids in per_frame.values()), per_frame
    assert per_frame[3] == per_frame[4] == [1]


def test_only_the_requested_classes_are_tracked():
    """COCO-style detections (a person, a car): the default tracks people only; ``classes``
    widens it; detections without class ids are all tracked."""
    boxes = np.array([person(100), person(300)], dtype=np.float32)

    def frames(class_id):
        for _ in range(3):
            yield sv.Detections(
                xyxy=boxes.copy(), confidence=np.full(2, 0.9, np.float32), class_id=class_id
            )

    def tracked(config: TrackerConfig, class_id) -> list[float]:
        tracker = Tracker(config)
        out = [tracker.update(d) for d in frames(class_id)][-1]
        return sorted(out.xyxy[:, 0].tolist())

    coco = np.array([0, 2])  # person, car
    assert tracked(TrackerConfig(min_hits=1), coco) == [100.0]
    assert tracked(TrackerConfig(min_hits=1, classes=(0, 2)), coco) == [100.0, 300.0]
    assert tracked(TrackerConfig(min_hits=1, classes=None), coco) == [100.0, 300.0]
    assert tracked(TrackerConfig(min_hits=1), None) == [100.0, 300.0]
    out = Tracker(TrackerConfig(min_hits=1)).update(next(frames(coco)))
    assert out.class_id.tolist() == [0]  # the detector's class ids are kept


def sliver_exit(f: int) -> dict[str, list[float]]:
    """A walks right and leaves through a border: for frames 20-29 only a sliver of A is in
    view (its crop shows background). From frame 40 a false positive of that background stands
    where A left; B and C stand apart."""
    people = {"B": person(250, y=20), "C": person(330, y=250)}
    if f < 20:
        people["A"] = person(100 + f)
    elif f < 30:
        people["A sliver"] = [122.0 + f, 100.0, 130.0 + f, 190.0]
    if f >= 40:
        people["F"] = person(150)
    return people


@pytest.mark.parametrize("min_aspect, stolen", [(0.25, False), (0.0, True)])
def test_a_sliver_at_the_border_does_not_hand_the_id_to_background(monkeypatch, min_aspect, stolen):
    """Sliver crops never join a window (MIN_CROP_ASPECT); without that rule A's embedding
    becomes the background's and the false positive takes A's id."""
    import tracker.appearance_guard as guard

    monkeypatch.setattr(guard, "MIN_CROP_ASPECT", min_aspect)
    background = BASIS[6] + BASIS[7]
    looks = LOOKS | {"A sliver": background, "F": background}
    # No appearance gate (as the dance and sports presets): motion carries A into the sliver.
    cfg = TrackerConfig(min_hits=2, max_time_lost=5, reid_buffer=300, appearance_gate=2.0)
    seen, _ = run_scene(sliver_exit, cfg, looks=looks, frames=60)
    assert len(seen["A"]) == 1 and seen["A sliver"] == seen["A"]
    assert (seen["F"] == seen["A"]) is stolen


def test_calibration_ranks_evidence_and_separability():
    """Rival rank and evidence follow the samples; separability is the AUC, 0.5 for an
    embedder whose own and rival distances are alike (trust 0), high when they separate."""
    from tracker.appearance_guard import AppearanceCalibration

    rng = np.random.default_rng(0)
    good = AppearanceCalibration(enabled=True, floor=0.55, full=0.7)
    assert good.separability == 0.5 and good.trust == 0.0  # nothing seen yet
    for _ in range(50):
        good.observe(rng.uniform(0.001, 0.01, 4), rng.uniform(0.02, 0.2, 8))
    assert good.separability > 0.95 and good.trust == 1.0
    rank = good.rival_rank(np.array([0.005, 0.02, 0.1, 1.0, np.inf]))
    assert rank[0] < 0.01 and rank[2] == pytest.approx(0.5, abs=0.1) and rank[3] > 0.99
    assert rank[4] == np.inf
    assert good.evidence(np.array([0.01]))[0] > 50  # all own detections, almost no rival
    useless = AppearanceCalibration(enabled=True, floor=0.55, full=0.7)
    for _ in range(50):
        useless.observe(rng.uniform(0.001, 0.2, 4), rng.uniform(0.001, 0.2, 8))
    assert abs(useless.separability - 0.5) < 0.05 and useless.trust == 0.0
    assert useless.evidence(np.array([0.01]))[0] < 3
