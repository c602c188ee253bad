"""Adam with weight decay on weight matrices only, and the warmup + step learning-rate schedule."""

from __future__ import annotations

import torch
from torch import nn

from cgclip.train.config import OptimSection


def build_optimizer(model: nn.Module, cfg: OptimSection) -> torch.optim.Adam:
    """Adam over trainable parameters: weight decay on >= 2-D weights; none on biases, norms,
    embeddings tables of one vector (class token) and the learnable queries' 1-D parts."""
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (decay if param.ndim >= 2 else no_decay).append(param)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.Adam(groups, lr=lr_at_epoch(0, cfg))


def lr_at_epoch(epoch: int, cfg: OptimSection) -> float:
    """Learning rate for 0-based ``epoch``.

    Linear warmup from ``warmup_lr`` to ``lr`` over the first ``warmup_epochs`` epochs, then ``lr``
    times ``gamma`` for every milestone passed (Table S.7: x0.1 at epochs 30 and 50, and 70 for
    MARS; milestones count 0-based epochs, so 30 means "from the 31st epoch on").
    """
    if epoch < cfg.warmup_epochs:
        alpha = epoch / cfg.warmup_epochs
        return cfg.warmup_lr + alpha * (cfg.lr - cfg.warmup_lr)
    return cfg.lr * cfg.gamma ** sum(epoch >= m for m in cfg.milestones)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
