"""TensorRT backend through torch-tensorrt: FP16 engine, dynamic batch profile, cached on disk.

Build (once per weights x GPU x TensorRT version x profile x precision):

    torch_tensorrt.compile(FrameEncoder (half), ir="dynamo",
                           inputs=[Input(min_shape=(min,3,H,W), opt_shape=(opt,...),
                                         max_shape=(max,...), dtype=torch.half)],
                           enabled_precisions={torch.half})
    torch_tensorrt.save(trt_module, path, output_format="exported_program", arg_inputs=inputs)

Later runs reload the serialized engine with ``torch_tensorrt.load(path).module()`` (an
ExportedProgram whose graph calls the engine) instead of rebuilding, which takes minutes for
ViT-B/16. The encoder is cast to half before compiling, so the engine is FP16 both for
torch-tensorrt releases that honour ``enabled_precisions`` and for the newer strongly typed
default, which takes the precision from the graph's dtypes.

torch-tensorrt needs an NVIDIA GPU, CUDA, and a torch-tensorrt build matching the installed torch
(``pip install 'cgclip-track[trt]'``). Without them the backend raises
:class:`BackendUnavailable` with one line naming what is missing and the alternatives.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from cgclip.errors import UserError
from cgclip.io.atomic import atomic_path
from cgclip.runtime.base import (
    ALTERNATIVES,
    BackendUnavailable,
    EmbeddingBackend,
    artifact_key,
    artifact_path,
    check_cache_dir,
    frame_encoder,
)


def import_torch_tensorrt() -> Any:
    """``torch_tensorrt``, or one :class:`BackendUnavailable` line saying what is missing."""
    missing = []
    module = None
    try:
        import torch_tensorrt as module
    except ImportError:
        missing.append(
            "the torch-tensorrt package is not installed (pip install 'cgclip-track[trt]')"
        )
    except Exception as err:  # a wheel built for another torch/CUDA fails at import time
        first = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
        missing.append(f"torch-tensorrt does not import ({type(err).__name__}: {first})")
    if not torch.cuda.is_available():
        missing.append("no CUDA GPU is visible to torch")
    if missing:
        raise BackendUnavailable(f"tensorrt backend unavailable: {'; '.join(missing)}")
    return module


def _versions(torch_tensorrt: Any) -> dict[str, str]:
    try:
        import tensorrt

        trt_version = tensorrt.__version__
    except Exception:  # the engine format follows TensorRT's version; fall back to the wrapper's
        trt_version = "unknown"
    return {
        "tensorrt": trt_version,
        "torch_tensorrt": getattr(torch_tensorrt, "__version__", "unknown"),
        "torch": torch.__version__,
    }


class TensorRTBackend(EmbeddingBackend):
    """The image encoder as a TensorRT engine (FP16 by default) with a dynamic batch profile.

    ``min_batch``/``opt_batch``/``max_batch``: the optimisation profile (TensorRT tunes kernels for
    ``opt_batch``); larger batches are split into chunks of ``max_batch``. ``cache_dir``/``prefix``:
    where the serialized engine goes (``<prefix>-<key>.<precision>.trt.ep``), keyed by the
    weights, config, GPU name, compute capability, TensorRT/torch-tensorrt/torch versions and the
    profile. ``rebuild``: build even when a cached engine exists.
    """

    name = "tensorrt"
    precisions = ("fp16", "fp32")

    def __init__(
        self,
        model: Any,
        *,
        precision: str = "fp16",
        device: str | torch.device | None = "cuda",
        cache_dir: str | Path | None = None,
        prefix: str | None = None,
        min_batch: int = 1,
        opt_batch: int = 16,
        max_batch: int = 64,
        rebuild: bool = False,
        verbose: bool = True,
    ) -> None:
        torch_tensorrt = import_torch_tensorrt()
        device = torch.device(device if device is not None else "cuda")
        if device.type != "cuda":
            raise BackendUnavailable(
                f"tensorrt backend runs on a CUDA device, not {device}",
                f"use --device cuda or {ALTERNATIVES}",
            )
        if not 1 <= min_batch <= opt_batch <= max_batch:
            raise UserError(
                f"TensorRT batch profile needs 1 <= min <= opt <= max, got {min_batch}/"
                f"{opt_batch}/{max_batch}"
            )
        super().__init__(model, precision=precision, device=device)
        self.profile = (min_batch, opt_batch, max_batch)
        self.gpu = torch.cuda.get_device_name(self.device)
        capability = ".".join(map(str, torch.cuda.get_device_capability(self.device)))
        self.versions = _versions(torch_tensorrt)
        self.key = artifact_key(
            self.model,
            "tensorrt",
            precision,
            gpu=self.gpu,
            capability=capability,
            profile=self.profile,
            **self.versions,
        )
        self.path = artifact_path(
            cache_dir, prefix or self.model.name, self.key, f".{precision}.trt.ep"
        )
        check_cache_dir(self.path.parent)
        self.reused = self.path.is_file() and not rebuild
        self.build_seconds = 0.0
        if self.reused:
            self.module = self._load(torch_tensorrt)
        else:
            if verbose:
                print(
                    f"building a TensorRT engine ({precision}, batch {min_batch}/{opt_batch}/"
                    f"{max_batch}) on {self.gpu}; this takes minutes once: {self.path}"
                )
            start = time.perf_counter()
            self.module = self._build(torch_tensorrt)
            self.build_seconds = time.perf_counter() - start

    def _inputs(self, torch_tensorrt: Any) -> list[Any]:
        h, w = self.preprocess.size
        lo, opt, hi = self.profile
        return [
            torch_tensorrt.Input(
                min_shape=(lo, 3, h, w),
                opt_shape=(opt, 3, h, w),
                max_shape=(hi, 3, h, w),
                dtype=self.dtype,
            )
        ]

    def _build(self, torch_tensorrt: Any) -> Any:
        encoder = frame_encoder(self.model, self.precision, self.device)
        inputs = self._inputs(torch_tensorrt)
        with torch.no_grad():
            trt_module = torch_tensorrt.compile(
                encoder,
                ir="dynamo",
                inputs=inputs,
                enabled_precisions={self.dtype},
            )
            with atomic_path(self.path) as tmp:
                # Input objects with min/opt/max let save() keep the batch dimension dynamic
                torch_tensorrt.save(
                    trt_module, str(tmp), output_format="exported_program", arg_inputs=inputs
                )
        return trt_module

    def _load(self, torch_tensorrt: Any) -> Any:
        try:
            return torch_tensorrt.load(str(self.path)).module()
        except Exception as err:  # a corrupt file or an engine from another TensorRT build
            first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
            raise UserError(
                f"cannot load the TensorRT engine {self.path} ({type(err).__name__}: {first}); "
                "delete it to rebuild, or pass rebuild=True / python -m cgclip.export --rebuild"
            ) from None

    def _encode(self, crops: torch.Tensor) -> torch.Tensor:
        step = self.profile[2]
        if crops.shape[0] <= step:
            return self.module(crops)
        return torch.cat([self.module(crops[i : i + step]) for i in range(0, len(crops), step)])

    def details(self) -> str:
        state = "cached" if self.reused else f"built in {self.build_seconds:.0f} s"
        lo, opt, hi = self.profile
        return (
            f"TensorRT {self.versions['tensorrt']} on {self.gpu}, batch {lo}/{opt}/{hi}, "
            f"{state}: {self.path}"
        )
