"""BNNeck identity heads (reid-strong-baseline / TF-CLIP).

A BatchNorm1d whose bias is frozen at zero, then a bias-free linear ID classifier. The triplet loss
and the test feature use the features *before* the BN; the classifier sees them after it.
"""

from __future__ import annotations

import torch
from torch import nn


class BNNeck(nn.Module):
    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)
        nn.init.ones_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)
        self.bn.bias.requires_grad_(False)
        self.classifier = nn.Linear(dim, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        """feature (B, dim) -> logits (B, num_classes)."""
        return self.classifier(self.bn(feature))
