"""Token-based Feature Extraction (TFE): learnable queries pool a tracklet's frame tokens.

N_Q learnable query tokens cross-attend (pre-LN, residual, FFN) over the tokens of all T frames:
all T*(P+1) tokens, or only the T CLS tokens (``keys="cls"``). The cost is N_Q x T x L, linear in
T, and any T >= 1 works (one crop is a tracklet of length 1). Frames can be padded and masked out,
so tracks with windows of different lengths batch together. The attention each query pays to each
frame (summed over that frame's tokens) is returned as the per-frame readout of Fig. S.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cgclip.model.layers import Attention, Mlp


@dataclass
class TFEOutput:
    feature: torch.Tensor  # (B, D) the tracklet feature s
    tokens: torch.Tensor  # (B, N_Q, D) the refined query tokens
    frame_attention: torch.Tensor | None  # (B, N_Q, T) attention mass per frame (sums to 1 over T)


class TFEBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.ln_q = nn.LayerNorm(dim)
        self.ln_kv = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ln_mlp = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, mlp_ratio)

    def forward(
        self, q: torch.Tensor, kv: torch.Tensor, key_mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        delta, weights = self.attn(self.ln_q(q), self.ln_kv(kv), key_mask, need_weights)
        q = q + delta
        q = q + self.mlp(self.ln_mlp(q))
        return q, weights


class TokenFeatureExtractor(nn.Module):
    """Pool (B, T, L, D) frame tokens into a (B, D) tracklet feature with N_Q learnable queries."""

    def __init__(
        self, dim: int, num_queries: int, heads: int, blocks: int = 1, keys: str = "all"
    ) -> None:
        super().__init__()
        self.keys = keys
        self.queries = nn.Parameter(torch.randn(num_queries, dim) * dim**-0.5)
        self.blocks = nn.ModuleList(TFEBlock(dim, heads) for _ in range(blocks))
        self.ln_out = nn.LayerNorm(dim)

    def forward(
        self,
        tokens: torch.Tensor,
        frame_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> TFEOutput:
        """tokens (B, T, L, D) with the CLS token at index 0 of L; frame_mask (B, T) True = valid."""
        if self.keys == "cls":
            tokens = tokens[:, :, :1]
        b, t, n, d = tokens.shape
        kv = tokens.reshape(b, t * n, d)
        key_mask = None
        if frame_mask is not None:
            key_mask = frame_mask[:, :, None].expand(b, t, n).reshape(b, t * n)
        q = self.queries.to(kv.dtype).expand(b, -1, -1)
        weights = None
        for i, block in enumerate(self.blocks):
            last = i == len(self.blocks) - 1
            q, weights = block(q, kv, key_mask, need_weights and last)
        q = self.ln_out(q)
        frame_attention = None
        if weights is not None:
            # (B, heads, N_Q, T*L) -> mass per frame, averaged over heads: (B, N_Q, T)
            frame_attention = weights.view(b, -1, weights.shape[2], t, n).sum(-1).mean(1)
        return TFEOutput(feature=q.mean(1), tokens=q, frame_attention=frame_attention)


def mean_pool(
    tokens: torch.Tensor, frame_mask: torch.Tensor | None = None, keys: str = "all"
) -> TFEOutput:
    """The ``pooling="mean"`` stand-in for TFE: the mean of the same keys over valid frames.

    Frame attention is uniform over the valid frames, so callers read it the same way.
    """
    if keys == "cls":
        tokens = tokens[:, :, :1]
    b, t = tokens.shape[:2]
    if frame_mask is None:
        frame_mask = torch.ones(b, t, dtype=torch.bool, device=tokens.device)
    w = frame_mask.to(tokens.dtype) / frame_mask.sum(1, keepdim=True).clamp(min=1).to(tokens.dtype)
    feature = torch.einsum("bt,btd->bd", w, tokens.mean(2))
    return TFEOutput(feature=feature, tokens=feature[:, None], frame_attention=w[:, None])
