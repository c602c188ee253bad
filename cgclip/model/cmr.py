"""Caption-guided Memory Refinement (CMR), used in training only.

Text memory M (K, E): one L2-normalised vector per training identity, the mean frozen-CLIP text
feature of its captions (built by the trainer). For each tracklet b, a fusion encoder refines the
memory with the tracklet's image tokens V_b (projected to E):

    R_b = M + Fusion(M, V_b)                      (B, K, E)
    L_v2rm = CE_ls( <v_b, R_b,k> / tau )          cosine logits over the K identities

Fusion is Table S.3 (c): per block, cross-attention (queries = memory, keys/values = V_b), then
self-attention over the memory, then an FFN; 2 blocks (Table S.4). Its output projection starts at
zero, so R_b = M at initialisation and training starts from the text memory itself.

The memory is updated after each step (``memory_update``): ``none``; ``refined`` (the refined
memory slot of the sample's own identity); ``video`` (the sample's video feature v_b):
m_y <- normalize((1 - mu) m_y + mu * mean(detached new features of y in the batch)).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from cgclip.model.layers import Attention, Mlp


class FusionBlock(nn.Module):
    """Cross-attention (memory -> image tokens), self-attention (memory), FFN; pre-LN residuals."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.ln_cross = nn.LayerNorm(dim)
        self.ln_kv = nn.LayerNorm(dim)
        self.cross = Attention(dim, heads)
        self.ln_self = nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads)
        self.ln_mlp = nn.LayerNorm(dim)
        self.mlp = Mlp(dim)

    def forward(
        self, m: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """m (B, K, E) memory queries, v (B, N, E) image tokens (mask (B, N)) -> (B, K, E)."""
        m = m + self.cross(self.ln_cross(m), self.ln_kv(v), key_mask)[0]
        h = self.ln_self(m)
        m = m + self.self_attn(h, h)[0]
        return m + self.mlp(self.ln_mlp(m))


class CaptionMemoryRefinement(nn.Module):
    def __init__(
        self,
        num_classes: int,
        dim: int,
        heads: int,
        blocks: int = 2,
        temperature: float = 0.07,
        memory_update: str = "video",
        momentum: float = 0.2,
    ) -> None:
        super().__init__()
        self.temperature = temperature
        self.memory_update = memory_update
        self.momentum = momentum
        self.blocks = nn.ModuleList(FusionBlock(dim, heads) for _ in range(blocks))
        self.ln_out = nn.LayerNorm(dim)
        self.proj_out = nn.Linear(dim, dim)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)
        # Saved with checkpoints so a resumed run keeps the momentum-updated memory.
        self.register_buffer("memory", torch.zeros(num_classes, dim))
        self.register_buffer("memory_ready", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def set_memory(self, memory: torch.Tensor) -> None:
        """memory (K, E): the text memory (normalised here)."""
        if memory.shape != self.memory.shape:
            raise ValueError(f"memory shape {tuple(memory.shape)} != {tuple(self.memory.shape)}")
        self.memory.copy_(F.normalize(memory.float(), dim=-1))
        self.memory_ready.fill_(True)

    def refine(
        self, image_tokens: torch.Tensor, key_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """image_tokens (B, N, E), key_mask (B, N) -> refined memory R (B, K, E) = M + Fusion(M, V)."""
        if not bool(self.memory_ready):
            raise RuntimeError("CMR text memory is not set; call set_memory() before training")
        b = image_tokens.shape[0]
        m0 = self.memory.to(image_tokens.dtype).expand(b, -1, -1)
        m = m0
        for block in self.blocks:
            m = block(m, image_tokens, key_mask)
        return m0 + self.proj_out(self.ln_out(m))

    def logits(self, video: torch.Tensor, refined: torch.Tensor) -> torch.Tensor:
        """video (B, E), refined (B, K, E) -> cosine logits / tau (B, K)."""
        v = F.normalize(video, dim=-1)
        r = F.normalize(refined, dim=-1)
        return torch.einsum("be,bke->bk", v, r) / self.temperature

    @torch.no_grad()
    def update_memory(
        self, labels: torch.Tensor, video: torch.Tensor, refined: torch.Tensor
    ) -> None:
        """Momentum update of the memory rows of the identities in the batch.

        labels (B,), video (B, E), refined (B, K, E). Under DDP the per-identity sums and counts are
        all-reduced, so every rank applies the same update and memories stay identical.
        """
        if self.memory_update == "none":
            return
        if self.memory_update == "refined":
            new = refined[torch.arange(labels.shape[0], device=labels.device), labels]
        else:
            new = video
        new = F.normalize(new.detach().float(), dim=-1)
        sums = torch.zeros_like(self.memory).index_add_(0, labels, new)
        counts = torch.zeros(self.memory.shape[0], device=labels.device).index_add_(
            0, labels, torch.ones_like(labels, dtype=torch.float)
        )
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(sums)
            dist.all_reduce(counts)
        seen = counts > 0
        mean = sums[seen] / counts[seen, None]
        mu = self.momentum
        self.memory[seen] = F.normalize((1 - mu) * self.memory[seen] + mu * mean, dim=-1)
