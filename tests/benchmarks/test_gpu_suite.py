"""The GPU suite: its dry run end to end (CPU, tiny sizes), rotation, the peak table, rendering."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest

from benchmarks.gpu_report import NO_RUN, TARGET_FPS, peak_bf16, render_markdown
from benchmarks.gpu_suite import DRY, Suite, device_slug, rotate
from benchmarks.render_docs import render_text
from tests.support import REPO_ROOT


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-suite") / "dry.json"
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "benchmarks" / "gpu_suite.sh"), "--dry-run", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_dry_run_fills_every_section(dry_run):
    env = dry_run["environment"]
    assert env["dry_run"] and env["device"] == "cpu" and env["torch_threads"] >= 1
    assert len(env["load_average_start"]) == 3 and len(env["load_average_end"]) == 3
    assert env["matmul_bf16_tflops"] > 0 and env["peak_bf16_tflops"] is None  # no GPU here

    enc = dry_run["encoder"]
    assert set(enc["rows"]) >= {"eager fp32", "eager bf16", "compile bf16"}
    for label, rows in enc["rows"].items():
        assert [r["batch"] for r in rows] == [1, 4, 8]
        for r in rows:
            assert 0 < r["p50_ms"] <= r["p95_ms"] and r["calls"] == 4  # 2 rounds x 2 calls
            assert r["crops_per_s"] == pytest.approx(r["batch"] / (r["p50_ms"] / 1e3))
            if label == "eager fp32":
                assert r["x_eager_fp32"] == pytest.approx(1.0)
    assert "fp16 needs a CUDA GPU" in enc["unavailable"]["eager fp16"]
    assert "tensorrt backend unavailable" in enc["unavailable"]["tensorrt fp16"]
    assert set(enc["parity"]) == set(enc["rows"]) - {"eager fp32"}
    assert all(p["passed"] for p in enc["parity"].values())
    assert enc["flop_per_crop"] == enc["flop_per_crop_counted"] > 0  # test-tiny: counted

    tfe = dry_run["tfe"]
    assert [r["T"] for r in tfe["keys_all"]] == [r["T"] for r in tfe["keys_cls"]] == [1, 2, 4]
    # TFE really runs: its FLOPs grow linearly in T, faster over every token than over CLS
    f1, f2, f4 = (r["flops"] for r in tfe["keys_all"])
    assert f4 - f2 == 2 * (f2 - f1) > 0
    assert f2 - f1 > tfe["keys_cls"][1]["flops"] - tfe["keys_cls"][0]["flops"] > 0
    pipe = dry_run["pipeline"]
    assert "320x180, 6 people" in pipe["clip"] and "random init" in pipe["detector"]
    assert "eager bf16" in pipe["runs"] and pipe["fastest_backend"] in enc["rows"]
    for run in pipe["runs"].values():
        assert run["frames"] == 6 and run["fps"] > 0
        assert sum(run["ms_per_frame"].values()) == pytest.approx(run["total_ms_per_frame"])
        assert run["ms_per_frame"]["detect"] > 0 and run["ms_per_frame"]["embed"] > 0
    train = dry_run["train"]
    assert train["amp"] == "bfloat16" and train["tracklets_per_s"] > 0
    assert dry_run["ddp"] == {**dry_run["ddp"], "world": 1, "steps": 2, "passed": True}


def test_contenders_are_timed_in_a_rotated_order():
    calls = []

    class Backend:
        def __init__(self, name):
            self.name = name

        def encode_frames(self, x):
            calls.append(self.name)

    samples = rotate({n: Backend(n) for n in "abc"}, {2: None}, rounds=3, calls=1)
    # each contender: one warm-up and one timed call per round; the first one rotates
    firsts = [calls[i] for i in range(0, len(calls), 6)]
    assert firsts == ["a", "b", "c"] and len(calls) == 18
    assert {n: len(s[2]) for n, s in samples.items()} == {"a": 3, "b": 3, "c": 3}


def test_a_failing_section_is_recorded_and_the_suite_goes_on(tmp_path):
    import torch

    def broken():
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    suite = Suite(DRY, torch.device("cpu"), tmp_path / "r.json", budget=100, strict=False)
    suite.section("pipeline", broken)
    suite.section("train", lambda: {"tracklets_per_s": 1.0})
    suite.section("ddp", lambda: {}, need=1e6)
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["pipeline"]["skipped"].startswith("failed: RuntimeError: CUDA error")
    assert "broken" in "\n".join(saved["pipeline"]["trace"])
    assert saved["train"]["tracklets_per_s"] == 1.0
    assert saved["ddp"]["skipped"].startswith("time budget:")
    strict = Suite(DRY, torch.device("cpu"), tmp_path / "s.json", budget=100, strict=True)
    with pytest.raises(RuntimeError, match="illegal memory access"):
        strict.section("pipeline", broken)


def test_results_are_named_after_the_device():
    assert device_slug({"environment": {"gpu": "NVIDIA H100 80GB HBM3"}}) == "nvidia-h100-80gb-hbm3"
    assert device_slug({"environment": {"dry_run": True}}) == "cpu-dry-run"


def test_peak_table_matches_specific_names_first():
    assert peak_bf16("NVIDIA H200") == 989.0
    assert peak_bf16("NVIDIA H100 PCIe") == 756.0
    assert peak_bf16("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_bf16("NVIDIA A100-SXM4-80GB") == 312.0
    assert peak_bf16("NVIDIA A10") == 125.0
    assert peak_bf16("NVIDIA L40S") == 362.0 and peak_bf16("NVIDIA L4") == 121.0
    assert peak_bf16("Tesla T4") is None and peak_bf16(None) is None


@pytest.mark.slow
def test_render_leaves_dry_runs_out_and_states_the_targets(dry_run, tmp_path):
    (tmp_path / "cpu-dry-run.json").write_text(json.dumps(dry_run))
    assert render_markdown(tmp_path) == NO_RUN
    gpu = copy.deepcopy(dry_run)  # as if from a GPU: the render only reads the JSON
    gpu["environment"].update(dry_run=False, gpu="NVIDIA H200", driver="580.1", cuda="13.0")
    (tmp_path / "nvidia-h200.json").write_text(json.dumps(gpu))
    text = render_markdown(tmp_path)
    assert text.startswith("### NVIDIA H200 (driver 580.1, CUDA 13.0")
    label, row = max(
        ((k, r) for k, rows in gpu["encoder"]["rows"].items() for r in rows if r["batch"] == 8),
        key=lambda item: item[1]["crops_per_s"],
    )
    met = row["crops_per_s"] >= 10_000 and row["x_eager_fp32"] >= 4  # tiny CPU numbers: either
    line = f"- Encoder, batch 8: best is {label} at {row['crops_per_s']:.0f} crops/s"
    assert line in text and ("met." if met else "missed: ") in text
    best_fps = max(r["fps"] for r in gpu["pipeline"]["runs"].values())
    verdict = "met" if best_fps >= TARGET_FPS else "missed by"
    assert f"FPS: {verdict}" in text and "time goes to " in text
    assert "| eager fp32 |" in text and "reference" in text and "pass (cos" in text
    assert "- tensorrt fp16: tensorrt backend unavailable" in text
    assert "| T | keys all: ms |" in text and "Training step, AMP bfloat16" in text
    doc = "intro\n<!-- table:gpu -->\nold\n<!-- /table:gpu -->\nend\n"
    none = render_text(doc, tmp_path / "empty")  # no gpu/ folder of results
    assert none == f"intro\n<!-- table:gpu -->\n{NO_RUN}\n<!-- /table:gpu -->\nend\n"
    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "nvidia-h200.json").write_text(json.dumps(gpu))
    rendered = render_text(doc, tmp_path)  # what python -m benchmarks.render_docs writes
    assert rendered == f"intro\n<!-- table:gpu -->\n{text}\n<!-- /table:gpu -->\nend\n"
