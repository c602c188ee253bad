"""ONNX Runtime backend: export, dynamic batch, parity, cache reuse and invalidation.

Needs the ``onnx`` extra (onnxruntime, onnxscript), which ``make test`` installs."""

from __future__ import annotations

import pytest
import torch

from cgclip.runtime import OnnxBackend, check_parity, make_backend, onnxrt


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def exported(shared_model, onnx_cache):
    """The shared model exported once (at batch 2, the exporter's example) for this module."""
    return OnnxBackend(shared_model, cache_dir=onnx_cache)


def test_export_at_batch_2_runs_any_batch(exported, shared_model):
    assert not exported.reused and exported.path.is_file()
    assert exported.path.name.startswith("test-tiny-") and exported.path.suffixes[-2:] == [
        ".fp32",
        ".onnx",
    ]
    batch_dim = exported.session.get_inputs()[0].shape[0]
    assert isinstance(batch_dim, str)  # symbolic: one file serves every batch size
    h, w = shared_model.preprocess.size
    for n in (1, 5, 33):
        crops = torch.randn(n, 3, h, w)
        with torch.inference_mode():
            ref = shared_model.encode_frames(crops)
        got = exported.encode_frames(crops)
        assert got.shape == ref.shape == (n, shared_model.tokens_per_frame, 64)
        assert torch.allclose(got, ref, atol=1e-4, rtol=0)
    report = check_parity(exported, n=5)
    assert report.passed, report.summary()
    assert 0 < report.token_rel_error < 1e-4  # a different runtime, not the same kernels
    assert "onnxruntime" in exported.describe() and "CPUExecutionProvider" in exported.describe()


def test_second_backend_reuses_the_cached_file(exported, shared_model, onnx_cache, monkeypatch):
    def no_export(*args, **kwargs):
        raise AssertionError("the cached ONNX file should have been reused")

    monkeypatch.setattr(onnxrt, "export_onnx", no_export)
    mtime = exported.path.stat().st_mtime_ns
    again = make_backend(shared_model, "onnx", cache_dir=str(onnx_cache))
    assert again.reused and again.path == exported.path and "cached" in again.describe()
    assert exported.path.stat().st_mtime_ns == mtime
    crops = torch.randn(3, 3, *shared_model.preprocess.size)
    assert torch.equal(again.encode_frames(crops), exported.encode_frames(crops))


def test_cache_is_keyed_by_weights_and_checked(make_tiny_model, tmp_path, caplog):
    model = make_tiny_model(seed=5)
    with caplog.at_level("INFO", logger="cgclip.runtime"):
        first = OnnxBackend(model, cache_dir=tmp_path)
    assert f"building the ONNX file (fp32): {first.path}" in caplog.text
    with torch.no_grad():
        model.image_encoder.visual.ln_post.bias.add_(0.5)  # e.g. a fine-tuned checkpoint
    second = OnnxBackend(model, cache_dir=tmp_path)
    assert not second.reused and second.key != first.key and second.path != first.path
    assert check_parity(second).passed  # matches the new weights...
    crops = torch.randn(2, 3, *model.preprocess.size)
    assert not torch.allclose(first.encode_frames(crops), second.encode_frames(crops))
    assert len(list(tmp_path.glob("*.onnx"))) == 2
    with torch.no_grad():  # TFE is not in the file: its weights do not invalidate it
        model.tfe.queries.add_(1.0)
    assert OnnxBackend(model, cache_dir=tmp_path).reused

    # a valid ONNX file of other weights under this key's name is not trusted (key metadata)
    second.path.write_bytes(first.path.read_bytes())
    foreign = OnnxBackend(model, cache_dir=tmp_path)
    assert not foreign.reused and check_parity(foreign).passed
    second.path.write_bytes(b"not an onnx file")  # e.g. an interrupted copy
    corrupt = OnnxBackend(model, cache_dir=tmp_path)
    assert not corrupt.reused and check_parity(corrupt).passed


def test_unwritable_cache_dir_is_a_user_error(model, tmp_path):
    from cgclip.errors import UserError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot create cache folder"):
        OnnxBackend(model, cache_dir=blocker / "sub")
