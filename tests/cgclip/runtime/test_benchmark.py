"""The encoder-throughput benchmark runs end to end (quick mode, eager only) and its plot renders."""

from __future__ import annotations

import json

import pytest
import torch


def test_encoder_throughput_quick(tmp_path, capsys):
    from benchmarks.encoder_throughput import main

    out = tmp_path / "enc.json"
    argv = ["--variants", "test-tiny", "--backends", "eager", "--quick", "--output", str(out)]
    assert main(argv) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["machine"]["cores"] >= 1 and "onnxruntime" in data["machine"]
    entry = data["variants"]["test-tiny"]
    runs = {(r["backend"], r["precision"]): r for r in entry["runs"]}
    assert [row["batch"] for row in runs["eager", "fp32"]["rows"]] == [1, 8]
    assert all(row["speedup_vs_eager_fp32"] == 1.0 for row in runs["eager", "fp32"]["rows"])
    assert all(r["parity"]["passed"] for r in runs.values())
    if not torch.cuda.is_available():
        assert ("eager", "fp16") not in runs
        assert "fp16 needs a CUDA GPU" in entry["unavailable"]["eager fp16"]
    assert "crops/s (x eager fp32" in capsys.readouterr().out

    pytest.importorskip("matplotlib")
    from benchmarks.encoder_plots import main as plot_main

    assert plot_main(["--input", str(out)]) == 0
    assert out.with_suffix(".png").stat().st_size > 0


def test_encoder_plots_bad_input(tmp_path, capsys):
    from benchmarks.encoder_plots import main as plot_main

    bad = tmp_path / "x.json"
    bad.write_text("{}", encoding="utf-8")
    assert plot_main(["--input", str(bad)]) == 2
    assert "not an encoder_throughput result" in capsys.readouterr().err
