"""The arithmetic the timing benchmarks report: per-round speed-ups, growth exponents, the TFE fit."""

from __future__ import annotations

import math

import pytest


def test_encoder_speedups_are_medians_of_per_round_ratios_on_the_loaded_basis():
    from benchmarks.encoder_throughput import add_ratios

    def run(kind, walls, cpus, load):
        rounds = [{"seconds": w, "cpu_seconds": c} for w, c in zip(walls, cpus, strict=True)]
        return {
            "backend": kind,
            "precision": "fp32",
            "loads": [load] * len(walls),
            "rows": [{"batch": 8, "rounds": rounds}],
        }

    # round 3's wall time of onnx was hit by a spike; CPU time was not
    ref = run("eager", [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], 0.5)
    onnx = run("onnx", [0.5, 0.5, 4.0], [0.5, 0.5, 0.5], 0.5)
    add_ratios([ref, onnx], cores=2)
    row = onnx["rows"][0]
    assert row["speedup_wall"] == pytest.approx(2.0) and row["speedup_cpu"] == pytest.approx(2.0)
    assert row["basis"] == "wall" and ref["rows"][0]["speedup_vs_eager_fp32"] == 1.0
    ref["loads"] = [5.0] * 3  # load above the 2 cores: CPU time decides
    onnx2 = run("onnx", [0.5, 4.0, 4.0], [0.5, 0.5, 0.5], 5.0)
    add_ratios([ref, onnx2], cores=2)
    row = onnx2["rows"][0]
    assert row["basis"] == "cpu" and row["speedup_vs_eager_fp32"] == pytest.approx(2.0)
    assert row["speedup_wall"] == pytest.approx(0.25)


def test_speed_growth_exponents_between_sizes():
    from benchmarks.tracker_speed import scaling

    rows = [
        {"people": 100, "ours": {"t": 1.0}, "peer": {"t": 2.0}},
        {"people": 300, "ours": {"t": 3.0}, "peer": {"t": 18.0}},
    ]
    out = scaling(rows, "t")
    assert out["ours"]["100->300"] == pytest.approx(1.0)  # linear
    assert out["peer"]["100->300"] == pytest.approx(2.0)  # quadratic


def test_tfe_linear_fit():
    from benchmarks.tfe_cost import fit_linear

    ts = [1, 2, 4, 8, 16]
    fit = fit_linear(ts, [0.024 + 0.056 * t for t in ts])
    assert fit["a_ms"] == pytest.approx(24.0) and fit["b_ms"] == pytest.approx(56.0)
    assert fit["r2"] == pytest.approx(1.0) and fit["max_rel_residual"] < 1e-9
    bent = fit_linear(ts, [0.01 * t * t for t in ts])
    assert bent["r2"] < 0.99 and bent["max_rel_residual"] > 0.1
    assert math.isfinite(bent["a_ms"])
