"""TrackTable: appending rows, dropping rows with renumbering, snapshots, camera warp."""

from __future__ import annotations

import numpy as np

from tracker.kalman import KalmanBoxFilter
from tracker.tracks import TrackTable


def _table() -> tuple[TrackTable, KalmanBoxFilter]:
    kf = KalmanBoxFilter()
    table = TrackTable(window=3)
    boxes = np.array([[0, 0, 10, 20], [50, 0, 60, 20], [100, 0, 110, 20]], dtype=float)
    rows = table.append(
        boxes, np.array([0.9, 0.8, 0.7]), 5, *kf.initiate(boxes), [np.ones(4), None, np.zeros(4)]
    )
    assert rows.tolist() == [0, 1, 2]
    return table, kf


def test_append_sets_rows_and_windows():
    table, _ = _table()
    assert (
        len(table) == 3 and table.start.tolist() == [5, 5, 5] and table.hits.tolist() == [1, 1, 1]
    )
    assert [len(w) for w in table.window] == [1, 0, 1]
    assert table.window_changed.tolist() == [True, False, True]
    assert table.has_embedding().tolist() == [False, False, False]
    assert [t.state for t in table.snapshot()] == ["tentative"] * 3


def test_keep_drops_rows_and_renumbers_detection_map():
    table, _ = _table()
    table.set_embeddings([2], np.array([[1.0, 0.0]]))
    det_track = np.array([2, -1, 0])
    table.keep(np.array([True, False, True]), det_track)
    assert len(table) == 2 and len(table.window) == 2 and len(table.history) == 2
    assert det_track.tolist() == [1, -1, 0]
    assert np.allclose(table.last_box[1], [100, 0, 110, 20])
    emb, has = table.embeddings(np.array([0, 1]))
    assert has.tolist() == [False, True] and np.allclose(emb, [[0, 0], [1, 0]])


def test_warp_moves_boxes_states_and_histories():
    table, kf = _table()
    table.direction[0] = (1.0, 0.0)
    table.warp(np.array([[1.0, 0.0, 7.0], [0.0, 1.0, -2.0]]), kf)
    assert np.allclose(table.last_box[0], [7, -2, 17, 18])
    assert np.allclose(table.mean[0, :2], [12, 8]) and np.allclose(table.saved_mean[0, :2], [12, 8])
    assert table.history[0][0][1:] == (12.0, 8.0)
    assert np.allclose(table.direction[0], [1, 0])
