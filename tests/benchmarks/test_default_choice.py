"""benchmarks/default_choice.py: the margin objective on hand-made scores, the grid, and the table.
(The full run needs the BoxMOT venv and MOT17's ground truth; see the module.)"""

from __future__ import annotations

import json

import pytest

from benchmarks.default_choice import (
    GRID,
    candidates,
    coordinate_search,
    margins,
    moves,
    render,
    reused_grid,
    score,
)
from benchmarks.tracker_common import RESULTS_DIR
from benchmarks.tracker_crossdomain import cells
from cgclip.errors import UserError
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


def _row(overrides, worst, mean=0.0):
    return {
        "overrides": overrides,
        "worst_margin": worst,
        "worst_cell": "street-60fps-dpm",
        "mean_margin": mean,
        "cells_at_least_peers": 1,
        "margins": {"mot17-frcnn-sim": worst, "mot17-dpm-sim": 0.0},
        "scores": {"a": {"HOTA": 40.0, "IDF1": 50.0}},
    }


def _toy_objective(o):
    # best at tentative 0.6 and low 0.4; the tentative gate weighs twice as much
    cfg = load_preset("default", **o)
    return -(20 * abs(cfg.tentative_match_thresh - 0.6) + 10 * abs(cfg.low_match_thresh - 0.4))


def test_coordinate_search_takes_the_best_move_each_round_and_stops():
    # away from the optimum whatever default.yaml says
    start = {**candidates()[0], "tentative_match_thresh": 0.7, "low_match_thresh": 0.5}
    calls = []

    def score_all(overrides):
        calls.append(len(overrides))
        return [_row(o, _toy_objective(o)) for o in overrides]

    rows = coordinate_search(start, _row(start, _toy_objective(start)), score_all, rounds=5)
    # round 1 takes tentative 0.6 (-2 -> -1), round 2 low 0.4 (-> 0), round 3 finds nothing
    assert sorted({r["round"] for r in rows}) == [1, 2, 3]
    assert len(calls) == 3 and calls[0] == len(moves(start))  # every move, once per round
    best = max(rows, key=lambda r: r["worst_margin"])
    assert best["worst_margin"] == pytest.approx(0.0)
    assert best["overrides"]["tentative_match_thresh"] == 0.6
    assert best["overrides"]["low_match_thresh"] == 0.4
    round2 = [r for r in rows if r["round"] == 2]
    assert all(  # round 2 moves from round 1's best
        r["overrides"]["tentative_match_thresh"] == 0.6
        for r in round2
        if "tentative_match_thresh" not in r["move"]
    )
    # round 3: moves of other knobs tie (0.0) and a tie is not a move: the search stops
    assert max(r["worst_margin"] for r in rows if r["round"] == 3) == pytest.approx(0.0)


def test_moves_skip_the_current_value():
    knobs = dict(moves({"tentative_match_thresh": 0.6}))
    assert ("tentative_match_thresh", 0.6) not in moves({"tentative_match_thresh": 0.6})
    assert knobs["tentative_match_thresh"] == 0.8


def test_reused_grid_only_when_its_choice_reproduces(tmp_path):
    grid = {k: [list(x) if isinstance(x, tuple) else x for x in v] for k, v in GRID.items()}
    rows = [_row(o, -float(i)) for i, o in enumerate(candidates()[:3])]
    path = tmp_path / "choice.json"
    path.write_text(json.dumps({"grid": grid, "candidates": rows, "peers": {"bytetrack": {}}}))
    same = {"a": {"HOTA": 40.0, "IDF1": 50.0}}
    out = reused_grid(path, lambda o: same)
    assert out["chosen_row"]["overrides"] == candidates()[0] and len(out["rows"]) == 3
    with pytest.raises(UserError, match="no longer reproduces"):
        reused_grid(path, lambda o: {"a": {"HOTA": 40.5, "IDF1": 50.0}})
    path.write_text(json.dumps({"grid": {"max_time_lost": [1]}, "candidates": rows}))
    with pytest.raises(UserError, match="another grid"):
        reused_grid(path, lambda o: same)
    with pytest.raises(UserError, match="does not exist"):
        reused_grid(tmp_path / "missing.json", lambda o: same)


def test_render_shows_the_refine_rounds_and_marks_moves_taken():
    start = candidates()[0]
    grid_rows = [{**_row(o, -5.0 - i), "stage": "grid"} for i, o in enumerate(candidates()[:3])]
    moved = {**start, "tentative_match_thresh": 0.6}
    refine = [
        {**_row(moved, -4.0), "stage": "refine", "round": 1, "move": {"tentative_match_thresh": 0.6}},
        {**_row({**start, "low_match_thresh": 0.4}, -6.0), "stage": "refine", "round": 1,
         "move": {"low_match_thresh": 0.4}},
        {**_row({**moved, "low_match_thresh": 0.4}, -4.5), "stage": "refine", "round": 2,
         "move": {"low_match_thresh": 0.4}},
    ]  # fmt: skip
    result = {"cells": ["a", "mot17-frcnn-sim", "mot17-dpm-sim"], "chosen": moved}
    table = render({**result, "candidates": grid_rows + refine})
    assert "(refined below)" in table
    assert "| 1 | tentative_match_thresh = 0.6 (taken) (chosen) | -4.00" in table
    assert "| 2 | low_match_thresh = 0.4 | -4.50" in table  # not better: not taken
    assert table.count("(taken)") == 1


def test_the_default_preset_is_the_committed_choice():
    """A person writes default_choice's choice into tracker/presets/default.yaml; this holds the
    two together (the JSON is the record the docs' table is rendered from)."""
    result = json.loads((RESULTS_DIR / "default_choice.json").read_text())
    preset = load_preset("default")
    assert {k: getattr(preset, k) for k in result["chosen"]} == result["chosen"]
    best = max(result["candidates"], key=lambda r: (r["worst_margin"], r["mean_margin"]))
    assert best["overrides"] == result["chosen"]
