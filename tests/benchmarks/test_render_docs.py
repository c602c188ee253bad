"""The docs' tables of measured numbers are rendered from the committed benchmark JSON."""

from __future__ import annotations

import json
import shutil

import pytest

from benchmarks import render_docs
from benchmarks.render_docs import RENDERERS, RESULTS, doc_paths, render_text
from cgclip.errors import UserError


def test_committed_docs_match_the_committed_results(capsys):
    assert render_docs.main(["--check"]) == 0, capsys.readouterr().out


def test_every_registered_table_is_in_a_doc():
    used = set()
    for path in doc_paths():
        used |= set(render_docs.OPENING.findall(path.read_text(encoding="utf-8")))
    # A renderer only other docs will use (robustness.md, gpu.md) may be added before its doc;
    # the tables this module shipped with must all be placed.
    shipped = {
        "machines",
        "reid_ablation",
        "tracker_quality.dance",
        "tracker_quality.sports",
        "tracker_appearance.dance",
        "tracker_appearance.sports",
        "tracker_speed",
        "tracker_pipeline",
        "encoder_throughput",
        "parity",
        "model_cost",
        "demo_latency",
    }
    assert shipped <= set(RENDERERS)
    assert shipped <= used


def _speed_results(tmp_path, median_at_30: float):
    data = json.loads((RESULTS / "tracker_speed.json").read_text())
    data["rows"][1]["ours"]["median_ms"] = median_at_30
    (tmp_path / "tracker_speed.json").write_text(json.dumps(data))
    return tmp_path


def test_a_table_follows_its_json_and_check_mode_reports_the_stale_doc(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    results = _speed_results(tmp_path / "results", 0.72)
    doc = tmp_path / "speed.md"
    doc.write_text(
        "Before.\n\n<!-- table:tracker_speed -->\nhand-typed\n<!-- /table:tracker_speed -->\n\nAfter.\n"
    )
    args = ["--results", str(results), str(doc)]

    assert render_docs.main(["--check", *args]) == 1
    assert "stale" in capsys.readouterr().out
    assert "hand-typed" in doc.read_text()  # --check writes nothing

    assert render_docs.main(args) == 0
    text = doc.read_text()
    assert text.startswith("Before.\n\n<!-- table:tracker_speed -->\n| people |")
    assert text.endswith("<!-- /table:tracker_speed -->\n\nAfter.\n")
    assert "| 30 | 0.72 (" in text and "hand-typed" not in text
    assert render_docs.main(["--check", *args]) == 0  # rendering is idempotent

    _speed_results(results, 9.87)  # a new measurement makes the doc stale
    assert render_docs.main(["--check", *args]) == 1
    assert render_docs.main(args) == 0
    assert "| 30 | 9.87 (" in doc.read_text()


def test_unknown_or_unclosed_tables_are_one_line_errors():
    with pytest.raises(UserError, match="no renderer for table.*nonesuch"):
        render_text("<!-- table:nonesuch -->\n<!-- /table:nonesuch -->\n", RESULTS)
    with pytest.raises(UserError, match="no matching close marker"):
        render_text("<!-- table:tracker_speed -->\nbody\n", RESULTS)


def test_a_missing_result_names_the_file(tmp_path):
    shutil.copy(RESULTS / "tracker_speed.json", tmp_path)
    with pytest.raises(UserError, match="demo_latency.json"):
        render_text("<!-- table:demo_latency -->\n<!-- /table:demo_latency -->\n", tmp_path)


def test_registering_a_table_name_twice_is_refused():
    with pytest.raises(ValueError, match="two renderers"):
        render_docs.renderer("tracker_speed")(lambda results: "")
