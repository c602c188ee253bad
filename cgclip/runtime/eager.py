"""PyTorch backends: eager (fp32 / bf16 / fp16) and ``torch.compile``.

Reduced precision runs a cast copy of the image encoder (weights and activations in bf16/fp16,
as TensorRT does) rather than autocast: no per-call weight casts, and the fp32 model stays intact
for TFE. fp16 needs CUDA; bf16 runs on CPUs too (fast only where the CPU has bf16 units).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch

from cgclip.runtime.base import BackendUnavailable, EmbeddingBackend, FrameEncoder, frame_encoder


class EagerBackend(EmbeddingBackend):
    """The model's own image encoder in PyTorch eager mode; fp32 is exactly ``model.encode_frames``."""

    name = "eager"

    def __init__(
        self, model: Any, *, precision: str = "fp32", device: str | torch.device | None = None
    ) -> None:
        super().__init__(model, precision=precision, device=device)
        self.encoder = frame_encoder(self.model, precision, self.device)

    def _encode(self, crops: torch.Tensor) -> torch.Tensor:
        return self.encoder(crops)

    def details(self) -> str:
        return f"torch {torch.__version__}"


class CompileBackend(EmbeddingBackend):
    """``torch.compile`` of the image encoder, dynamic in the batch dimension.

    ``mode``: torch.compile's mode (None, "reduce-overhead", "max-autotune", ...); the default
    "auto" is "reduce-overhead" (CUDA graphs) on CUDA and None elsewhere: the tracker's
    per-frame batches are small, where launching the encoder's kernels one by one costs more than
    running them (H200: 882-1010 crops/s at batch 1 with graphs, 229-301 without; docs/gpu.md).
    ``compiler``:
    its ``backend`` ("inductor" by default; "aot_eager" traces without code generation, for
    debugging; or a backend callable). The whole encoder must compile as one graph
    (``fullgraph=True``): a graph break is an error, not a silent partial eager run. Batches >= 2 share one graph with a symbolic batch size; a batch of 1 gets its own
    static graph (dynamo specialises size 1), compiled at the first single-crop call unless
    ``warmup`` includes 1. Construction compiles the ``warmup`` batch sizes, so a missing C++
    compiler or an unsupported op surfaces here as :class:`BackendUnavailable`, not mid-video.
    """

    name = "compile"

    def __init__(
        self,
        model: Any,
        *,
        precision: str = "fp32",
        device: str | torch.device | None = None,
        mode: str | None = "auto",
        compiler: str | Callable[..., Any] = "inductor",
        warmup: Sequence[int] = (2, 1),
    ) -> None:
        super().__init__(model, precision=precision, device=device)
        if mode == "auto":
            mode = "reduce-overhead" if self.device.type == "cuda" else None
        self.mode = mode
        self.compiler = compiler
        self.encoder: FrameEncoder = frame_encoder(self.model, precision, self.device)
        self._cudagraphs = self.device.type == "cuda" and mode in (
            "reduce-overhead",
            "max-autotune",
        )
        # fullgraph: a graph break would run part of the encoder eagerly without a word.
        # isolate_recompiles (where this torch has it): dynamo keeps compiled graphs per code object and
        # runs eager after recompile_limit (8) of them, so without it a process holding a few
        # backends (variants, precisions) would silently stop compiling the later ones.
        isolate = "isolate_recompiles" in inspect.signature(torch.compile).parameters
        self._compiled = torch.compile(
            self.encoder,
            mode=mode,
            backend=compiler,
            dynamic=False,
            fullgraph=True,
            **({"isolate_recompiles": True} if isolate else {}),
        )
        h, w = self.preprocess.size
        for n in warmup:
            x = torch.zeros(n, 3, h, w, device=self.device, dtype=self.dtype)
            try:
                with torch.inference_mode():
                    self._encode(x)
            except Exception as err:  # inductor raises many types (C++ compiler, lowering, ...)
                first = str(err).strip().splitlines()[0] if str(err).strip() else ""
                raise BackendUnavailable(
                    f"torch.compile ({compiler}, mode={mode}) failed on this machine: "
                    f"{type(err).__name__}: {first[:200]}",
                    "use --backend eager|onnx",
                ) from None

    def _encode(self, crops: torch.Tensor) -> torch.Tensor:
        if crops.shape[0] >= 2:
            torch._dynamo.mark_dynamic(crops, 0)  # one graph for every batch size >= 2
        if self._cudagraphs:  # CUDA-graph outputs live in buffers the next call overwrites
            torch.compiler.cudagraph_mark_step_begin()
            return self._compiled(crops).clone()
        return self._compiled(crops)

    def details(self) -> str:
        return f"{self.compiler}, mode={self.mode}, torch {torch.__version__}"
