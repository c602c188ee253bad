"""``create_model``: one factory for every named variant, with optional pretrained CLIP weights."""

from __future__ import annotations

from typing import Any

import torch

from cgclip.model.backbone import build_open_clip
from cgclip.model.cgclip import CGCLIP
from cgclip.model.config import get_model_config
from cgclip.model.pretrained import load_pretrained_into, pretrained_tag_config, resolve_pretrained


def create_model(
    name: str,
    pretrained: str | None = None,
    *,
    device: str | torch.device = "cpu",
    cache_dir: str | None = None,
    **overrides: Any,
) -> CGCLIP:
    """Build CG-CLIP variant ``name`` (see :func:`cgclip.list_models`), in eval mode.

    pretrained: an open_clip tag of the variant's CLIP (``"openai"`` for ``ViT-B-16``, downloaded
    once into the Hugging Face cache or ``cache_dir``), a path to an open_clip state dict, or None
    for random init. Only the CLIP towers load pretrained weights; TFE, CMR and heads start fresh.
    overrides: :class:`~cgclip.model.config.ModelConfig` fields, e.g. ``pooling="mean"``,
    ``tfe_keys="cls"``, ``num_classes=625``, ``vision={"image_size": (128, 64)}``.
    """
    if pretrained and "quick_gelu" not in overrides:
        tag_cfg = pretrained_tag_config(name, pretrained)
        if tag_cfg is not None:  # OpenAI weights were trained with QuickGELU, LAION ones not
            overrides["quick_gelu"] = bool(tag_cfg.get("quick_gelu", False))
    config = get_model_config(name, **overrides)
    weights = resolve_pretrained(name, pretrained, cache_dir=cache_dir) if pretrained else None
    clip = build_open_clip(config)
    if weights is not None:
        load_pretrained_into(clip, weights)
    model = CGCLIP(config, clip, name=name)
    model.pretrained = pretrained
    return model.to(device).eval()
