"""Parity of a backend against the eager fp32 model, with stated tolerances.

Two numbers per check, on the same crops:

- token error: ``max |tokens_backend - tokens_eager| / max |tokens_eager|`` over all frame tokens
  (relative to the token scale, so one tolerance fits every model size);
- embedding cosine: the minimum cosine similarity between the tracklet embeddings that eager fp32
  TFE computes from the backend's tokens and from the eager tokens, over every crop as a
  one-frame tracklet (what the tracker embeds per detection) and over windows of ``clip_len``
  consecutive crops (its rolling tracklets).

Tolerances (:data:`TOLERANCES`), chosen from measurements on random-init test-tiny, cpu-small and
ViT-B-16 (docs/acceleration.md): fp32 backends must agree with eager to token error < 1e-4 and
cosine > 0.99999 (different kernels, same arithmetic); bf16 / fp16 must keep cosine > 0.999, with
token error < 5e-2 (bf16, 8-bit mantissa) / 1e-2 (fp16, 11-bit mantissa). Measured bf16 on CPU:
token error 0.9-1.9 %, cosine >= 0.99996.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Tolerance:
    token_rel: float  # max |error| / max |reference token|
    cosine: float  # minimum tracklet-embedding cosine


TOLERANCES = {
    "fp32": Tolerance(token_rel=1e-4, cosine=0.99999),
    "bf16": Tolerance(token_rel=5e-2, cosine=0.999),
    "fp16": Tolerance(token_rel=1e-2, cosine=0.999),
}


@dataclass(frozen=True)
class ParityReport:
    backend: str  # the backend's describe()
    precision: str
    crops: int
    max_abs_error: float  # max |tokens - eager tokens|
    token_rel_error: float  # max_abs_error / max |eager tokens|
    min_cosine: float  # over every compared tracklet embedding
    mean_cosine: float
    tolerance: Tolerance

    @property
    def passed(self) -> bool:
        return (
            self.token_rel_error < self.tolerance.token_rel
            and self.min_cosine > self.tolerance.cosine
        )

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"parity {verdict} [{self.backend}] on {self.crops} crops: max abs token error "
            f"{self.max_abs_error:.3g} (relative {self.token_rel_error:.3g}, tolerance "
            f"{self.tolerance.token_rel:g}); embedding cosine min {self.min_cosine:.6f} / mean "
            f"{self.mean_cosine:.6f} (tolerance > {self.tolerance.cosine:g})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def random_crops(preprocess: Any, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` reproducible (n, 3, H, W) crops in the normalised input range (smooth colour blobs
    plus noise, closer to image statistics than white noise)."""
    h, w = preprocess.size
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, max(2, h // 16), max(2, w // 16), generator=g)
    x = F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    x = (x + 0.05 * torch.randn(n, 3, h, w, generator=g)).clamp(0, 1)
    mean = torch.tensor(preprocess.mean).view(1, 3, 1, 1)
    std = torch.tensor(preprocess.std).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.inference_mode()
def check_parity(
    backend: Any,
    model: Any | None = None,
    crops: torch.Tensor | None = None,
    *,
    n: int = 8,
    tolerance: Tolerance | None = None,
    seed: int = 0,
) -> ParityReport:
    """Compare ``backend`` with eager fp32 ``model`` (default: the backend's own model) on
    ``crops`` (default: ``n`` :func:`random_crops`). Returns the numbers; ``report.passed`` says
    whether they are within ``tolerance`` (default: :data:`TOLERANCES` of the precision)."""
    model = model if model is not None else backend.model
    if crops is None:
        crops = random_crops(model.preprocess, n, seed)
    tolerance = tolerance or TOLERANCES[backend.precision]
    ref = model.encode_frames(crops.to(model.device)).float()  # (N, L, D)
    got = backend.encode_frames(crops).float().to(ref.device)
    if got.shape != ref.shape:
        raise ValueError(f"backend tokens {tuple(got.shape)} != eager {tuple(ref.shape)}")
    max_abs = (got - ref).abs().max().item()
    scale = ref.abs().max().item() or 1.0
    cosines = [_cosine(model, got[:, None], ref[:, None])]  # one-frame tracklets
    t = min(len(ref), model.preprocess.clip_len)
    if t >= 2:
        b = len(ref) // t
        windows = (x[: b * t].view(b, t, *x.shape[1:]) for x in (got, ref))
        cosines.append(_cosine(model, *windows))
    cos = torch.cat(cosines)
    return ParityReport(
        backend=backend.describe(),
        precision=backend.precision,
        crops=len(crops),
        max_abs_error=max_abs,
        token_rel_error=max_abs / scale,
        min_cosine=cos.min().item(),
        mean_cosine=cos.mean().item(),
        tolerance=tolerance,
    )


def _cosine(model: Any, got: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """(B, T, L, D) token sets -> (B,) cosine between their eager-TFE tracklet embeddings."""
    return F.cosine_similarity(model.encode_tracklet(got), model.encode_tracklet(ref), dim=1)
