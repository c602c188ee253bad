"""The plot scripts render every committed benchmark JSON into a PNG (a smoke test: real data,
real matplotlib, files checked for the PNG signature)."""

from __future__ import annotations

import shutil

import pytest

from benchmarks import tracker_plots
from benchmarks.tracker_common import RESULTS_DIR

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


def test_tracker_plots_render_each_committed_result(tmp_path):
    stems = ["tracker_speed", "tracker_quality", "tracker_pipeline", "tracker_appearance"]
    present = [s for s in stems if (RESULTS_DIR / f"{s}.json").is_file()]
    assert {"tracker_speed", "tracker_quality", "tracker_pipeline"} <= set(present)
    for stem in present:
        shutil.copy(RESULTS_DIR / f"{stem}.json", tmp_path)
    assert tracker_plots.main(["--results", str(tmp_path)]) == 0
    for stem in present:
        png = tmp_path / f"{stem}.png"
        assert png.read_bytes()[:8] == PNG and png.stat().st_size > 10_000
