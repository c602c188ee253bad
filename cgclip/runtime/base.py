"""The ``EmbeddingBackend`` interface and what every backend shares.

A backend runs CG-CLIP's image encoder, the expensive part of embedding a detection, and leaves
TFE (tracklet pooling, a few small matrix products per track) to the eager model:

    crops (N, 3, H, W) --backend.encode_frames--> tokens (N, L, D) float32   [eager/compile/ONNX/TRT]
    tokens (B, T, L, D) --backend.encode_tracklet--> (B, E) L2-normalised    [eager fp32 TFE]

``encode_frames``/``encode_tracklet``/``preprocess`` mirror the model API (DEVELOPING.md), so a
backend drops in wherever the tracker takes a model (``tracker.embedding.CgclipEmbedder``).

Artefacts (ONNX files, TensorRT engines) are keyed by a fingerprint of the exported weights and
config (:func:`artifact_key`), so changed weights never reuse a stale artefact; the reuse-or-build
step around them is :class:`CachedArtefactBackend`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from cgclip.errors import UserError

PRECISIONS = ("fp32", "bf16", "fp16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
ALTERNATIVES = "--backend onnx|compile|eager"

log = logging.getLogger(__name__)


class BackendUnavailable(UserError):
    """A backend cannot run here (missing package, GPU or precision support): one line, what is
    missing (``reason``) then what to do instead (``hint``). :func:`cgclip.runtime.make_backend`
    falls back to another backend only when the caller asks it to."""

    def __init__(self, reason: str, hint: str = f"use {ALTERNATIVES}") -> None:
        super().__init__(f"{reason}; {hint}" if hint else reason)
        self.reason = reason
        self.hint = hint


class FrameEncoder(nn.Module):
    """The exported/compiled part: crops (N, 3, H, W) -> frame tokens (N, L, D), CLS at index 0.

    Identical to ``CGCLIP.encode_frames`` without camera ids (SIE is off for single-camera
    tracking); ``keep_cls`` keeps only the CLS token when the model's TFE reads CLS tokens.
    """

    def __init__(self, image_encoder: nn.Module, keep_cls: bool) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.keep_cls = keep_cls

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        tokens, _ = self.image_encoder(crops)  # (N, 1+P, D)
        return tokens[:, :1] if self.keep_cls else tokens


def frame_encoder(
    model: Any, precision: str = "fp32", device: torch.device | None = None
) -> nn.Module:
    """The model's :class:`FrameEncoder` in eval mode; a cast copy for bf16/fp16, so the model
    itself (whose TFE runs in fp32) is left untouched."""
    encoder = model.image_encoder
    if precision != "fp32":
        encoder = copy.deepcopy(encoder).to(dtype=DTYPES[precision])
    if device is not None:
        encoder = encoder.to(device)
    return FrameEncoder(encoder, keep_cls=model.tokens_per_frame == 1).eval()


class EmbeddingBackend(ABC):
    """One way to run the image encoder. Subclasses implement :meth:`_encode`.

    Attributes: ``name`` ("eager", "compile", "onnx", "tensorrt"), ``precision`` (fp32 | bf16 |
    fp16: the encoder's compute dtype; outputs are always float32), ``device``, and ``model`` (the
    eager CG-CLIP model, which keeps running TFE in fp32).
    """

    name: ClassVar[str] = "?"
    precisions: ClassVar[tuple[str, ...]] = PRECISIONS

    def __init__(
        self, model: Any, *, precision: str = "fp32", device: str | torch.device | None = None
    ) -> None:
        if precision not in PRECISIONS:
            raise UserError(f"precision {precision!r} is not one of {list(PRECISIONS)}")
        self.device = torch.device(device) if device is not None else model.device
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailable(
                f"{self.name} backend: device {self.device} asked for but no CUDA GPU is visible "
                "to torch",
                "use --device cpu",
            )
        if precision not in self.precisions:
            raise BackendUnavailable(
                f"{self.name} backend does not run {precision} (it runs "
                f"{'/'.join(self.precisions)})",
                f"use --precision {self.precisions[0]}, or --backend eager|compile for {precision}",
            )
        if precision == "fp16" and self.device.type != "cuda":
            raise BackendUnavailable(
                f"{self.name} backend: fp16 needs a CUDA GPU (device is {self.device})",
                "use --precision fp32 (or bf16 with --backend eager|compile) on a CPU",
            )
        self.precision = precision
        self.model = model.eval().to(self.device)

    # ------------------------------------------------------------------ model API

    @property
    def preprocess(self) -> Any:
        """The model's preprocessing (crop size, mean/std): the crops to feed this backend."""
        return self.model.preprocess

    @property
    def tokens_per_frame(self) -> int:
        return self.model.tokens_per_frame

    @property
    def embedding_dim(self) -> int:
        return self.model.embedding_dim

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.precision]

    @torch.inference_mode()
    def encode_frames(self, crops: torch.Tensor) -> torch.Tensor:
        """crops (N, 3, H, W) normalised -> frame tokens (N, L, D) float32 on ``self.device``."""
        h, w = self.preprocess.size
        if crops.ndim != 4 or tuple(crops.shape[1:]) != (3, h, w):
            raise ValueError(f"crops must be (N, 3, {h}, {w}), got {tuple(crops.shape)}")
        if crops.shape[0] == 0:
            width = self.model.config.vision.width
            return torch.empty(0, self.tokens_per_frame, width, device=self.device)
        x = crops.to(device=self.device, dtype=self.dtype)
        return self._encode(x).to(device=self.device, dtype=torch.float32)

    @torch.inference_mode()
    def encode_tracklet(
        self,
        x: torch.Tensor,
        frame_mask: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Tracklet embedding (B, E), L2-normalised: eager fp32 TFE over tokens (B, T, L, D), or
        over crops (B, T, 3, H, W) encoded by this backend. Same contract as the model's."""
        if x.ndim == 5:
            b, t = x.shape[:2]
            tokens = self.encode_frames(x.flatten(0, 1))
            x = tokens.view(b, t, *tokens.shape[1:])
        return self.model.encode_tracklet(
            x.float(), frame_mask=frame_mask, return_attention=return_attention
        )

    @abstractmethod
    def _encode(self, crops: torch.Tensor) -> torch.Tensor:
        """crops (N >= 1, 3, H, W) in ``self.dtype`` on ``self.device`` -> tokens (N, L, D)."""

    # ------------------------------------------------------------------ description

    def details(self) -> str:
        """Backend-specific detail for :meth:`describe` (runtime, artefact path, ...)."""
        return ""

    def describe(self) -> str:
        """One line: backend, precision, device and details, e.g. for logs and benchmark rows."""
        extra = self.details()
        return f"{self.name} {self.precision} on {self.device}" + (f" ({extra})" if extra else "")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


# ---------------------------------------------------------------------- artefact cache


def default_cache_dir() -> Path:
    """Where built artefacts go when no ``cache_dir`` is given: ``$CGCLIP_CACHE``, else
    ``$XDG_CACHE_HOME/cgclip``, else ``~/.cache/cgclip``."""
    if os.environ.get("CGCLIP_CACHE"):
        return Path(os.environ["CGCLIP_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cgclip"


def weights_fingerprint(module: nn.Module) -> str:
    """blake2b over the module's state dict (names, dtypes, shapes and bytes), hex digest."""
    h = hashlib.blake2b(digest_size=20)
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().data if t.numel() else b"")
    return h.hexdigest()


def artifact_key(model: Any, kind: str, precision: str, **extra: Any) -> str:
    """Cache key of an artefact built from ``model``'s image encoder: a hash of its weights, the
    model config, the backend kind, the precision and ``extra`` (library versions, GPU, ...)."""
    payload = {
        "weights": weights_fingerprint(model.image_encoder),
        "config": model.config.to_dict(),
        # the exported graph's output: (N, L, D) with L = tokens_per_frame (CLS only for f/v)
        "tokens_per_frame": model.tokens_per_frame,
        "kind": kind,
        "precision": precision,
        **{k: str(v) for k, v in sorted(extra.items())},
    }
    return hashlib.blake2b(
        json.dumps(payload, sort_keys=True, default=str).encode(), digest_size=20
    ).hexdigest()


def artifact_path(cache_dir: str | Path | None, prefix: str, key: str, suffix: str) -> Path:
    """``cache_dir/<prefix>-<key[:16]><suffix>`` (``cache_dir`` defaults to the user cache)."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in prefix) or "model"
    return folder / f"{safe}-{key[:16]}{suffix}"


def check_cache_dir(cache_dir: Path) -> None:
    """UserError when the artefact folder cannot be created or written."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(
            f"cannot create cache folder {cache_dir} ({err.strerror}); pass a writable "
            "cache_dir/--out or set CGCLIP_CACHE"
        ) from None
    if not os.access(cache_dir, os.W_OK):
        raise UserError(
            f"cache folder {cache_dir} is not writable; pass a writable cache_dir/--out or set "
            "CGCLIP_CACHE"
        )


class CachedArtefactBackend(EmbeddingBackend):
    """A backend that runs a built artefact (an ONNX file, a TensorRT engine) cached on disk.

    :meth:`_reuse_or_build` is the one reuse-or-build step: it names the file from the cache key,
    checks the folder, opens a cached file unless ``rebuild`` (a file that does not open, or is
    not this key's, is built again), else builds it, timing the build. Subclasses say how to
    :meth:`_open` and :meth:`_build` it; both return the object that runs it (the "runner").

    Attributes after the step: ``key``, ``path``, ``reused`` and ``build_seconds``.
    """

    artefact: ClassVar[str] = "artefact"  # what the log line calls it: "ONNX file", ...
    suffix: ClassVar[str] = ""  # the file suffix after the precision: ".onnx", ".trt.ep"

    def _reuse_or_build(
        self,
        key: str,
        *,
        cache_dir: str | Path | None,
        prefix: str | None,
        rebuild: bool,
        note: str = "",
    ) -> Any:
        """The runner of ``<cache_dir>/<prefix>-<key>.<precision><suffix>``, opened or built."""
        self.key = key
        self.path = artifact_path(
            cache_dir, prefix or self.model.name, key, f".{self.precision}{self.suffix}"
        )
        check_cache_dir(self.path.parent)
        self.reused = False
        self.build_seconds = 0.0
        if self.path.is_file() and not rebuild:
            runner = self._open()
            if runner is not None:
                self.reused = True
                return runner
            log.warning("cached %s %s is unusable; building it again", self.artefact, self.path)
        log.info(
            "building the %s (%s%s): %s",
            self.artefact,
            self.precision,
            note and f", {note}",
            self.path,
        )
        start = time.perf_counter()
        runner = self._build()
        self.build_seconds = time.perf_counter() - start
        return runner

    @abstractmethod
    def _open(self) -> Any:
        """Open the cached ``self.path``: its runner, or None when it is not this key's artefact
        (corrupt, truncated, other weights under the same name)."""

    @abstractmethod
    def _build(self) -> Any:
        """Build the artefact, write it to ``self.path`` atomically, return its runner."""

    def _state(self) -> str:
        """ "cached" or "built in N s", for :meth:`details`."""
        return "cached" if self.reused else f"built in {self.build_seconds:.1f} s"
