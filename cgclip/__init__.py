"""cgclip: CG-CLIP video person re-identification for tracking sports and dance video.

The model API is imported lazily so that ``import cgclip.errors`` (every CLI) stays light:

    import cgclip
    model = cgclip.create_model("ViT-B-16", pretrained="openai")
    model = cgclip.load_model("best.safetensors", device="cuda")
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "create_model": "cgclip.model",
    "load_model": "cgclip.model",
    "list_models": "cgclip.model",
    "crop_boxes": "cgclip.model",
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
