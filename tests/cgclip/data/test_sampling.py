"""Restricted random sampling (RRS): which frames of a tracklet a clip reads."""

from __future__ import annotations

import numpy as np

from cgclip.data.sampling import rrs_indices


def test_rrs_test_takes_the_first_frame_of_each_chunk():
    np.testing.assert_array_equal(rrs_indices(16, 8, train=False), [0, 2, 4, 6, 8, 10, 12, 14])
    np.testing.assert_array_equal(rrs_indices(20, 4, train=False), [0, 5, 10, 15])


def test_rrs_train_takes_one_frame_inside_each_chunk():
    rng = np.random.default_rng(0)
    for _ in range(50):
        idx = rrs_indices(20, 4, train=True, rng=rng)
        assert all(5 * c <= i < 5 * (c + 1) for c, i in enumerate(idx))
    draws = {tuple(rrs_indices(20, 4, train=True, rng=rng)) for _ in range(50)}
    assert len(draws) > 1


def test_rrs_repeats_frames_of_short_tracklets():
    np.testing.assert_array_equal(rrs_indices(1, 8, train=True), [0] * 8)
    idx = rrs_indices(3, 8, train=False)
    assert len(idx) == 8 and set(idx) == {0, 1, 2} and list(idx) == sorted(idx)
