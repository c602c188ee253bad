"""benchmarks/thread_policy.py: the table's ratios are medians of per-round ratios."""

from __future__ import annotations

from benchmarks.thread_policy import render


def _runs(*fps: float) -> list[dict[str, float]]:
    return [{"fps": f} for f in fps]


def test_render_reports_per_round_ratios_and_the_check():
    # per round auto / 2: 1.0, 0.8, 0.9 -> median 0.9; the medians' ratio would be 60 / 70
    runs = {"auto": _runs(70.0, 56.0, 60.0), "1": _runs(50.0, 50.0, 50.0), "2": _runs(70, 70, 66.7)}
    result = {
        "fps_median": {"auto": 60.0, "1": 50.0, "2": 70.0},
        "torch_threads": {"auto": 2, "1": 1, "2": 2},
        "runs": runs,
        "best_manual": "2",
        "ok": True,
        "usable_cores": 2,
        "rounds": 3,
        "machine": {"load_avg": [0.1, 0.1, 0.1]},
    }
    table = render(result)
    assert "| auto | 2 | 60.0 | 0.90 |" in table
    assert "| --threads 2 | 2 | 70.0 | 1.00 |" in table
    assert "at least 0.9: met" in table
    assert "**not met**" in render({**result, "ok": False})
