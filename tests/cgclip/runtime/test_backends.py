"""EmbeddingBackend contract, eager backends, parity checks and make_backend's explicit fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cgclip.errors import UserError, cli
from cgclip.runtime import (
    TOLERANCES,
    BackendUnavailable,
    EagerBackend,
    EmbeddingBackend,
    check_parity,
    make_backend,
)


def test_eager_fp32_is_the_model(model, crops):
    backend = make_backend(model, "eager")
    assert isinstance(backend, EmbeddingBackend) and backend.name == "eager"
    with torch.inference_mode():
        ref = model.encode_frames(crops)
        got = backend.encode_frames(crops)
        assert torch.equal(got, ref)
        ref_emb = model.encode_tracklet(ref.view(2, 3, *ref.shape[1:]))
    assert torch.equal(backend.encode_tracklet(got.view(2, 3, *got.shape[1:])), ref_emb)
    # crops (B, T, 3, H, W) go through the backend's encoder, then TFE, like the model's
    assert torch.equal(backend.encode_tracklet(crops.view(2, 3, *crops.shape[1:])), ref_emb)
    report = check_parity(backend, crops=crops)
    assert report.max_abs_error == 0.0 and report.min_cosine == pytest.approx(1.0, abs=1e-6)
    assert report.passed


def test_eager_bf16_within_tolerance_and_model_left_fp32(model, crops):
    backend = EagerBackend(model, precision="bf16")
    assert next(backend.encoder.parameters()).dtype == torch.bfloat16
    assert next(model.parameters()).dtype == torch.float32  # TFE keeps running in fp32
    tokens = backend.encode_frames(crops)
    assert tokens.dtype == torch.float32 and tokens.shape == (6, model.tokens_per_frame, 64)
    report = check_parity(backend, crops=crops)
    assert 0 < report.token_rel_error < TOLERANCES["bf16"].token_rel  # really ran in bf16
    assert report.min_cosine > TOLERANCES["bf16"].cosine
    assert report.passed and report.precision == "bf16"
    assert "PASS" in report.summary() and "bf16" in report.summary()


def test_parity_fails_outside_tolerance(model, crops):
    backend = EagerBackend(model, precision="bf16")
    report = check_parity(backend, crops=crops, tolerance=TOLERANCES["fp32"])
    assert not report.passed and "FAIL" in report.summary()
    assert report.to_dict()["passed"] is False


def test_encode_frames_edge_cases(make_tiny_model):
    cls_model = make_tiny_model(tfe_keys="cls")
    backend = EagerBackend(cls_model, precision="bf16")
    h, w = cls_model.preprocess.size
    assert backend.encode_frames(torch.randn(3, 3, h, w)).shape == (3, 1, 64)  # CLS only
    assert backend.encode_frames(torch.zeros(0, 3, h, w)).shape == (0, 1, 64)
    with pytest.raises(ValueError, match=r"crops must be \(N, 3, 64, 32\)"):
        backend.encode_frames(torch.zeros(2, 3, 32, 32))
    emb, attention = backend.encode_tracklet(
        backend.encode_frames(torch.randn(4, 3, h, w)).view(2, 2, 1, 64), return_attention=True
    )
    assert emb.shape == (2, cls_model.embedding_dim) and attention.shape == (2, 2)
    assert torch.allclose(emb.norm(dim=1), torch.ones(2), atol=1e-5)


def test_unavailable_precision_and_device_are_one_line(model):
    with pytest.raises(BackendUnavailable) as err:
        make_backend(model, "eager", precision="fp16")  # CPU
    assert "fp16 needs a CUDA GPU" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(BackendUnavailable, match="does not run bf16"):
        make_backend(model, "onnx", precision="bf16")
    with pytest.raises(UserError, match="unknown backend 'fast'"):
        make_backend(model, "fast")
    with pytest.raises(UserError, match="precision 'int8'"):
        make_backend(model, "eager", precision="int8")
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailable, match="no CUDA GPU is visible"):
            make_backend(model, "eager", device="cuda")


def test_tensorrt_unavailable_is_one_line_with_alternatives(model, monkeypatch, capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present; the unavailable path is tested on CPU machines")
    monkeypatch.setitem(__import__("sys").modules, "torch_tensorrt", None)  # import fails
    with pytest.raises(BackendUnavailable) as err:
        make_backend(model, "tensorrt")
    message = str(err.value)
    assert "\n" not in message
    assert "torch-tensorrt package is not installed" in message
    assert "no CUDA GPU" in message and "--backend onnx|compile|eager" in message

    @cli
    def main(argv=None):
        make_backend(model, "tensorrt")

    assert main([]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("error: tensorrt backend unavailable")


def test_fallback_is_explicit_and_logs_one_warning(model, crops, caplog):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present; the fallback path is tested on CPU machines")
    backend = make_backend(model, "tensorrt", fallback="eager")
    assert isinstance(backend, EagerBackend)
    # tensorrt's fp16 on cuda cannot run here: the fallback says what it runs instead
    assert backend.precision == "fp32" and backend.device.type == "cpu"
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and warnings[0].name == "cgclip.runtime"
    assert warnings[0].getMessage().startswith("tensorrt backend unavailable")
    assert "falling back to eager fp32 on cpu" in warnings[0].getMessage()
    with torch.inference_mode():  # the reference in the same (fast-path) mode
        assert torch.equal(backend.encode_frames(crops), model.encode_frames(crops))

    chosen = make_backend(model, "tensorrt", fallback="eager:bf16")
    assert chosen.precision == "bf16"
    assert "falling back to eager bf16" in caplog.records[-1].getMessage()
    with pytest.raises(UserError, match="is the backend that failed"):
        make_backend(model, "eager", precision="fp16", fallback="eager")


def test_backend_drops_into_the_tracker_embedder(model):
    """The tracker's CgclipEmbedder takes a backend where it takes a model (no tracker change)."""
    from tracker.embedding import CgclipEmbedder

    frame = np.random.default_rng(0).integers(0, 255, size=(120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 40, 90], [50, 20, 90, 110], [100, 5, 150, 100]], np.float32)
    ref = CgclipEmbedder(model).embed_frame(frame, boxes)
    got = CgclipEmbedder(make_backend(model, "eager", precision="bf16")).embed_frame(frame, boxes)
    assert got.features.shape == ref.features.shape
    assert np.min(np.sum(got.embeddings * ref.embeddings, axis=1)) > 0.999
    windows = [got.features[:2], got.features[1:]]
    tracklets = CgclipEmbedder(make_backend(model, "eager")).embed_tracklets(windows)
    assert tracklets.shape == (2, model.embedding_dim)


def test_runtime_imports_no_training_code_and_no_heavy_runtimes(subprocess_env):
    """Inference never imports cgclip.train; onnxruntime/torch-tensorrt load only when used."""
    import subprocess
    import sys

    code = (
        "import sys, cgclip.runtime, cgclip.export\n"
        "bad = sorted(m for m in sys.modules if m.startswith('cgclip.train')"
        " or m in ('onnxruntime', 'torch_tensorrt', 'onnxscript'))\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
