"""IoU, cosine distance, fused/gated costs and assignment on hand-computed cases."""

from __future__ import annotations

import numpy as np
import supervision as sv

from tracker.embedding import l2_normalize
from tracker.matching import (
    box_iou,
    cosine_distance,
    direction_cost,
    fuse_cost,
    linear_assignment,
)


def test_box_iou_hand_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 2, 2]], dtype=float)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]], dtype=float)
    iou = box_iou(a, b)
    # [0,0,10,10] vs [5,0,15,10]: inter 50, union 150.
    assert np.allclose(iou[0], [1 / 3, 1.0, 0.0])
    assert np.allclose(iou[1], [0.0, 4 / 100, 0.0])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


def test_cosine_distance():
    a = l2_normalize(np.array([[1.0, 0.0], [0.0, 2.0]]))
    b = l2_normalize(np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 1.0]]))
    d = cosine_distance(a, b)
    assert np.allclose(d, [[0, 2, 1 - np.sqrt(0.5)], [1, 1, 1 - np.sqrt(0.5)]])


def test_linear_assignment_prefers_global_minimum_and_respects_gate():
    cost = np.array([[0.1, 0.2], [0.15, 0.9]])
    matches, um_r, um_c = linear_assignment(cost, max_cost=0.5)
    # Greedy would take (0,0)=0.1 and leave row 1 with 0.9 (gated); the optimum is (0,1)+(1,0).
    assert sorted(map(tuple, matches)) == [(0, 1), (1, 0)]
    assert len(um_r) == 0 and len(um_c) == 0
    matches, um_r, um_c = linear_assignment(np.array([[0.6, np.inf], [0.3, 0.7]]), max_cost=0.5)
    assert [tuple(m) for m in matches] == [(1, 0)]
    assert list(um_r) == [0] and list(um_c) == [1]
    matches, um_r, um_c = linear_assignment(np.zeros((0, 3)), max_cost=0.5)
    assert matches.shape == (0, 2) and list(um_c) == [0, 1, 2]


def test_fuse_cost_weights_and_gates():
    iou = np.array([[0.8, 0.05], [0.5, 0.6]])
    app = np.array([[0.1, 0.1], [0.6, np.nan]])
    cost = fuse_cost(iou, app, appearance_weight=0.5, min_iou=0.1, appearance_gate=0.4)
    assert np.isclose(cost[0, 0], 0.5 * 0.2 + 0.5 * 0.1)
    assert np.isinf(cost[0, 1])  # IoU gate
    assert np.isinf(cost[1, 0])  # appearance gate
    assert np.isclose(cost[1, 1], 0.4)  # unknown appearance: motion only
    motion = fuse_cost(iou, None, appearance_weight=0.5, min_iou=0.1, appearance_gate=0.4)
    assert np.isclose(motion[1, 0], 0.5)
    # a look-alike far away: appearance alone would pull its fused cost (0.5) under a 0.8
    # threshold although its motion cost (0.95) fails it; the motion gate keeps it out
    far = fuse_cost(
        np.array([[0.05]]),
        np.array([[0.05]]),
        appearance_weight=0.5,
        min_iou=0.0,
        appearance_gate=0.4,
        max_motion_cost=0.8,
    )
    assert np.isinf(far[0, 0])


def test_direction_cost_rewards_continuing_motion():
    dirs = np.array([[1.0, 0.0], [0.0, 0.0]])
    last = np.array([[0.0, 0.0], [0.0, 0.0]])
    dets = np.array([[10.0, 0.0], [-10.0, 0.0], [0.0, 10.0]])
    c = direction_cost(dirs, last, dets)
    assert np.allclose(c[0], [-0.5, 0.5, 0.0])
    assert np.allclose(c[1], 0.0)  # unknown direction: no term


def _crowd_boxes(rng, n: int) -> np.ndarray:
    xy = rng.uniform(0, 1900, (n, 2))
    wh = rng.uniform([20, 50], [60, 150], (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def test_crowd_iou_sweep_equals_the_dense_matrix(monkeypatch):
    import tracker.matching as matching

    rng = np.random.default_rng(3)
    a, b = _crowd_boxes(rng, 300), _crowd_boxes(rng, 280)
    b[:150] = a[:150] + rng.normal(0, 4, (150, 4))  # many overlapping pairs
    monkeypatch.setattr(matching, "SWEEP_PAIRS", 0)
    sweep = matching.box_iou(a, b)
    monkeypatch.setattr(matching, "SWEEP_PAIRS", 10**12)
    dense = matching.box_iou(a, b)
    assert (dense > 0).sum() > 150
    assert np.array_equal(sweep, dense)


def test_crowd_assignment_by_groups_equals_the_dense_solve(monkeypatch):
    import tracker.matching as matching

    rng = np.random.default_rng(4)
    for n, m in ((300, 280), (90, 120), (200, 200)):
        a, b = _crowd_boxes(rng, n), _crowd_boxes(rng, m)
        k = min(n, m) // 2
        b[:k] = a[:k] + rng.normal(0, 6, (k, 4))
        cost = 1.0 - matching.box_iou(a, b)
        monkeypatch.setattr(matching, "SWEEP_PAIRS", 0)
        grouped = matching.linear_assignment(cost, 0.8)
        monkeypatch.setattr(matching, "SWEEP_PAIRS", 10**12)
        dense = matching.linear_assignment(cost, 0.8)
        monkeypatch.undo()
        assert len(grouped[0]) > k // 2
        for got, want in zip(grouped, dense, strict=True):
            assert np.array_equal(got, want)


def test_a_crowd_is_tracked_with_the_same_ids_either_way(monkeypatch):
    import tracker.matching as matching
    from benchmarks.tracker_speed import crowd_scene
    from tracker import Tracker, load_preset

    def run() -> list[list[int]]:
        tracker = Tracker(load_preset("default"))
        out = []
        for r in crowd_scene(150, 40, seed=2):
            d = sv.Detections(xyxy=r[:, :4].copy(), confidence=r[:, 4].copy())
            out.append(tracker.update(d).tracker_id.tolist())
        return out

    monkeypatch.setattr(matching, "SWEEP_PAIRS", 0)
    fast = run()
    monkeypatch.setattr(matching, "SWEEP_PAIRS", 10**12)
    assert run() == fast
    assert sum(map(len, fast)) > 150 * 30


def _dense_and_pairs(monkeypatch, fn):
    """``fn()`` with every problem solved densely, then with every problem as candidate pairs."""
    import tracker.matching as matching

    monkeypatch.setattr(matching, "SWEEP_PAIRS", 10**12)
    dense = fn()
    monkeypatch.setattr(matching, "SWEEP_PAIRS", 0)
    pairs = fn()
    monkeypatch.undo()
    return dense, pairs


def test_candidate_pairs_are_the_gated_dense_entries(monkeypatch):
    from tracker.matching import cosine_pairs, direction_pairs, iou_pairs

    rng = np.random.default_rng(5)
    a, b = _crowd_boxes(rng, 200), _crowd_boxes(rng, 180)
    b[:90] = a[:90] + rng.normal(0, 5, (90, 4))
    dense_iou = box_iou(a, b)
    for min_iou in (0.1, 0.3):
        dense, pairs = _dense_and_pairs(monkeypatch, lambda m=min_iou: iou_pairs(a, b, m))
        want = np.argwhere(dense_iou >= min_iou)
        for rows, cols, iou in (dense, pairs):
            got = np.stack([rows, cols], axis=1)
            order = np.lexsort((cols, rows))
            assert np.array_equal(got[order], want)
            assert np.array_equal(iou[order], dense_iou[want[:, 0], want[:, 1]])
    rows, cols, _ = iou_pairs(a, b, 0.1)
    assert len(rows) > 90
    # every pair is a candidate without an IoU gate
    assert len(iou_pairs(a[:5], b[:7], 0.0)[0]) == 35
    dirs = l2_normalize(rng.normal(0, 1, (200, 2)))
    dirs[::7] = 0.0
    centres_a, centres_b = a[:, :2] + 10, b[:, :2] + 20
    dense_dir = direction_cost(dirs, centres_a, centres_b)
    pair_dir = direction_pairs(dirs[rows], centres_a[rows], centres_b[cols])
    assert np.array_equal(pair_dir, dense_dir[rows, cols])
    ea = l2_normalize(rng.normal(0, 1, (200, 32))).astype(np.float32)
    eb = l2_normalize(rng.normal(0, 1, (180, 32))).astype(np.float32)
    dense_cos = cosine_distance(ea, eb)
    small, large = _dense_and_pairs(monkeypatch, lambda: cosine_pairs(ea, eb, rows, cols))
    assert np.array_equal(small, dense_cos[rows, cols])
    assert np.allclose(large, dense_cos[rows, cols], atol=1e-6)


def test_sparse_assignment_equals_the_dense_solve(monkeypatch):
    import tracker.matching as matching

    rng = np.random.default_rng(6)
    for n, m, groups in ((300, 280, 90_000), (120, 150, 90_000), (200, 200, 0)):
        a, b = _crowd_boxes(rng, n), _crowd_boxes(rng, m)
        k = min(n, m) // 2
        b[:k] = a[:k] + rng.normal(0, 6, (k, 4))
        b[k : k + 20] = a[:20] + rng.normal(0, 6, (20, 4))  # contested: groups of several
        cost = np.where(box_iou(a, b) < 0.1, np.inf, 1.0 - box_iou(a, b))
        rows, cols = np.nonzero(np.isfinite(cost))
        monkeypatch.setattr(matching, "GROUP_PAIRS", groups)  # 0: one solve per group
        dense, pairs = _dense_and_pairs(
            monkeypatch,
            lambda c=cost, r=rows, cc=cols: matching.assign_pairs(c.shape, r, cc, c[r, cc], 0.8),
        )
        assert len(pairs[0]) > k // 2
        for got, want in zip(pairs, dense, strict=True):
            assert np.array_equal(got, want)


def _track_ids(seq_dir, preset: str) -> list[list[float]]:
    from benchmarks.tracker_common import track_sequence
    from tracker.config import load_preset

    return track_sequence(seq_dir, load_preset(preset)).tolist()


def test_quality_sequences_are_tracked_with_the_same_ids_either_way(monkeypatch, synthetic_root):
    """The quality benchmark's kind of sequences (the synthetic generator's val split), every
    stage forced through candidate pairs against every stage dense: the same MOT rows."""
    from benchmarks.tracker_common import preset_for, sequences

    seqs = sequences(synthetic_root / "val")
    assert {preset_for(s.name) for s in seqs} >= {"dance", "sports"}
    for seq in seqs:
        for preset in {preset_for(seq.name), "default", "street"}:
            dense, pairs = _dense_and_pairs(monkeypatch, lambda s=seq, p=preset: _track_ids(s, p))
            assert len(dense) > 100
            assert pairs == dense, (seq.name, preset)


def test_a_crowd_with_appearance_is_tracked_with_the_same_ids_either_way(monkeypatch):
    from benchmarks.tracker_speed import crowd_scene, scene_embeddings
    from tracker import Tracker, load_preset
    from tracker.embedding import EMBEDDING_KEY

    ids: list[np.ndarray] = []
    scene = crowd_scene(120, 40, seed=3, ids=ids)
    embs = scene_embeddings(ids, 120, dim=64)

    def run() -> tuple[list[list[int]], list[np.ndarray]]:
        tracker = Tracker(load_preset("dance"))
        out = []
        for r, e in zip(scene, embs, strict=True):
            d = sv.Detections(
                xyxy=r[:, :4].copy(), confidence=r[:, 4].copy(), data={EMBEDDING_KEY: e}
            )
            out.append(tracker.update(d).tracker_id.tolist())
        # the calibration's samples (own and rival distances) come from candidate pairs too
        hists = [c._pos for c in (tracker._calibration, tracker._reid_calibration)]
        hists += [c._neg for c in (tracker._calibration, tracker._reid_calibration)]
        return out, hists

    (dense, dense_hists), (pairs, pair_hists) = _dense_and_pairs(monkeypatch, run)
    assert sum(map(len, dense)) > 120 * 30
    assert pairs == dense
    assert all(h.sum() > 100 for h in dense_hists)
    for got, want in zip(pair_hists, dense_hists, strict=True):
        assert np.allclose(got, want, rtol=1e-9, atol=1e-9)


def test_near_pairs_sweep_equals_the_dense_test(monkeypatch):
    from tracker.matching import near_pairs

    rng = np.random.default_rng(8)
    centres = rng.uniform(0, 1000, (150, 2))
    centres[:10] = np.round(centres[:10])  # whole pixels: the distances below are exact
    points = np.r_[rng.uniform(0, 1000, (140, 2)), centres[:10] + [30.0, 0.0]]
    radius = rng.uniform(10, 120, 150)
    radius[:10] = 30.0  # points exactly on the circle, straight along x, are near
    dense, swept = _dense_and_pairs(monkeypatch, lambda: near_pairs(centres, radius, points))
    gap = np.hypot(*(points[None] - centres[:, None]).transpose(2, 0, 1))
    want = np.nonzero(gap <= radius[:, None])
    for rows, cols in (dense, swept):
        order = np.lexsort((cols, rows))
        assert np.array_equal(rows[order], want[0]) and np.array_equal(cols[order], want[1])
    assert all(140 + i in want[1][want[0] == i] for i in range(10))
    assert 150 < len(want[0]) < 150 * 150 // 4
