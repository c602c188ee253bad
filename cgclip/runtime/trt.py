"""TensorRT backend through torch-tensorrt: FP16 engine, dynamic batch profile, cached on disk.

Build (once per weights x GPU x TensorRT version x profile x precision), then save:

    torch_tensorrt.compile(FrameEncoder (cast to half), **trt_compile_kwargs(version, ...))
    torch_tensorrt.save(trt_module, path, **trt_save_kwargs(version, ...))

Later runs reload the serialized engine with ``torch_tensorrt.load(path).module()`` (an
ExportedProgram whose graph calls the engine) instead of rebuilding, which takes minutes for
ViT-B/16.

The keywords differ by torch-tensorrt release (checked against each release's
``py/torch_tensorrt/_compile.py`` and ``dynamo/_compiler.py``/``_defaults.py``; the tests check
the keywords built for every supported release):

- precision. 2.6-2.9 build weakly typed: ``enabled_precisions={dtype}``. 2.10-2.12 default to
  ``use_explicit_typing=True`` and assert that ``enabled_precisions`` is then left at fp32, so we
  pass ``use_explicit_typing=True`` and no precisions; the engine takes the graph's dtypes. From
  2.13 the dynamo path is always strongly typed and ignores both. In every case the encoder and
  its input are cast to the precision first, which is what makes the engine fp16.
- saving with a dynamic batch. ``save`` accepts ``torch_tensorrt.Input`` objects only from 2.11.
  2.6-2.10 keep the batch symbolic with the legacy exporter (``retrace=False``; 2.10 defaults to
  ``retrace=True``, which re-exports at the example's fixed shape). From 2.11 we pass an example
  tensor plus ``dynamic_shapes`` (a batch ``torch.export.Dim`` over the profile).
- floor. Before 2.6 an engine saved with a dynamic batch does not load again (``s0 is not in
  var_ranges``: pytorch/TensorRT#3205, pytorch/pytorch#137365), so the backend needs 2.6 or later
  and says so in one line.

torch-tensorrt needs an NVIDIA GPU, CUDA, and a torch-tensorrt build matching the installed torch
(``pip install 'cgclip-track[trt]'``). Without them the backend raises
:class:`BackendUnavailable` with one line naming what is missing and the alternatives.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from cgclip.errors import UserError
from cgclip.io.atomic import atomic_path
from cgclip.runtime.base import (
    ALTERNATIVES,
    DTYPES,
    BackendUnavailable,
    CachedArtefactBackend,
    artifact_key,
    frame_encoder,
)

log = logging.getLogger(__name__)

TRT_FLOOR = (2, 6)  # the oldest torch-tensorrt whose dynamic-batch engines load again
Shape = tuple[int, ...]


def trt_version(text: str) -> tuple[int, int]:
    """(major, minor) of a torch-tensorrt version string ("2.10.0+cu130", "2.11.0.dev2025...")."""
    match = re.match(r"\s*v?(\d+)\.(\d+)", str(text))
    if match is None:
        raise ValueError(f"not a torch-tensorrt version: {text!r}")
    return int(match[1]), int(match[2])


def trt_compile_kwargs(
    version: tuple[int, int],
    precision: str,
    shapes: tuple[Shape, Shape, Shape],
    make_input: Callable[..., Any] = dict,
) -> dict[str, Any]:
    """Keywords of ``torch_tensorrt.compile(encoder, **kwargs)`` for torch-tensorrt ``version``.

    ``shapes``: the (min, opt, max) input shapes of the profile; ``make_input`` builds the input
    spec from ``min_shape``/``opt_shape``/``max_shape``/``dtype`` (``torch_tensorrt.Input``; the
    default, ``dict``, lets the choice be inspected without torch-tensorrt). The encoder must
    already be cast to ``precision``: strongly typed releases take the precision from the graph.
    """
    lo, opt, hi = shapes
    dtype = DTYPES[precision]
    kwargs: dict[str, Any] = {
        "ir": "dynamo",
        "inputs": [make_input(min_shape=lo, opt_shape=opt, max_shape=hi, dtype=dtype)],
    }
    if version < (2, 10):  # weakly typed by default: the precisions TensorRT may pick kernels in
        kwargs["enabled_precisions"] = {dtype}
    elif version < (2, 13):  # strongly typed by default; enabled_precisions must stay fp32
        kwargs["use_explicit_typing"] = True
    # 2.13+: the dynamo path is always strongly typed and has neither keyword
    return kwargs


def trt_save_kwargs(
    version: tuple[int, int], example: torch.Tensor, batch: tuple[int, int]
) -> dict[str, Any]:
    """Keywords of ``torch_tensorrt.save(module, path, **kwargs)`` that keep the batch dimension
    dynamic over ``batch`` = (min, max). ``example``: one input inside the profile (the opt
    shape), on the engine's device and dtype."""
    kwargs: dict[str, Any] = {"output_format": "exported_program"}
    if version < (2, 11):
        # the legacy exporter copies the graph's symbolic batch; inputs would be ignored, and
        # Input objects rejected ("Not all inputs provided are torch.tensors")
        kwargs["retrace"] = False
    else:
        lo, hi = batch
        kwargs["arg_inputs"] = [example]
        if lo < hi:  # positional (one entry per argument): the placeholder's name does not matter
            kwargs["dynamic_shapes"] = ({0: torch.export.Dim("batch", min=lo, max=hi)},)
        kwargs["retrace"] = True
    return kwargs


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


def check_trt_version(text: str) -> tuple[int, int]:
    """The (major, minor) of torch-tensorrt ``text``; BackendUnavailable below :data:`TRT_FLOOR`."""
    try:
        version = trt_version(text)
    except ValueError:
        raise BackendUnavailable(
            f"tensorrt backend: cannot read the torch-tensorrt version {text!r}"
        ) from None
    if version < TRT_FLOOR:
        floor = ".".join(map(str, TRT_FLOOR))
        raise BackendUnavailable(
            f"tensorrt backend needs torch-tensorrt >= {floor} (found {text}: its dynamic-batch "
            "engines do not load again)",
            f"pip install 'torch-tensorrt>={floor}' with a matching torch, or use {ALTERNATIVES}",
        )
    return version


class TensorRTBackend(CachedArtefactBackend):
    """The image encoder as a TensorRT engine (FP16 by default) with a dynamic batch profile.

    ``min_batch``/``opt_batch``/``max_batch``: the optimisation profile (TensorRT tunes kernels for
    ``opt_batch``); larger batches are split into chunks of ``max_batch``. ``cache_dir``/``prefix``:
    where the serialized engine goes (``<prefix>-<key>.<precision>.trt.ep``), keyed by the
    weights, config, GPU name, compute capability, TensorRT/torch-tensorrt/torch versions and the
    profile. ``rebuild``: build even when a cached engine exists.
    """

    name = "tensorrt"
    precisions = ("fp16", "fp32")
    artefact = "TensorRT engine"
    suffix = ".trt.ep"

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
    ) -> None:
        self._trt = import_torch_tensorrt()
        self.versions = _versions(self._trt)
        self.trt_version = check_trt_version(self.versions["torch_tensorrt"])
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
        key = artifact_key(
            self.model,
            "tensorrt",
            precision,
            gpu=self.gpu,
            capability=capability,
            profile=self.profile,
            **self.versions,
        )
        note = f"batch {min_batch}/{opt_batch}/{max_batch} on {self.gpu}; this takes minutes once"
        self.module = self._reuse_or_build(
            key, cache_dir=cache_dir, prefix=prefix, rebuild=rebuild, note=note
        )

    def _shapes(self) -> tuple[Shape, Shape, Shape]:
        h, w = self.preprocess.size
        lo, opt, hi = self.profile
        return (lo, 3, h, w), (opt, 3, h, w), (hi, 3, h, w)

    def _build(self) -> Any:
        encoder = frame_encoder(self.model, self.precision, self.device)
        compile_kwargs = trt_compile_kwargs(
            self.trt_version, self.precision, self._shapes(), make_input=self._trt.Input
        )
        lo, opt, hi = self.profile
        # an example batch of 1 would be specialised by torch.export; 2 stays symbolic
        example = torch.zeros(
            (max(opt, min(2, hi)), *self._shapes()[0][1:]), dtype=self.dtype, device=self.device
        )
        with torch.no_grad():
            trt_module = self._trt.compile(encoder, **compile_kwargs)
            save_kwargs = trt_save_kwargs(self.trt_version, example, (lo, hi))
            with atomic_path(self.path) as tmp:
                self._trt.save(trt_module, str(tmp), **save_kwargs)
        return trt_module

    def _open(self) -> Any:
        try:
            return self._trt.load(str(self.path)).module()
        except Exception as err:  # a corrupt file or an engine from another TensorRT build
            first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
            log.warning("cannot load %s (%s: %s)", self.path, type(err).__name__, first)
            return None

    def _encode(self, crops: torch.Tensor) -> torch.Tensor:
        step = self.profile[2]
        if crops.shape[0] <= step:
            return self.module(crops)
        return torch.cat([self.module(crops[i : i + step]) for i in range(0, len(crops), step)])

    def details(self) -> str:
        lo, opt, hi = self.profile
        return (
            f"TensorRT {self.versions['tensorrt']} (torch-tensorrt "
            f"{self.versions['torch_tensorrt']}) on {self.gpu}, batch {lo}/{opt}/{hi}, "
            f"{self._state()}: {self.path}"
        )
