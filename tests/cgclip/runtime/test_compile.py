"""torch.compile backend: one graph for every batch >= 2, parity with eager.

The graph-capture tests use cheap torch.compile backends (a counting one and ``aot_eager``); one
test runs the real inductor code generation (a C++ compile: ~30-60 s cold on 2 cores, seconds
with inductor's on-disk cache warm), marked slow.
"""

from __future__ import annotations

import pytest
import torch

from cgclip.runtime import CompileBackend, check_parity, make_backend


def test_one_graph_for_all_batches_of_two_or_more(model):
    graphs = []

    def counting_compiler(gm, example_inputs):  # a torch.compile backend that records graphs
        graphs.append([tuple(x.shape) for x in example_inputs if isinstance(x, torch.Tensor)])
        return gm.forward

    backend = CompileBackend(model, compiler=counting_compiler, warmup=(2,))
    assert len(graphs) == 1  # built at construction, so failures surface there
    h, w = model.preprocess.size
    for n in (5, 3, 17):
        crops = torch.randn(n, 3, h, w)
        with torch.inference_mode():
            assert torch.allclose(
                backend.encode_frames(crops), model.encode_frames(crops), atol=1e-5
            )
    assert len(graphs) == 1  # symbolic batch: no recompilation
    backend.encode_frames(torch.randn(1, 3, h, w))
    assert len(graphs) == 2  # dynamo specialises batch 1: its own static graph


def test_many_backends_in_one_process_all_compile(make_tiny_model):
    """More graphs than dynamo's per-function recompile_limit (8): none may silently run eager."""
    graphs = []

    def counting_compiler(gm, example_inputs):
        graphs.append(1)
        return gm.forward

    for seed in range(5):  # 5 backends x 2 graphs (batch >= 2 and batch 1) = 10 > 8
        CompileBackend(make_tiny_model(seed=seed), compiler=counting_compiler, warmup=(2, 1))
        assert len(graphs) == 2 * (seed + 1)


def test_compile_parity_fp32_and_bf16(model, crops):
    for precision in ("fp32", "bf16"):
        backend = make_backend(
            model, "compile", precision=precision, compiler="aot_eager", warmup=(2,)
        )
        report = check_parity(backend, crops=crops)
        assert report.passed, report.summary()
        assert "aot_eager" in backend.describe() and precision in backend.describe()


def test_compile_failure_is_backend_unavailable(model, caplog):
    from cgclip.runtime import BackendUnavailable, EagerBackend

    def broken_compiler(gm, example_inputs):
        raise RuntimeError("no C++ compiler found\nlong trace")

    with pytest.raises(BackendUnavailable) as err:
        CompileBackend(model, compiler=broken_compiler)
    assert "torch.compile" in str(err.value) and "\n" not in str(err.value)
    fallback = make_backend(
        model, "compile", compiler=broken_compiler, warmup=(2,), fallback="eager"
    )
    assert isinstance(fallback, EagerBackend)
    assert "falling back to eager fp32" in caplog.records[-1].getMessage()


@pytest.mark.slow
def test_inductor_parity_dynamic_batch(model):
    backend = CompileBackend(model, warmup=(2,))  # inductor, default mode
    report = check_parity(backend, n=5)  # compiled at batch 2, run at 5
    assert report.passed, report.summary()
    assert "inductor" in backend.describe()


def test_default_mode_uses_cuda_graphs_only_on_cuda(model):
    """mode "auto": CUDA graphs (reduce-overhead) on CUDA, plain compilation elsewhere."""
    backend = make_backend(model, "compile", compiler="aot_eager", warmup=(2,))
    assert backend.mode is None and "mode=None" in backend.describe()
    explicit = make_backend(model, "compile", compiler="aot_eager", warmup=(2,), mode="default")
    assert explicit.mode == "default"
