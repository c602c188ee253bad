"""benchmarks/default_choice.py: the margin objective on hand-made scores, the grid, and the table.
(The full run needs the BoxMOT venv and MOT17's ground truth; see the module.)"""

from __future__ import annotations

import pytest

from benchmarks.default_choice import GRID, candidates, margins, render, score
from benchmarks.tracker_crossdomain import cells
from tracker.config import load_preset


def test_margin_is_the_worst_metric_against_the_better_peer():
    ours = {"a": {"HOTA": 50.0, "IDF1": 60.0}, "b": {"HOTA": 30.0, "IDF1": 40.0}}
    peers = {
        "bytetrack": {"a": {"HOTA": 48.0, "IDF1": 63.0}, "b": {"HOTA": 20.0, "IDF1": 35.0}},
        "ocsort": {"a": {"HOTA": 51.0, "IDF1": 55.0}, "b": {"HOTA": 29.0, "IDF1": 41.0}},
    }
    # a: HOTA 50 - max(48, 51) = -1, IDF1 60 - max(63, 55) = -3 -> -3
    # b: HOTA 30 - 29 = +1, IDF1 40 - 41 = -1 -> -1
    assert margins(ours, peers) == pytest.approx({"a": -3.0, "b": -1.0})


def test_every_candidate_is_a_valid_default():
    grid = candidates()
    assert len(grid) == len(GRID["max_time_lost"]) * len(GRID["thresholds"]) * len(
        GRID["std_velocity"]
    ) * len(GRID["confidence_noise"])
    for overrides in grid:
        cfg = load_preset("default", **overrides)
        assert cfg.high_thresh == overrides["high_thresh"]
        assert cfg.confidence_noise == overrides["confidence_noise"]


def test_score_covers_every_cell_and_motion_set(synthetic_root):
    train = synthetic_root / "train"
    names = sorted(p.name for p in train.iterdir() if (p / "det" / "det.txt").is_file())[:1]
    per = score(candidates()[0], train, names, {"motion": synthetic_root / "val"})
    assert set(per) == {names[0], "motion"}
    assert all(0 < per[c]["HOTA"] <= 100 for c in per)


def test_render_marks_the_choice():
    rows = [
        {
            "overrides": o,
            "worst_margin": -1.5 * i,
            "worst_cell": "dance-10fps-frcnn",
            "mean_margin": 0.5,
            "cells_at_least_peers": 3,
            "margins": {"mot17-frcnn-sim": -1.0, "mot17-dpm-sim": 0.5},
        }
        for i, o in enumerate(candidates()[:2])
    ]
    result = {"cells": [*cells(tuning=True), "mot17-frcnn-sim", "mot17-dpm-sim"]}
    table = render({**result, "candidates": rows, "chosen": rows[0]["overrides"]})
    assert table.count("(chosen)") == 1
    assert "-1.50 (dance-10fps-frcnn)" in table and "-1.00 / +0.50" in table
