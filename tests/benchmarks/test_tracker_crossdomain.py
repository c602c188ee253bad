"""tracker_crossdomain writes only the presets whose knobs are its own choice."""

from __future__ import annotations

import pytest
import yaml

from benchmarks.tracker_common import loss_table
from benchmarks.tracker_crossdomain import SPACE, main, render, write_preset


@pytest.mark.parametrize("preset", ["default", "dance"])
def test_presets_chosen_elsewhere_are_refused_before_any_work(preset, tmp_path, capsys):
    data = tmp_path / "grid"
    with pytest.raises(SystemExit) as exc:
        main(["--data", str(data), "--write-preset", preset])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    assert not data.exists()  # refused before the grid was generated


def test_a_preset_this_run_does_not_tune_is_refused(tmp_path, capsys):
    data = tmp_path / "grid"
    with pytest.raises(SystemExit):
        main(["--data", str(data), "--presets", "sports", "--write-preset", "street"])
    assert "--write-preset street: not tuned by this run" in capsys.readouterr().err
    assert not data.exists()


def test_write_preset_replaces_the_motion_knobs_and_keeps_every_other_key(tmp_path):
    path = tmp_path / "street.yaml"
    path.write_text(
        "# Tracker preset: street (pedestrians).\n# old tuning note\n"
        "high_thresh: 0.5\nmax_time_lost: 30\n# appearance knobs\nappearance_weight: 0.3\n"
    )
    params = {k: values[0] for k, values in SPACE.items()}
    tuned = {"cells": ["a", "b"], "trials": 5, "train_worst_of_preset_before": 1.0}
    write_preset(path, "street", {**tuned, "params": params, "train_worst": 2.5})
    text = path.read_text()
    assert text.startswith("# Tracker preset: street (pedestrians).\n")
    assert "old tuning note" not in text and "1.00 before -> 2.50" in text
    assert "# appearance knobs" in text
    assert yaml.safe_load(text) == {**params, "appearance_weight": 0.3}


def _cell(hota, idf1, det, ass, idsw):
    return {"HOTA": hota, "IDF1": idf1, "DetA": det, "AssA": ass, "IDSW": idsw}


def test_each_loss_is_listed_with_the_component_it_loses_on():
    val = {
        "ours (default)": {
            "a": _cell(50, 60, 60, 40, 9),  # ByteTrack: AssA -10 outweighs DetA +10
            "b": _cell(55, 50, 50, 60, 3),  # OC-SORT: DetA -10 outweighs AssA +5
            "c": _cell(60, 50, 60, 60, 5),  # ByteTrack: both components higher, IDF1 lower
            "d": _cell(60, 60, 60, 60, 1),  # at least both peers: not listed
        },
        "bytetrack (default)": {
            "a": _cell(52, 70, 50, 50, 4),
            "b": _cell(50, 50, 50, 50, 3),
            "c": _cell(55, 55, 55, 55, 2),
            "d": _cell(60, 60, 60, 60, 1),
        },
        "ocsort (default)": {
            "a": _cell(50, 55, 55, 35, 2),
            "b": _cell(56, 52, 60, 55, 2),
            "c": _cell(50, 50, 50, 50, 1),
            "d": _cell(50, 50, 50, 50, 1),
        },
    }
    peers = {"bytetrack": val["bytetrack (default)"], "ocsort": val["ocsort (default)"]}
    lines = loss_table(val["ours (default)"], peers, "cell")
    assert lines[4:] == [
        "| a | bytetrack | -2.0 | -10.0 | +10.0 | -10.0 | 9 / 4 | association |",
        "| b | ocsort | -1.0 | -2.0 | -10.0 | +5.0 | 3 / 2 | detection |",
        "| c | bytetrack | +5.0 | -5.0 | +5.0 | +5.0 | 5 / 2 | IDF1 only (identities in more pieces) |",
    ]


def test_the_second_draw_gets_its_own_verdict_column_and_agreement_line():
    ours = {
        "dance-10fps-dpm": _cell(60, 60, 60, 60, 1),
        "sports-30fps-frcnn": _cell(40, 40, 40, 40, 9),
    }
    peer = {
        "dance-10fps-dpm": _cell(50, 50, 50, 50, 1),
        "sports-30fps-frcnn": _cell(50, 50, 50, 50, 1),
    }
    result = {
        "held_out": {"rates": [25], "profiles": ["synthetic"]},
        "val": {"ours (default)": ours, "bytetrack (default)": peer},
        # second draw: the first cell holds, the second flips to a win
        "val2": {
            "ours (default)": {c: _cell(60, 60, 60, 60, 1) for c in ours},
            "bytetrack (default)": peer,
        },
    }
    table = render(result)
    assert "| default >= peers | on a second draw |" in table
    assert "| dance-10fps-dpm | train |" in table and table.count("| yes | yes |") == 1
    assert "| **no** | yes |" in table
    assert "at least every peer's default in 2 of 2 cells" in table
    assert "the same as on the first sequence in 1 of 2 (at least the peers on both: 1; " in table
