"""Losses against values derived by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from cgclip.model.cgclip import ReidOutput
from cgclip.train.config import LossSection
from cgclip.train.losses import CGCLIPLoss, batch_hard_triplet


def test_batch_hard_triplet_by_hand():
    # 1-D features: ids A at 0 and 1, B at 3 and 7.
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    y = torch.tensor([0, 0, 1, 1])
    # anchor 0: d+ = 1, d- = 3 -> relu(1 - 3 + .3) = 0
    # anchor 1: d+ = 1, d- = 2 -> 0
    # anchor 3: d+ = 4, d- = 2 -> 2.3 ; anchor 7: d+ = 4, d- = 6 -> 0
    assert batch_hard_triplet(x, y, margin=0.3).item() == pytest.approx(2.3 / 4)


def test_triplet_skips_anchors_without_positive():
    x = torch.tensor([[0.0], [1.0], [5.0]])
    y = torch.tensor([0, 0, 1])  # anchor 5 has no positive
    # anchors 0 and 1: d+ = 1, d- = 5 and 4 -> 0
    assert batch_hard_triplet(x, y, margin=0.3).item() == pytest.approx(0.0)
    assert batch_hard_triplet(x[:1], y[:1], 0.3).item() == 0.0


def test_label_smoothed_ce_matches_the_reid_formula():
    logits = torch.tensor([[2.0, 0.5, -1.0]])
    target = torch.tensor([0])
    eps, k = 0.1, 3
    q = torch.full((3,), eps / k)
    q[0] += 1 - eps
    manual = -(q * F.log_softmax(logits, 1)[0]).sum()
    torch.testing.assert_close(F.cross_entropy(logits, target, label_smoothing=eps), manual)


def test_total_loss_is_the_weighted_sum_of_its_parts():
    torch.manual_seed(0)
    labels = torch.tensor([0, 0, 1, 1])
    out = ReidOutput(
        f=torch.randn(4, 6),
        v=torch.randn(4, 3),
        s=torch.randn(4, 6),
        frame_attention=None,
        logits={p: torch.randn(4, 2) for p in "fvs"},
        v2rm_logits=torch.randn(4, 2),
    )
    cfg = LossSection()
    total, parts = CGCLIPLoss(cfg)(out, labels)
    ce = sum(F.cross_entropy(out.logits[p], labels, label_smoothing=0.1) for p in "fvs")
    tri = sum(batch_hard_triplet(getattr(out, p), labels, 0.3) for p in "fvs")
    v2rm = F.cross_entropy(out.v2rm_logits, labels, label_smoothing=0.1)
    assert parts["ce"] == pytest.approx(float(ce), rel=1e-5)
    assert parts["triplet"] == pytest.approx(float(tri), rel=1e-5)
    assert total.item() == pytest.approx(float(0.25 * ce + tri + v2rm), rel=1e-5)
    assert math.isfinite(total.item())
