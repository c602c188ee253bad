"""``python -m cgclip.export`` on a tiny checkpoint: artefact, parity numbers, reuse, bad input."""

from __future__ import annotations

import json

import pytest
import torch

from cgclip.export import main


@pytest.fixture()
def checkpoint(copy_checkpoint, tmp_path):
    """A private copy: exports write next to it, and one test corrupts it."""
    return copy_checkpoint(tmp_path / "ckpt")


def test_export_onnx_next_to_the_checkpoint_then_reuse(checkpoint, capsys):
    assert main(["--checkpoint", str(checkpoint), "--backend", "onnx", "--parity-crops", "4"]) == 0
    out = capsys.readouterr().out
    artefacts = list(checkpoint.parent.glob("tiny-*.fp32.onnx"))
    assert len(artefacts) == 1
    assert "built in" in out and "parity PASS" in out
    report = json.loads(
        artefacts[0].with_name(artefacts[0].name + ".parity.json").read_text(encoding="utf-8")
    )
    assert report["passed"] and report["crops"] == 4 and report["precision"] == "fp32"
    assert report["token_rel_error"] < report["tolerance"]["token_rel"]
    assert report["artifact"] == str(artefacts[0])

    # a tracker loading the same checkpoint through load_backend finds the same file
    from cgclip.runtime import load_backend

    loaded = load_backend(checkpoint, "onnx")
    assert loaded.reused and loaded.path == artefacts[0]
    assert load_backend(checkpoint, "eager").name == "eager"  # artefact options do not leak

    assert main(["--checkpoint", str(checkpoint), "--parity-crops", "2"]) == 0
    out = capsys.readouterr().out
    assert "cached" in out and "built in" not in out


def test_export_to_out_folder_from_a_named_model(tmp_path, capsys):
    torch.manual_seed(0)
    out = tmp_path / "artefacts"
    assert main(["--model", "test-tiny", "--out", str(out), "--parity-crops", "2"]) == 0
    assert len(list(out.glob("test-tiny-random-*.fp32.onnx"))) == 1
    assert "parity PASS" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--checkpoint", "missing.safetensors"], "checkpoint not found"),
        (["--checkpoint", "{ckpt}", "--backend", "onnx", "--precision", "bf16"], "bf16"),
        (["--checkpoint", "{ckpt}", "--parity-crops", "0"], "argument --parity-crops: must be"),
        (
            ["--checkpoint", "{ckpt}", "--opset", "3"],
            "argument --opset: must be a whole number in [17, 25]",
        ),
        (["--checkpoint", "{ckpt}", "--opset", "26"], "argument --opset: must be a whole number"),
        (["--checkpoint", "{ckpt}", "--max-batch", "0"], "argument --max-batch: must be"),
        (["--backend", "onnx"], "one of the arguments --checkpoint --model is required"),
        (["--checkpoint", "{ckpt}", "--pretrained", "openai"], "--pretrained goes with --model"),
        (["--model", "no-such-model"], "unknown model"),
    ],
)
def test_bad_input_is_one_line(argv, expected, checkpoint, capsys):
    argv = [a.replace("{ckpt}", str(checkpoint)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0]


def test_an_opset_the_exporter_did_not_reach_is_refused(checkpoint, monkeypatch, capsys):
    """No silent fallback: if the artefact's opset is not the one asked for, exit 2 naming both."""
    import onnx

    real_load = onnx.load

    def fallen_back(*args, **kwargs):
        model = real_load(*args, **kwargs)
        for entry in model.opset_import:
            if entry.domain in ("", "ai.onnx"):
                entry.version = 18
        return model

    monkeypatch.setattr(onnx, "load", fallen_back)
    assert main(["--checkpoint", str(checkpoint), "--opset", "20", "--parity-crops", "1"]) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "exported at opset 18 although --opset 20" in errors[0]


def test_tensorrt_without_gpu_is_one_line(checkpoint, capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["--checkpoint", str(checkpoint), "--backend", "tensorrt"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tensorrt backend unavailable" in err[0]
    assert "--backend onnx|compile|eager" in err[0]


def test_corrupt_checkpoint_is_one_line(checkpoint, capsys):
    checkpoint.write_bytes(b"\x00" * 16)
    assert main(["--checkpoint", str(checkpoint)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "corrupt" in err[0]
