"""ONNX Runtime backend: the image encoder exported once with ``torch.onnx.export``, cached on disk.

Export uses the torch.export-based exporter (``dynamo=True``, the default and recommended one
since torch 2.9; it needs ``onnxscript``) with a symbolic batch dimension, so one file serves
every batch size. The file is cached as ``<cache_dir>/<prefix>-<key>.<precision>.onnx`` where
``key`` hashes the encoder weights, the model config, the precision, the opset and the torch
version; the key is also stored in the file's metadata and checked when it is reused, so changed
weights re-export and a stale or foreign file is never run.

fp32 runs on the CPU or CUDA execution provider; fp16 (a half-precision export) on CUDA only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from cgclip.errors import UserError
from cgclip.io.atomic import atomic_path
from cgclip.runtime.base import (
    BackendUnavailable,
    CachedArtefactBackend,
    artifact_key,
    frame_encoder,
)

KEY_FIELD = "cgclip_artifact_key"
DEFAULT_OPSET = 18


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise BackendUnavailable(
            "onnx backend needs onnxruntime, which is not installed",
            "pip install 'cgclip-track[onnx]' (onnxruntime-gpu for CUDA), or use "
            "--backend compile|eager",
        ) from None
    return onnxruntime


def export_onnx(
    model: Any,
    path: str | Path,
    *,
    precision: str = "fp32",
    device: torch.device | str = "cpu",
    opset: int = DEFAULT_OPSET,
    metadata: dict[str, str] | None = None,
    example_batch: int = 2,
) -> Path:
    """Export ``model``'s image encoder to ONNX at ``path`` (atomically).

    Input ``crops`` (batch, 3, H, W), output ``tokens`` (batch, L, D), batch symbolic.
    ``metadata`` goes into the model's ``metadata_props``.
    """
    try:
        import onnxscript  # noqa: F401  (the exporter needs it; fail with a clear line)
    except ImportError:
        raise BackendUnavailable(
            "exporting to ONNX needs onnxscript (torch.onnx's exporter), which is not installed",
            "pip install 'cgclip-track[onnx]', or use --backend compile|eager",
        ) from None
    encoder = frame_encoder(model, precision, torch.device(device))
    h, w = model.preprocess.size
    dtype = torch.float16 if precision == "fp16" else torch.float32
    example = torch.zeros(example_batch, 3, h, w, device=device, dtype=dtype)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with torch.no_grad():
        program = torch.onnx.export(
            encoder,
            (example,),
            input_names=["crops"],
            output_names=["tokens"],
            dynamic_shapes={"crops": {0: batch}},
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
    program.model.metadata_props.update(metadata or {})
    path = Path(path)
    with atomic_path(path) as tmp:
        program.save(str(tmp), external_data=False)
    return path


class OnnxBackend(CachedArtefactBackend):
    """The exported image encoder on ONNX Runtime (CPU, or CUDA with onnxruntime-gpu).

    ``cache_dir``: where the .onnx goes (default: the user cache, see
    :func:`~cgclip.runtime.base.default_cache_dir`); pass the checkpoint's folder to keep it next
    to the weights. ``prefix``: file-name prefix (default: the model name). ``threads``: ORT
    intra-op threads (default: ``torch.get_num_threads()``, to compare fairly with eager).
    ``rebuild``: export even when a valid cached file exists.
    """

    name = "onnx"
    precisions = ("fp32", "fp16")
    artefact = "ONNX file"
    suffix = ".onnx"

    def __init__(
        self,
        model: Any,
        *,
        precision: str = "fp32",
        device: str | torch.device | None = None,
        cache_dir: str | Path | None = None,
        prefix: str | None = None,
        opset: int = DEFAULT_OPSET,
        threads: int | None = None,
        rebuild: bool = False,
    ) -> None:
        self._ort = _import_onnxruntime()
        super().__init__(model, precision=precision, device=device)
        if self.device.type == "cuda":
            if "CUDAExecutionProvider" not in self._ort.get_available_providers():
                raise BackendUnavailable(
                    "onnx backend on cuda needs onnxruntime-gpu (this onnxruntime has no "
                    "CUDAExecutionProvider)",
                    "install onnxruntime-gpu, or use --device cpu or --backend compile|eager",
                )
            self._providers: list[Any] = [
                ("CUDAExecutionProvider", {"device_id": self.device.index or 0}),
                "CPUExecutionProvider",
            ]
        else:
            self._providers = ["CPUExecutionProvider"]
        self._threads = threads
        self.opset = opset
        self.ort_version = self._ort.__version__
        key = artifact_key(self.model, "onnx", precision, opset=opset, torch=torch.__version__)
        self.session = self._reuse_or_build(
            key, cache_dir=cache_dir, prefix=prefix, rebuild=rebuild
        )
        self.providers = self.session.get_providers()
        self._input = self.session.get_inputs()[0].name
        self._np_dtype = np.float16 if precision == "fp16" else np.float32

    def _open(self) -> Any:
        try:
            session = self._session()
        except UserError:
            return None  # truncated or corrupt cache entry: export it again
        stored = session.get_modelmeta().custom_metadata_map.get(KEY_FIELD)
        # same name, other content (key-prefix clash, edited file): export it again
        return session if stored == self.key else None

    def _build(self) -> Any:
        export_onnx(
            self.model,
            self.path,
            precision=self.precision,
            device=self.device,
            opset=self.opset,
            metadata={KEY_FIELD: self.key},
        )
        return self._session()

    def _session(self) -> Any:
        ort = self._ort
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = int(self._threads or torch.get_num_threads())
        try:
            return ort.InferenceSession(str(self.path), options, providers=self._providers)
        except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(
                f"onnxruntime cannot load {self.path} ({first[:200]}); check the onnxruntime "
                "install (onnxruntime-gpu for CUDA) or pass rebuild=True / --rebuild"
            ) from None

    def _encode(self, crops: torch.Tensor) -> torch.Tensor:
        x = crops.detach().cpu().numpy().astype(self._np_dtype, copy=False)
        (tokens,) = self.session.run(None, {self._input: x})
        return torch.from_numpy(tokens)

    def details(self) -> str:
        return f"onnxruntime {self.ort_version} {self.providers[0]}, {self._state()}: {self.path}"
