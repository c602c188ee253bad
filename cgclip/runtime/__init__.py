"""Inference runtimes for CG-CLIP's image encoder behind one interface (never imports training).

    from cgclip.runtime import make_backend, check_parity

    backend = make_backend(model, "onnx", cache_dir=ckpt_dir)            # or eager|compile|tensorrt
    backend = make_backend(model, "tensorrt", fallback="onnx")           # explicit fallback, 1 line
    backend = load_backend("runs/best.safetensors", "onnx")              # artefact beside the ckpt
    reid = load_reid("clip", device="auto")          # --reid none|clip|clip:PATH|checkpoint (load.py)
    tokens = backend.encode_frames(crops)       # (N, 3, H, W) -> (N, L, D) float32
    emb = backend.encode_tracklet(tokens[:, None])                       # eager fp32 TFE -> (N, E)
    report = check_parity(backend).summary()

Backends: :class:`EagerBackend` (fp32/bf16/fp16), :class:`CompileBackend` (torch.compile),
:class:`OnnxBackend` (ONNX Runtime), :class:`TensorRTBackend` (torch-tensorrt, FP16).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from cgclip.errors import UserError
from cgclip.runtime.base import (
    PRECISIONS,
    BackendUnavailable,
    EmbeddingBackend,
    FrameEncoder,
    artifact_key,
    default_cache_dir,
    weights_fingerprint,
)
from cgclip.runtime.eager import CompileBackend, EagerBackend
from cgclip.runtime.load import LoadedReid, load_backend, load_reid, load_reid_model, resolve_device
from cgclip.runtime.onnxrt import OnnxBackend, export_onnx
from cgclip.runtime.parity import TOLERANCES, ParityReport, Tolerance, check_parity, random_crops
from cgclip.runtime.trt import TensorRTBackend

log = logging.getLogger(__name__)

BACKENDS: dict[str, type[EmbeddingBackend]] = {
    "eager": EagerBackend,
    "compile": CompileBackend,
    "onnx": OnnxBackend,
    "tensorrt": TensorRTBackend,
}
DEFAULT_PRECISION = {"eager": "fp32", "compile": "fp32", "onnx": "fp32", "tensorrt": "fp16"}
_CACHED = ("onnx", "tensorrt")  # backends that take cache_dir

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "TOLERANCES",
    "BackendUnavailable",
    "CompileBackend",
    "EagerBackend",
    "EmbeddingBackend",
    "FrameEncoder",
    "LoadedReid",
    "OnnxBackend",
    "ParityReport",
    "TensorRTBackend",
    "Tolerance",
    "artifact_key",
    "check_parity",
    "default_cache_dir",
    "export_onnx",
    "load_backend",
    "load_reid",
    "load_reid_model",
    "make_backend",
    "random_crops",
    "resolve_device",
    "weights_fingerprint",
]


def make_backend(
    model: Any,
    kind: str = "eager",
    *,
    precision: str | None = None,
    device: str | torch.device | None = None,
    cache_dir: str | Path | None = None,
    prefix: str | None = None,
    fallback: str | None = None,
    **options: Any,
) -> EmbeddingBackend:
    """Build backend ``kind`` (eager | compile | onnx | tensorrt) for ``model``'s image encoder.

    precision: fp32 | bf16 | fp16 (default fp32; fp16 for tensorrt). device: default the model's
    (cuda for tensorrt); the model is moved there in place (its TFE runs there). cache_dir /
    prefix: folder and file-name prefix of onnx/tensorrt artefacts (default: the user cache and
    the model name; ignored by eager/compile). options: keywords of the backend class (``mode``,
    ``max_batch``, ``threads``, ...).

    When ``kind`` cannot run here it raises :class:`BackendUnavailable` (one line) unless the
    caller named a ``fallback`` ("eager", "onnx", "compile", optionally with a precision,
    "eager:bf16"): then it logs one warning saying what was unavailable and what runs instead,
    and returns that. The fallback keeps the precision and device where it can run them, else runs
    fp32 (fp16 needs CUDA) on the CPU (when CUDA is missing); the line names what it runs.
    """
    cls = _backend_class(kind)
    precision = precision or DEFAULT_PRECISION[kind]
    cached = {"cache_dir": cache_dir, "prefix": prefix}
    kwargs = {**options, **cached} if kind in _CACHED else dict(options)
    if kind == "tensorrt" and device is None:
        device = "cuda"
    try:
        return cls(model, precision=precision, device=device, **kwargs)
    except BackendUnavailable as err:
        if fallback is None:
            raise
        fb_kind, _, fb_precision = fallback.partition(":")
        fb_cls = _backend_class(fb_kind)
        if fb_kind == kind:
            raise UserError(f"fallback {fallback!r} is the backend that failed: {err}") from None
        fb_device = torch.device(device) if device is not None else model.device
        if fb_device.type == "cuda" and not torch.cuda.is_available():
            fb_device = torch.device("cpu")
        if not fb_precision:
            fb_precision = precision
            if fb_precision not in fb_cls.precisions or (
                fb_precision == "fp16" and fb_device.type != "cuda"
            ):
                fb_precision = "fp32"
        fb_kwargs = cached if fb_kind in _CACHED else {}
        backend = fb_cls(model, precision=fb_precision, device=fb_device, **fb_kwargs)
        log.warning(
            "%s; falling back to %s (fallback=%r)", err.reason, backend.describe(), fallback
        )
        return backend


def _backend_class(kind: str) -> type[EmbeddingBackend]:
    if kind not in BACKENDS:
        raise UserError(f"unknown backend {kind!r}; choose one of {list(BACKENDS)}")
    return BACKENDS[kind]
