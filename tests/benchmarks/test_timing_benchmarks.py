"""The rotated timing benchmarks end to end at toy sizes: what their JSON holds."""

from __future__ import annotations

import json
import os

import pytest

from benchmarks.common import THREAD_VARS


@pytest.fixture(autouse=True)
def _restore_threads(monkeypatch):
    """The benchmarks pin threads for the whole process; give the next tests theirs back."""
    import torch

    for var in THREAD_VARS:
        if var in os.environ:
            monkeypatch.setenv(var, os.environ[var])
        else:
            monkeypatch.delenv(var, raising=False)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_tfe_cost_times_tfe_itself_for_both_key_modes(tmp_path):
    from benchmarks import tfe_cost

    out = tmp_path / "tfe.json"
    args = ["--variant", "test-tiny", "--ts", "1", "2", "4", "--rounds", "2", "--batch", "2"]
    assert tfe_cost.main([*args, "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    t = data["timing"]
    assert t["tokens_per_frame"] == 9 and t["rounds"] == 2
    every = [r["flops"] for r in t["keys_all"]["rows"]]
    cls = [r["flops"] for r in t["keys_cls"]["rows"]]
    # keys over every token: attention FLOPs grow with T; CLS keys: a few tokens more per frame
    assert every[0] < every[1] < every[2] and every[2] > 2 * cls[2]
    assert all(len(r["loads"]) == 2 and r["seconds"] > 0 for r in t["keys_all"]["rows"])
    assert {"a_ms", "b_ms", "r2", "max_rel_residual"} <= set(t["keys_all"]["fit"])
    assert data["machine"]["thread_env"]["OMP_NUM_THREADS"] == "1"
    assert "keys_all" in tfe_cost.render(data).replace("| all |", "keys_all")


def test_tracker_speed_rotates_and_records_cpu_time_and_exponents(tmp_path):
    from benchmarks import tracker_speed

    out = tmp_path / "speed.json"
    args = ["--people", "10,30", "--frames", "8", "--rounds", "2", "--peers", ""]
    assert tracker_speed.main([*args, "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["people"] for r in data["rows"]] == [10, 30] and data["rounds"] == 2
    ours = data["rows"][1]["ours"]
    assert len(ours["rounds"]) == 2 and ours["cpu_median_ms"] > 0
    assert ours["frames_per_round"] == 8
    assert set(data["scaling_cpu"]["ours"]) == {"10->30"}
    assert data["machine"]["load_avg"] and data["machine"]["date"]


def test_batch_throughput_without_ray_stops_before_any_work_with_one_line(monkeypatch, tmp_path):
    import importlib.util

    import pytest

    from benchmarks import batch_throughput

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    monkeypatch.setattr(batch_throughput, "prepare", lambda *a: pytest.fail("made videos"))
    with pytest.raises(SystemExit, match=r"ray_1 and ray_2 need Ray: .*cgclip-track\[cluster\]"):
        batch_throughput.main(["--out", str(tmp_path / "b.json")])
