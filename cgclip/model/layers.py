"""Attention building blocks shared by TFE and CMR.

Queries attend over keys/values with an optional key mask. The fast path is
``F.scaled_dot_product_attention``; when the caller asks for the attention weights (the TFE's
per-frame readout) they are computed explicitly, with the same result.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head attention from ``q`` (B, Nq, D) to ``kv`` (B, Nk, Dkv); output (B, Nq, D)."""

    def __init__(self, dim: int, heads: int, kv_dim: int | None = None) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        kv_dim = kv_dim or dim
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(kv_dim, dim)
        self.v = nn.Linear(kv_dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(
        self,
        q: torch.Tensor,
        kv: torch.Tensor,
        key_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``key_mask`` (B, Nk) is True for keys to attend to. Weights: (B, heads, Nq, Nk)."""
        b, nq, d = q.shape
        nk = kv.shape[1]
        h = self.heads
        qh = self.q(q).view(b, nq, h, d // h).transpose(1, 2)  # (B, h, Nq, d/h)
        kh = self.k(kv).view(b, nk, h, d // h).transpose(1, 2)  # (B, h, Nk, d/h)
        vh = self.v(kv).view(b, nk, h, d // h).transpose(1, 2)
        mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, Nk)
        if need_weights:
            scores = (qh @ kh.transpose(-2, -1)) * (d // h) ** -0.5  # (B, h, Nq, Nk)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            weights = scores.float().softmax(dim=-1).to(vh.dtype)
            out = weights @ vh
        else:
            weights = None
            out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)
        out = out.transpose(1, 2).reshape(b, nq, d)
        return self.out(out), weights


class Mlp(nn.Sequential):
    def __init__(self, dim: int, ratio: float = 4.0) -> None:
        hidden = int(dim * ratio)
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
