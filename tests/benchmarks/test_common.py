"""benchmarks.common: rotation, CPU time beside wall time, ratio basis, thread pinning, run info."""

from __future__ import annotations

import json
import os
import time

import pytest

from benchmarks import common


def test_rotation_shifts_the_order_each_round():
    names = ["a", "b", "c"]
    assert [common.rotation(names, r) for r in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def test_rotated_rounds_run_every_contender_once_per_round_in_rotated_order():
    calls: list[str] = []

    def contender(name: str):
        def run():
            calls.append(name)
            return {"value": len(calls)}

        return run

    runs = common.rotated_rounds({n: contender(n) for n in ("a", "b", "c")}, 3, progress=False)
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert {n: len(v) for n, v in runs.items()} == {"a": 3, "b": 3, "c": 3}
    entry = runs["b"][1]
    assert entry["value"] == 4 and entry["wall_s"] >= 0 and entry["cpu_s"] >= 0
    assert "load" in entry


def test_measure_separates_cpu_time_from_waiting():
    def spin():  # busy until 50 ms of CPU time, however long a loaded machine takes
        end = time.thread_time() + 0.05
        while time.thread_time() < end:
            pass

    _, wall, cpu = common.measure(spin)
    assert cpu >= 0.05 and wall >= cpu * 0.9  # busy: CPU time accrues
    _, wall, cpu = common.measure(lambda: time.sleep(0.15))
    assert wall >= 0.14 and cpu < 0.05  # asleep: wall time only


def test_compare_takes_per_round_ratios_and_cpu_time_when_loaded():
    # round 2 has a load spike that hit only the contender's wall time
    runs = {
        "ref": [
            {"t": 1.0, "c": 1.0, "load": 0.5},
            {"t": 1.0, "c": 1.0, "load": 0.5},
            {"t": 2.0, "c": 2.0, "load": 0.5},
        ],
        "x": [
            {"t": 0.5, "c": 0.5, "load": 0.5},
            {"t": 5.0, "c": 0.5, "load": 0.5},
            {"t": 1.0, "c": 1.0, "load": 0.5},
        ],
    }
    idle = common.compare(runs, "ref", wall="t", cpu="c", cores=2)
    assert idle["x"]["wall_ratio"] == pytest.approx(0.5)  # median of 0.5, 5.0, 0.5
    assert idle["x"]["cpu_ratio"] == pytest.approx(0.5)
    assert idle["x"]["basis"] == "wall" and idle["ref"]["ratio"] == 1.0
    runs["x"][1]["load"] = 3.0
    loaded = common.compare(runs, "ref", wall="t", cpu="c", cores=2)
    assert loaded["x"]["basis"] == "cpu" and loaded["x"]["ratio"] == loaded["x"]["cpu_ratio"]


def test_pin_threads_sets_every_variable_and_is_recorded(monkeypatch):
    import torch

    for var in common.THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    threads = torch.get_num_threads()
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # leave the pool as it is
    settings = common.pin_threads(1)
    assert torch.get_num_threads() == threads
    assert all(os.environ[v] == "1" for v in common.THREAD_VARS)
    assert settings["OPENCV_FFMPEG_THREADS"] == "1"
    info = common.run_info()
    assert info["thread_env"]["OMP_NUM_THREADS"] == "1"
    assert len(info["load_avg"]) == 3 and info["date"].endswith("UTC")


def test_run_line_names_date_threads_and_load():
    data = {
        "machine": {
            "date": "2026-12-02 14:00 UTC",
            "load_avg": [3.5, 2.0, 1.0],
            "usable_cores": 2,
            "thread_env": {"OMP_NUM_THREADS": "1", "torch_threads": 1},
        }
    }
    line = common.run_line("tracker_speed", data)
    assert "2026-12-02 14:00 UTC" in line and "OMP 1" in line and "torch 1" in line
    assert "load average 3.5, 2, 1" in line and "2 usable cores" in line
    old = common.run_line("old", {"machine": {"cpu": "x"}, "threads": 1})
    assert "date not recorded" in old and "load not recorded" in old


def test_an_earlier_run_is_reused_only_when_every_named_setting_agrees(tmp_path):
    from benchmarks.common import earlier_same_run

    out = tmp_path / "r.json"
    result = {"data": "d", "checkpoint": {"digest": "abc", "path": "x"}, "seed": 0}
    keys = ("data", "checkpoint.digest", "seed")
    assert earlier_same_run(out, result, keys) is None  # nothing there yet
    out.write_text("{not json")
    assert earlier_same_run(out, result, keys) is None
    old = {"data": "d", "checkpoint": {"digest": "abc", "path": "elsewhere"}, "kinds": 1}
    out.write_text(json.dumps(old))
    assert earlier_same_run(out, result, keys) is None  # no seed recorded, no stand-in given
    assert earlier_same_run(out, result, keys, missing={"seed": 0}) == old  # path is not a key
    assert earlier_same_run(out, {**result, "seed": 1}, keys, missing={"seed": 0}) is None
    changed = {**result, "checkpoint": {"digest": "abd"}}
    assert earlier_same_run(out, changed, keys, missing={"seed": 0}) is None
