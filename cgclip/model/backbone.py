"""The CLIP towers from open_clip: a ViT image encoder that returns every token, and the text encoder.

The towers are built from our :class:`ModelConfig` through ``open_clip.CLIP`` so that the
state-dict layout is open_clip's and any open_clip checkpoint of the same architecture loads into
it (open_clip also interpolates the 14x14 positional table of a 224px checkpoint to our 16x8 grid).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cgclip.model.config import ModelConfig


def build_open_clip(cfg: ModelConfig) -> nn.Module:
    """A randomly initialised ``open_clip.CLIP`` with our tower sizes (nothing is downloaded)."""
    import open_clip

    vision = dict(
        image_size=tuple(cfg.vision.image_size),
        patch_size=cfg.vision.patch_size,
        width=cfg.vision.width,
        layers=cfg.vision.layers,
        head_width=cfg.vision.head_width,
        mlp_ratio=cfg.vision.mlp_ratio,
    )
    text = dict(
        context_length=cfg.text.context_length,
        vocab_size=cfg.text.vocab_size,
        width=cfg.text.width,
        heads=cfg.text.heads,
        layers=cfg.text.layers,
    )
    return open_clip.CLIP(
        embed_dim=cfg.embed_dim, vision_cfg=vision, text_cfg=text, quick_gelu=cfg.quick_gelu
    )


class ImageEncoder(nn.Module):
    """CLIP ViT returning all post-LN tokens and the projected CLS.

    Input (N, 3, H, W) normalised crops; output tokens (N, 1 + P, D) (CLS first) and
    projected CLS (N, E). An optional camera embedding (SIE) is added to the CLS token before the
    transformer, as TF-CLIP/CLIP-ReID do.
    """

    def __init__(self, visual: nn.Module, num_cameras: int = 0, sie_coef: float = 1.0) -> None:
        super().__init__()
        self.visual = visual
        self.sie_coef = sie_coef
        width = visual.class_embedding.shape[0]
        self.camera_embedding = None
        if num_cameras > 0:
            self.camera_embedding = nn.Parameter(torch.zeros(num_cameras, width))
            nn.init.trunc_normal_(self.camera_embedding, std=0.02)

    @property
    def proj(self) -> torch.Tensor:
        """(D, E) the CLIP image projection."""
        return self.visual.proj

    def forward(
        self, x: torch.Tensor, camids: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.visual
        x = v.conv1(x)  # (N, D, gh, gw)
        x = x.flatten(2).transpose(1, 2)  # (N, P, D)
        cls = v.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + v.positional_embedding.to(x.dtype)  # (N, 1+P, D)
        if self.camera_embedding is not None and camids is not None:
            cam = self.sie_coef * self.camera_embedding[camids].to(x.dtype)  # (N, D)
            x = torch.cat([x[:, :1] + cam[:, None], x[:, 1:]], dim=1)
        x = v.ln_pre(v.patch_dropout(x))
        x = v.transformer(x)
        tokens = v.ln_post(x)  # (N, 1+P, D)
        return tokens, tokens[:, 0] @ v.proj

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.visual.set_grad_checkpointing(enable)


@functools.lru_cache(maxsize=4)
def _tokenizer(context_length: int) -> Any:
    # Building the BPE tables takes ~2 s: once per process.
    import open_clip

    return open_clip.SimpleTokenizer(context_length=context_length)


class TextEncoder(nn.Module):
    """The frozen CLIP text tower: list of strings -> (N, E) L2-normalised features.

    Texts longer than the context (77 tokens) are truncated, as CLIP's tokenizer does.
    """

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        self.token_embedding = clip.token_embedding
        self.positional_embedding = clip.positional_embedding
        self.transformer = clip.transformer
        self.ln_final = clip.ln_final
        self.text_projection = clip.text_projection
        self.register_buffer("attn_mask", clip.attn_mask, persistent=False)
        self.context_length = clip.context_length
        self.requires_grad_(False)

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        return _tokenizer(self.context_length)(texts)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (N, context) int64 -> (N, E) L2-normalised.

        The attention is causal and the feature is read at each text's EOT token, so the padding
        after the batch's last EOT cannot change it: it is cut off (a short query runs ~10 of the
        77 positions, several times faster)."""
        n = int(tokens.argmax(dim=-1).max()) + 1 if tokens.numel() else tokens.shape[-1]
        tokens = tokens[:, :n]
        x = self.token_embedding(tokens) + self.positional_embedding[:n]
        x = self.transformer(x, attn_mask=self.attn_mask[:n, :n])
        x = self.ln_final(x)
        x = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]  # EOT token
        x = x @ self.text_projection
        return F.normalize(x, dim=-1)
