"""One resolver from a ``--reid`` value to a model or an embedding backend, and one device rule.

    from cgclip.runtime.load import load_reid, resolve_device

    device = resolve_device("auto")                       # CUDA when torch sees a GPU, else CPU
    reid = load_reid("runs/best.safetensors", backend="onnx", device=device)
    reid.model, reid.name                                 # a backend (or the model), what runs

``--reid`` values (:func:`load_reid_model`):

- ``none``: no appearance model (``None``);
- ``clip``: pretrained CLIP ViT-B/16 (open_clip's ``openai`` weights, downloaded once by
  :mod:`cgclip.model.pretrained`) with mean pooling over the CLS tokens in place of the
  untrained TFE; ``clip:PATH`` reads those weights from a local file instead;
- anything else: a cgclip checkpoint (``.safetensors`` + ``.json`` sidecar), read by
  :func:`cgclip.load_model`, whose sidecar reader does every format check.

Every failure is a one-line :class:`~cgclip.errors.UserError` that starts with the option and says
what the option accepts. The tracker (``tracker.embedding``) and the demo call this module; it
calls the model package, never the other way round.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cgclip.errors import UserError

log = logging.getLogger(__name__)

NONE = "none"
CLIP = "clip"
CLIP_PREFIX = "clip:"
CLIP_ARCH, CLIP_TAG = "ViT-B-16", "openai"
CLIP_WEIGHTS_FILE = "open_clip_pytorch_model.bin"
# What --reid clip builds (DESIGN 4): TFE would be untrained, so mean pooling over CLS tokens.
CLIP_OVERRIDES = {"pooling": "mean", "tfe_keys": "cls"}


def device_line(requested: str, device: str | torch.device) -> str:
    """What the commands print about the device: ``device: cuda:0 (auto)``."""
    return f"device: {device}" + (" (auto)" if requested == "auto" else "")


def resolve_device(
    device: str | torch.device | None = "auto", *, local_rank: int = 0, option: str = "--device"
) -> torch.device:
    """The ``torch.device`` for ``auto`` (CUDA when torch sees a GPU, else the CPU), ``cpu``,
    ``cuda``, ``cuda:N`` or ``mps``, checked to be usable here (one-line :class:`UserError`
    naming ``option`` otherwise). A bare ``cuda`` is this process's GPU, ``local_rank`` (torchrun).
    """
    if device is None or str(device).strip().lower() == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UserError(
            f"{option} {device!r} is not a torch device; use auto, cpu, cuda or cuda:N"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(
                f"{option} {device}: CUDA is not available on this machine (torch "
                f"{torch.__version__}); use {option} cpu"
            )
        if dev.index is None:
            dev = torch.device("cuda", local_rank)
        if dev.index >= torch.cuda.device_count():
            raise UserError(
                f"{option} {device}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"{option} {device}: MPS is not available; use {option} cpu")
    log.debug("device %s resolved to %s", device, dev)
    return dev


def is_none(reid: str | None) -> bool:
    return reid is None or str(reid).strip().lower() == NONE


def is_clip(reid: str | None) -> bool:
    """``clip`` or ``clip:PATH`` (pretrained CLIP, not a cgclip checkpoint)."""
    value = "" if reid is None else str(reid).strip().lower()
    return value == CLIP or value.startswith(CLIP_PREFIX)


def load_reid_model(
    reid: str | None,
    *,
    device: str | torch.device | None = "cpu",
    option: str = "--reid",
    clip_hint: str | None = None,
) -> Any | None:
    """The CG-CLIP model for ``reid`` (see the module doc) on ``device``, in eval mode; ``None``
    for ``none``. ``clip_hint`` replaces what the offline ``clip`` error says to do (it may name
    ``{file}``, the weights file to fetch)."""
    if is_none(reid):
        return None
    reid = str(reid).strip()
    dev = resolve_device(device)
    if reid.lower() == CLIP:
        return _clip_model(_download_clip_weights(option, clip_hint), dev)
    if reid.lower().startswith(CLIP_PREFIX):
        path = Path(reid[len(CLIP_PREFIX) :]).expanduser()
        if not path.is_file():
            raise UserError(
                f"{option} {reid}: no such file; give the path of open_clip's {CLIP_ARCH} "
                f"'{CLIP_TAG}' weights ({CLIP_WEIGHTS_FILE}), or use {option} clip (download), a "
                f"cgclip checkpoint, or {option} none"
            )
        try:
            return _clip_model(path, dev)
        except UserError as err:
            raise UserError(f"{option} {reid}: {err}") from None
    return _checkpoint(Path(reid), dev, option)


def reid_name(reid: str | None, model: Any) -> str:
    """What ``reid`` runs, for logs and the tracker's JSON: ``none``, ``clip:...``, ``cgclip:...``."""
    if is_none(reid) or model is None:
        return NONE
    reid = str(reid).strip()
    if reid.lower() == CLIP:
        return f"clip:{CLIP_ARCH}/{CLIP_TAG} (mean pooling)"
    if reid.lower().startswith(CLIP_PREFIX):
        return f"clip:{reid[len(CLIP_PREFIX) :]} (mean pooling)"
    return f"cgclip:{model.name} ({reid})"


@dataclass(frozen=True)
class LoadedReid:
    """What :func:`load_reid` built: ``model`` is the CG-CLIP model itself (eager fp32) or a
    :mod:`cgclip.runtime` backend running its image encoder; ``name`` says which."""

    model: Any
    name: str
    device: torch.device


def load_reid(
    reid: str | None,
    *,
    backend: str = "eager",
    precision: str | None = None,
    device: str | torch.device | None = "auto",
    cache_dir: str | Path | None = None,
    fallback: str | None = None,
    option: str = "--reid",
    **options: Any,
) -> LoadedReid | None:
    """``reid`` (see the module doc) loaded for inference; ``None`` for ``none``.

    Eager fp32 is the model itself; any other ``backend``/``precision`` wraps it with
    :func:`cgclip.runtime.make_backend`. A checkpoint's ONNX/TensorRT artefacts live beside it
    (where ``python -m cgclip.export`` puts them) unless ``cache_dir`` says otherwise.
    """
    dev = resolve_device(device)
    model = load_reid_model(reid, device=dev, option=option)
    if model is None:
        return None
    name = reid_name(reid, model)
    if backend != "eager" or precision not in (None, "fp32"):
        model = _make_backend(
            model, reid, backend, precision=precision, device=dev, cache_dir=cache_dir,
            fallback=fallback, **options,
        )  # fmt: skip
        name += f", {model.describe()}"
    return LoadedReid(model=model, name=name, device=dev)


def load_backend(
    reid: str | Path | None,
    kind: str = "eager",
    *,
    precision: str | None = None,
    device: str | torch.device | None = None,
    cache_dir: str | Path | None = None,
    fallback: str | None = None,
    option: str = "--checkpoint",
    **options: Any,
) -> Any | None:
    """``reid`` (a checkpoint path, ``clip``, ``clip:PATH``; ``none`` gives ``None``) wrapped in
    backend ``kind`` (always a backend, eager included). The model loads on the CPU and the
    backend moves it (``device`` None: the CPU, CUDA for tensorrt). Artefacts as in
    :func:`load_reid`; errors start with ``option``."""
    model = load_reid_model(None if reid is None else str(reid), device="cpu", option=option)
    if model is None:
        return None
    return _make_backend(
        model, str(reid), kind, precision=precision, device=device, cache_dir=cache_dir,
        fallback=fallback, **options,
    )  # fmt: skip


def _make_backend(
    model: Any, reid: str, kind: str, *, cache_dir: str | Path | None, **kwargs: Any
) -> Any:
    from cgclip.runtime import make_backend

    artefacts: dict[str, Any] = {"cache_dir": cache_dir}
    if not is_clip(reid):  # a checkpoint: artefacts beside it
        path = Path(reid)
        artefacts = {
            "cache_dir": cache_dir if cache_dir is not None else path.resolve().parent,
            "prefix": path.stem,
        }
    return make_backend(model, kind, **artefacts, **kwargs)


def _clip_model(weights: Path, device: torch.device) -> Any:
    """Pretrained CLIP ViT-B/16 as a CG-CLIP model with mean pooling (TFE would be untrained)."""
    import cgclip
    from cgclip.model.pretrained import pretrained_tag_config

    # The OpenAI weights were trained with QuickGELU; a file path carries no tag to say so.
    quick_gelu = bool((pretrained_tag_config(CLIP_ARCH, CLIP_TAG) or {}).get("quick_gelu", False))
    return cgclip.create_model(
        CLIP_ARCH, pretrained=str(weights), quick_gelu=quick_gelu, device=device, **CLIP_OVERRIDES
    )


def _download_clip_weights(option: str, hint: str | None) -> Path:
    """The ``openai`` weights file, through :mod:`cgclip.model.pretrained` (once, into the cache)."""
    from cgclip.model.pretrained import resolve_pretrained

    hint = hint or (
        f"download {{source}} where there is internet and pass {option} clip:/path/to/{{file}}, "
        f"or use {option} model.safetensors (a cgclip checkpoint) or {option} none (motion only)"
    )
    try:
        return resolve_pretrained(CLIP_ARCH, CLIP_TAG, how_to_provide=hint)
    except UserError as err:
        raise UserError(f"{option} clip: {err}") from None


def _checkpoint(path: Path, device: torch.device, option: str) -> Any:
    """``cgclip.load_model(path)`` with errors that say what ``option`` accepts."""
    import cgclip

    if not path.exists():
        raise UserError(
            f"{option} {path}: no such file (checkpoint not found); use 'clip', 'none' or a "
            "cgclip checkpoint"
        )
    try:
        return cgclip.load_model(path, device=device)
    except UserError as err:
        raise UserError(f"{option} {path}: {err}") from None
