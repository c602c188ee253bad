"""cgclip: CG-CLIP video person re-identification for tracking sports and dance video.

The model API is imported lazily so that ``import cgclip.errors`` (every CLI) stays light:

    import cgclip
    model = cgclip.create_model("ViT-B-16", pretrained="openai")
    model = cgclip.load_model("best.safetensors", device="cuda")
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _started_as_cli() -> bool:
    # While ``python -m pkg.mod`` imports the packages around the module, sys.argv[0] is "-m";
    # while it runs the module itself, sys.argv[0] is that module's file, in one of our packages.
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 == "-m" or os.path.basename(argv0).startswith("cgclip-"):
        return True
    root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    main = os.path.realpath(argv0) if argv0 else ""
    return any(main.startswith(os.path.join(root, p, "")) for p in ("cgclip", "tracker", "demo"))


def _quiet_startup_interrupt() -> None:
    """A Ctrl-C before a CLI's ``main`` runs (imports) prints ``interrupted``, not a 30-line
    traceback (see :mod:`cgclip.errors`). Installed here, before any slow import."""
    previous = sys.excepthook

    def hook(exc_type, exc, tb) -> None:  # noqa: ANN001 (sys.excepthook signature)
        if issubclass(exc_type, KeyboardInterrupt):
            print("interrupted", file=sys.stderr)
            return
        previous(exc_type, exc, tb)

    hook.cgclip = True  # type: ignore[attr-defined]
    if not getattr(previous, "cgclip", False):
        sys.excepthook = hook


if _started_as_cli():
    _quiet_startup_interrupt()

_LAZY = {
    "create_model": "cgclip.model",
    "load_model": "cgclip.model",
    "list_models": "cgclip.model",
    "crop_boxes": "cgclip.model",
    "crop_on_device": "cgclip.model",
    "crop_pixels": "cgclip.model",
    "save_checkpoint": "cgclip.model",
    "CGCLIP": "cgclip.model",
    "ModelConfig": "cgclip.model",
    "Preprocess": "cgclip.model",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cgclip' has no attribute {name!r}")
