"""CG-CLIP training losses.

    L = ce_weight * sum_p CE_ls(logits_p)  +  triplet_weight * sum_p Triplet(feature_p)
        + v2rm_weight * CE_ls(v2rm_logits)

over the parts p in {f, v, s}: label-smoothed cross-entropy (eps 0.1) on the BNNeck classifiers,
batch-hard triplet (margin 0.3, Euclidean, on the pre-BN features), and the CMR video-to-refined-
memory loss. Defaults are Table S.7's (0.25 / 1.0 / 1.0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cgclip.model.cgclip import ReidOutput
from cgclip.train.config import LossSection


def batch_hard_triplet(features: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """features (B, D), labels (B,) -> mean over anchors of relu(d(a, p+) - d(a, n-) + margin).

    d is the Euclidean distance; p+ the farthest same-label sample, n- the nearest other-label one.
    Anchors with no positive or no negative in the batch are skipped.
    """
    x = features.float()
    dist = torch.cdist(x, x).clamp(min=1e-12)  # (B, B)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos = same & ~eye
    neg = ~same
    valid = pos.any(1) & neg.any(1)
    if not valid.any():
        return features.sum() * 0.0
    hardest_pos = dist.masked_fill(~pos, float("-inf")).amax(1)
    hardest_neg = dist.masked_fill(~neg, float("inf")).amin(1)
    return F.relu(hardest_pos - hardest_neg + margin)[valid].mean()


class CGCLIPLoss:
    def __init__(self, cfg: LossSection) -> None:
        self.cfg = cfg

    def __call__(
        self, out: ReidOutput, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss and its parts (as floats, for logging)."""
        c = self.cfg
        parts: dict[str, torch.Tensor] = {}
        if out.logits:
            parts["ce"] = sum(
                F.cross_entropy(out.logits[p].float(), labels, label_smoothing=c.label_smoothing)
                for p in c.parts
            )
        parts["triplet"] = sum(
            batch_hard_triplet(getattr(out, p), labels, c.triplet_margin) for p in c.parts
        )
        if out.v2rm_logits is not None:
            parts["v2rm"] = F.cross_entropy(
                out.v2rm_logits.float(), labels, label_smoothing=c.label_smoothing
            )
        weights = {"ce": c.ce_weight, "triplet": c.triplet_weight, "v2rm": c.v2rm_weight}
        total = sum(weights[k] * v for k, v in parts.items())
        return total, {k: float(v.detach()) for k, v in parts.items()}
