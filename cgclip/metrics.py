"""Re-identification metrics: distance matrix, CMC (Rank-k) and mAP.

Protocol (MARS, and MOT-derived sets through ``ReidDataset.ignore_mask()``): for each query, the
gallery items in its ignore mask are removed before ranking; by default those are the gallery
tracklets of the same identity seen by the same camera, and junk (pid -1). Distractors (pid 0) stay
as negatives. A query whose every match was removed has no valid answer and is skipped, as in the
standard MARS evaluation code; ``num_valid`` counts the queries that were scored.

Ranking is by ascending distance; ties are broken by gallery order (stable sort).
AP of a query = mean over its matches of precision at the rank of that match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cgclip.errors import UserError

JUNK_PID = -1
RANKS = (1, 5, 10, 20)


@dataclass
class RankMetrics:
    mAP: float
    cmc: np.ndarray  # (max_rank,) fraction of valid queries with a match within the top k
    num_valid: int
    num_query: int

    def rank(self, k: int) -> float:
        return float(self.cmc[k - 1])

    def to_dict(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {"mAP": float(self.mAP)}
        out.update({f"R{k}": self.rank(k) for k in RANKS if k <= len(self.cmc)})
        out["num_valid_queries"] = self.num_valid
        out["num_queries"] = self.num_query
        return out

    def __str__(self) -> str:
        ranks = " ".join(f"R{k} {100 * self.rank(k):.1f}" for k in RANKS if k <= len(self.cmc))
        return f"mAP {100 * self.mAP:.1f} | {ranks} | {self.num_valid}/{self.num_query} queries"


def distance_matrix(
    query: torch.Tensor, gallery: torch.Tensor, metric: str = "euclidean"
) -> np.ndarray:
    """query (Q, E), gallery (G, E) -> (Q, G) float64 distances ("euclidean" or "cosine")."""
    q = query.detach().double().cpu()
    g = gallery.detach().double().cpu()
    if metric == "euclidean":
        d = (q * q).sum(1, keepdim=True) + (g * g).sum(1)[None] - 2.0 * q @ g.T
        return d.clamp_(min=0).sqrt_().numpy()
    if metric == "cosine":
        q = torch.nn.functional.normalize(q, dim=1)
        g = torch.nn.functional.normalize(g, dim=1)
        return (1.0 - q @ g.T).numpy()
    raise UserError(f"metric={metric!r} is not one of ['euclidean', 'cosine']")


def default_ignore_mask(
    q_pids: Sequence[int], g_pids: Sequence[int], q_camids: Sequence[int], g_camids: Sequence[int]
) -> np.ndarray:
    """(Q, G) bool: same identity and same camera, or junk gallery items."""
    qp, gp = np.asarray(q_pids)[:, None], np.asarray(g_pids)[None, :]
    qc, gc = np.asarray(q_camids)[:, None], np.asarray(g_camids)[None, :]
    return ((qp == gp) & (qc == gc)) | (gp == JUNK_PID)


def evaluate_rank(
    distmat: np.ndarray,
    q_pids: Sequence[int],
    g_pids: Sequence[int],
    q_camids: Sequence[int] | None = None,
    g_camids: Sequence[int] | None = None,
    ignore: np.ndarray | None = None,
    max_rank: int = 20,
) -> RankMetrics:
    """CMC and mAP for a (Q, G) distance matrix.

    ``ignore`` (Q, G) bool marks gallery items that count neither as match nor non-match for a
    query; when None it is :func:`default_ignore_mask` (needs the camera ids).
    """
    distmat = np.asarray(distmat, dtype=np.float64)
    q_pids, g_pids = np.asarray(q_pids), np.asarray(g_pids)
    nq, ng = distmat.shape
    if len(q_pids) != nq or len(g_pids) != ng:
        raise ValueError(
            f"distmat {distmat.shape} vs {len(q_pids)} query / {len(g_pids)} gallery ids"
        )
    if ignore is None:
        if q_camids is None or g_camids is None:
            raise ValueError("camera ids are needed when no ignore mask is given")
        ignore = default_ignore_mask(q_pids, g_pids, q_camids, g_camids)
    ignore = np.asarray(ignore, dtype=bool)
    if ignore.shape != (nq, ng):
        raise ValueError(f"ignore mask {ignore.shape} does not match distmat {distmat.shape}")

    order = np.argsort(distmat, axis=1, kind="stable")
    cmcs, aps = [], []
    for i in range(nq):
        keep = ~ignore[i, order[i]]
        matches = (g_pids[order[i]] == q_pids[i])[keep]
        if not matches.any():
            continue  # every true match was removed: the query cannot be answered
        first = int(np.argmax(matches))
        cmc = np.ones(max_rank)
        cmc[:first] = 0.0
        cmcs.append(cmc)
        hits = np.cumsum(matches)
        ranks = np.flatnonzero(matches) + 1
        aps.append(float(np.mean(hits[ranks - 1] / ranks)))
    if not aps:
        raise UserError(
            "no query has a valid match in the gallery after removing same-identity same-camera "
            "and junk items; check the query/gallery split"
        )
    return RankMetrics(
        mAP=float(np.mean(aps)), cmc=np.mean(cmcs, axis=0), num_valid=len(aps), num_query=nq
    )


def mean_metrics(results: Sequence[RankMetrics]) -> RankMetrics:
    """Average of several splits' metrics (iLIDS-VID reports the mean over its 10 splits)."""
    if not results:
        raise ValueError("no results to average")
    return RankMetrics(
        mAP=float(np.mean([r.mAP for r in results])),
        cmc=np.mean([r.cmc for r in results], axis=0),
        num_valid=sum(r.num_valid for r in results),
        num_query=sum(r.num_query for r in results),
    )
