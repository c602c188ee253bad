"""Kalman filter: shapes, constant-velocity convergence, batch == single, equality with the
textbook matrix form, camera warp."""

from __future__ import annotations

import numpy as np

from tracker.kalman import (
    KalmanBoxFilter,
    cxcywh_to_xyxy,
    full_covariance,
    state_to_xyxy,
    xyxy_to_cxcywh,
)


def test_box_conversions_round_trip():
    boxes = np.array([[10.0, 20.0, 50.0, 120.0], [0.0, 0.0, 2.0, 4.0]])
    assert np.allclose(xyxy_to_cxcywh(boxes), [[30, 70, 40, 100], [1, 2, 2, 4]])
    assert np.allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(boxes)), boxes)


def test_initiate_has_zero_velocity_and_positive_covariance():
    kf = KalmanBoxFilter()
    mean, cov = kf.initiate(np.array([[10.0, 20.0, 50.0, 120.0]]))
    assert mean.shape == (1, 8) and cov.shape == (1, 3, 4)
    assert np.allclose(mean[0], [30, 70, 40, 100, 0, 0, 0, 0])
    assert np.all(np.linalg.eigvalsh(full_covariance(cov)[0]) > 0)


def _textbook(kf: KalmanBoxFilter, mean, cov, z, r_scale: float = 1.0):
    """One predict + update in plain matrix form, ``(8,), (8, 8), (4,)``; the measurement
    variance times ``r_scale``."""
    f = np.eye(8)
    f[:4, 4:] = np.eye(4)
    h = np.eye(4, 8)
    size = np.tile(np.maximum(mean[2:4], 1), 2)
    q = np.diag(np.r_[(kf.std_position * size) ** 2, (kf.std_velocity * size) ** 2])
    mean, cov = f @ mean, f @ cov @ f.T + q
    r = r_scale * np.diag((kf.std_position * np.tile(np.maximum(mean[2:4], 1), 2)) ** 2)
    s = h @ cov @ h.T + r
    k = cov @ h.T @ np.linalg.inv(s)
    return mean + k @ (z - h @ mean), cov - k @ s @ k.T


def test_separable_filter_equals_matrix_form():
    kf = KalmanBoxFilter(std_position=1 / 15, std_velocity=1 / 60)
    rng = np.random.default_rng(3)
    box = np.array([[100.0, 50.0, 140.0, 150.0]])
    mean, cov = kf.initiate(box)
    ref_mean, ref_cov = mean[0].copy(), full_covariance(cov)[0]
    for t in range(1, 12):
        meas = box + [3.0 * t, -t, 3.0 * t, -t] + rng.normal(0, 2, 4)
        mean, cov = kf.update(*kf.predict(mean, cov), meas)
        ref_mean, ref_cov = _textbook(kf, ref_mean, ref_cov, xyxy_to_cxcywh(meas)[0])
        assert np.allclose(mean[0], ref_mean) and np.allclose(full_covariance(cov)[0], ref_cov)


def test_confidence_scaled_measurement_noise_equals_matrix_form():
    """NSA Kalman: each box's measurement variance scaled by k (1 - its confidence), batched."""
    kf = KalmanBoxFilter(confidence_noise=4.0)
    rng = np.random.default_rng(4)
    boxes = np.array([[100.0, 50.0, 140.0, 150.0], [300.0, 80.0, 330.0, 160.0]])
    mean, cov = kf.initiate(boxes)
    refs = [(mean[i].copy(), full_covariance(cov)[i]) for i in range(2)]
    for t in range(1, 8):
        meas = boxes + [2.0 * t, 0.0, 2.0 * t, 0.0] + rng.normal(0, 3, (2, 4))
        scale = np.array([0.05, 1.6]) * t / 4  # k (1 - confidence)
        mean, cov = kf.update(*kf.predict(mean, cov), meas, 1.0 - scale / 4.0)
        for i in range(2):
            refs[i] = _textbook(kf, *refs[i], xyxy_to_cxcywh(meas)[i], r_scale=scale[i])
            assert np.allclose(mean[i], refs[i][0]) and np.allclose(
                full_covariance(cov)[i], refs[i][1]
            )
    # a low factor (confident box) pulls the state to the measurement harder
    m0, c0 = kf.predict(*kf.initiate(boxes[:1]))
    z = boxes[:1] + [6.0, 0.0, 6.0, 0.0]
    near = kf.update(m0, c0, z, np.array([1.0 - 0.1 / 4.0]))[0][0, 0]  # factor 0.1
    far = kf.update(m0, c0, z, np.array([1.0 - 2.0 / 4.0]))[0][0, 0]  # factor 2
    plain = kf.update(m0, c0, z)[0][0, 0]
    assert m0[0, 0] < far < plain < near < m0[0, 0] + 6.0
    # off (k = 0), a confidence changes nothing
    off = KalmanBoxFilter()
    assert np.array_equal(off.update(m0, c0, z, np.array([0.99]))[0], off.update(m0, c0, z)[0])


def test_learns_constant_velocity_and_predicts_ahead():
    kf = KalmanBoxFilter()
    box = np.array([[100.0, 50.0, 140.0, 150.0]])
    mean, cov = kf.initiate(box)
    for t in range(1, 30):
        mean, cov = kf.predict(mean, cov)
        mean, cov = kf.update(mean, cov, box + [3.0 * t, 0, 3.0 * t, 0])
    assert abs(mean[0, 4] - 3.0) < 0.05  # vx learnt
    assert abs(mean[0, 5]) < 0.05
    pred, _ = kf.predict(mean, cov)
    assert np.allclose(state_to_xyxy(pred)[0], box[0] + [3.0 * 30, 0, 3.0 * 30, 0], atol=0.5)


def test_update_shrinks_uncertainty_and_pulls_toward_measurement():
    kf = KalmanBoxFilter()
    mean, cov = kf.predict(*kf.initiate(np.array([[0.0, 0.0, 20.0, 40.0]])))
    new_mean, new_cov = kf.update(mean, cov, np.array([[4.0, 0.0, 24.0, 40.0]]))
    assert 10.0 < new_mean[0, 0] < 14.0  # between prediction (10) and measurement (14)
    assert np.trace(full_covariance(new_cov)[0]) < np.trace(full_covariance(cov)[0])


def test_batch_matches_one_by_one():
    kf = KalmanBoxFilter(std_velocity=1 / 80)
    rng = np.random.default_rng(0)
    boxes = rng.uniform(0, 100, (5, 2))
    boxes = np.concatenate([boxes, boxes + rng.uniform(10, 60, (5, 2))], axis=1)
    mean, cov = kf.initiate(boxes)
    meas = boxes + rng.normal(0, 2, boxes.shape)
    bm, bc = kf.update(*kf.predict(mean, cov), meas)
    for i in range(5):
        sm, sc = kf.update(*kf.predict(mean[i : i + 1], cov[i : i + 1]), meas[i : i + 1])
        assert np.allclose(sm, bm[i : i + 1]) and np.allclose(sc, bc[i : i + 1])


def test_inputs_are_not_modified_and_empty_batches_pass_through():
    kf = KalmanBoxFilter()
    mean, cov = kf.initiate(np.array([[0.0, 0.0, 20.0, 40.0]]))
    mean[0, 4] = 1.0
    m0, c0 = mean.copy(), cov.copy()
    kf.update(*kf.predict(mean, cov), np.array([[3.0, 0.0, 23.0, 40.0]]))
    kf.warp(mean, cov, np.array([[2.0, 0, 1], [0, 2.0, 1]]))
    assert np.array_equal(mean, m0) and np.array_equal(cov, c0)
    m, c = np.zeros((0, 8)), np.zeros((0, 3, 4))
    assert kf.predict(m, c)[0].shape == (0, 8)
    assert kf.update(m, c, np.zeros((0, 4)))[0].shape == (0, 8)


def test_warp_translates_centres_and_scales_sizes():
    kf = KalmanBoxFilter()
    mean, cov = kf.initiate(np.array([[10.0, 10.0, 30.0, 50.0]]))
    mean[0, 4] = 2.0
    shift = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, -3.0]])
    m2, c2 = kf.warp(mean, cov, shift)
    assert np.allclose(m2[0, :4], [25, 27, 20, 40]) and m2[0, 4] == 2.0 and np.allclose(c2, cov)
    zoom = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    m3, c3 = kf.warp(mean, cov, zoom)
    assert np.allclose(m3[0, :5], [40, 60, 40, 80, 4])
    assert np.allclose(c3, 4 * cov)
