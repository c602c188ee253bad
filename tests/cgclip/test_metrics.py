"""ReID metric tests on small hand-built scenes (TrackEval style: expected values derived by hand)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cgclip.errors import UserError
from cgclip.metrics import (
    RankMetrics,
    default_ignore_mask,
    distance_matrix,
    evaluate_rank,
    mean_metrics,
)


def test_single_query_ap_and_cmc_by_hand():
    # Gallery sorted by distance: g0 (pid 2), g1 (pid 1), g2 (pid 3), g3 (pid 1).
    # Matches at ranks 2 and 4 -> AP = (1/2 + 2/4) / 2 = 0.5; first match at rank 2.
    dist = np.array([[0.1, 0.2, 0.3, 0.4]])
    m = evaluate_rank(dist, [1], [2, 1, 3, 1], [0], [1, 1, 1, 1], max_rank=4)
    assert m.mAP == pytest.approx(0.5)
    np.testing.assert_allclose(m.cmc, [0, 1, 1, 1])
    assert (m.num_valid, m.num_query) == (1, 1)


def test_same_identity_same_camera_is_removed_before_ranking():
    # q: pid 1 cam 0. g0 (pid 1, cam 0) is nearest but removed; remaining order: g1 (pid 2), g2
    # (pid 1, cam 1) -> one match at rank 2: AP = 1/2, Rank-1 = 0.
    dist = np.array([[0.0, 0.5, 0.6]])
    m = evaluate_rank(dist, [1], [1, 2, 1], [0], [0, 1, 1], max_rank=3)
    assert m.mAP == pytest.approx(0.5)
    np.testing.assert_allclose(m.cmc, [0, 1, 1])


def test_query_whose_only_match_is_same_camera_is_skipped():
    # q0 (pid 1, cam 0): its only match g0 is in cam 0 -> removed -> q0 cannot be answered.
    # q1 (pid 2, cam 0): gallery order by distance g2 (pid 3), g1 (pid 2, cam 1) -> AP 1/2.
    dist = np.array([[0.1, 0.5, 0.9], [0.9, 0.4, 0.2]])
    m = evaluate_rank(dist, [1, 2], [1, 2, 3], [0, 0], [0, 1, 1], max_rank=3)
    assert (m.num_valid, m.num_query) == (1, 2)
    assert m.mAP == pytest.approx(0.5)
    np.testing.assert_allclose(m.cmc, [0, 1, 1])


def test_junk_is_removed_and_distractors_stay():
    # Order: g0 junk (-1, removed), g1 distractor (0, a negative), g2 match -> rank 2 of 2.
    dist = np.array([[0.1, 0.2, 0.3]])
    m = evaluate_rank(dist, [5], [-1, 0, 5], [0], [1, 1, 1], max_rank=2)
    assert m.mAP == pytest.approx(0.5)
    np.testing.assert_allclose(m.cmc, [0, 1])


def test_all_matches_at_the_top_give_perfect_scores():
    dist = np.array([[0.1, 0.2, 0.9], [0.8, 0.7, 0.1]])
    m = evaluate_rank(dist, [1, 2], [1, 1, 2], [0, 0], [1, 1, 1], max_rank=3)
    assert m.mAP == pytest.approx(1.0)
    np.testing.assert_allclose(m.cmc, [1, 1, 1])


def test_three_matches_ap_by_hand():
    # Matches at ranks 1, 3, 6 of 6: AP = (1/1 + 2/3 + 3/6) / 3 = 13/18.
    pids = [7, 1, 7, 2, 3, 7]
    dist = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
    m = evaluate_rank(dist, [7], pids, [0], [1] * 6, max_rank=6)
    assert m.mAP == pytest.approx(13 / 18)
    assert m.rank(1) == 1.0


def test_ties_are_broken_by_gallery_order():
    dist = np.array([[0.5, 0.5]])
    first_wrong = evaluate_rank(dist, [1], [2, 1], [0], [1, 1], max_rank=2)
    first_right = evaluate_rank(dist, [1], [1, 2], [0], [1, 1], max_rank=2)
    assert first_wrong.rank(1) == 0.0 and first_right.rank(1) == 1.0


def test_explicit_ignore_mask_overrides_the_camera_rule():
    # Same camera everywhere (one video): the camera rule would skip the query; the given mask only
    # removes g0 (an adjacent piece of the same track), so g2 counts: order g1 (pid 2), g2 (pid 1).
    dist = np.array([[0.0, 0.3, 0.4]])
    ignore = np.array([[True, False, False]])
    m = evaluate_rank(dist, [1], [1, 2, 1], [0], [0, 0, 0], ignore=ignore, max_rank=3)
    assert m.mAP == pytest.approx(0.5)


def test_no_answerable_query_is_a_user_error():
    with pytest.raises(UserError, match="no query has a valid match"):
        evaluate_rank(np.array([[0.1]]), [1], [1], [0], [0])


def test_rank_beyond_gallery_size_is_padded_with_the_final_value():
    m = evaluate_rank(np.array([[0.2, 0.1]]), [1], [1, 2], [0], [1, 1], max_rank=20)
    assert len(m.cmc) == 20 and m.rank(1) == 0.0 and m.rank(20) == 1.0
    assert m.to_dict()["R20"] == 1.0


def test_default_ignore_mask():
    mask = default_ignore_mask([1, 2], [1, 1, -1], [0, 0], [0, 1, 1])
    np.testing.assert_array_equal(mask, [[True, False, True], [False, False, True]])


def test_distance_matrix_by_hand():
    q = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    g = torch.tensor([[3.0, 4.0], [0.0, 2.0]])
    np.testing.assert_allclose(distance_matrix(q, g), [[5.0, 2.0], [np.sqrt(20), np.sqrt(5)]])
    cos = distance_matrix(
        torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0], [3.0, 0.0]]), "cosine"
    )
    np.testing.assert_allclose(cos, [[1.0, 0.0]], atol=1e-12)
    with pytest.raises(UserError, match="metric"):
        distance_matrix(q, g, "manhattan")


def test_mean_over_splits():
    a = RankMetrics(mAP=0.5, cmc=np.array([0.0, 1.0]), num_valid=2, num_query=2)
    b = RankMetrics(mAP=1.0, cmc=np.array([1.0, 1.0]), num_valid=3, num_query=3)
    m = mean_metrics([a, b])
    assert m.mAP == pytest.approx(0.75)
    np.testing.assert_allclose(m.cmc, [0.5, 1.0])
    assert m.num_valid == 5
