"""One tuning procedure for every tracker we compare: random search, then hill-climbing.

``search`` draws ``trials - 1`` random settings from a discrete space (trial 0 is the tracker's
own starting point: its defaults, or our preset), scores them in one batch, then runs ``refine``
rounds of ``per_round`` proposals, each changing one or two knobs of the best so far. Scoring is
the caller's (``(HOTA + IDF1) / 2`` on the training split in the benchmarks), so ours and the
peers get exactly the same budget and procedure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Scorer = Callable[[list[dict[str, Any]]], list[float]]


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def search(
    score: Scorer,
    space: dict[str, list[Any]],
    *,
    trials: int,
    refine: int,
    seed: int = 0,
    start: dict[str, Any] | None = None,
    per_round: int = 4,
) -> dict[str, Any]:
    """Best setting found; returns ``{"params", "score", "start_score", "trials", "history"}``.

    ``params`` holds only the knobs of ``space`` that differ from ``start``'s implied defaults
    (the full dict that was scored)."""
    rng = np.random.default_rng(seed)
    start = dict(start or {})

    def draw(key: str) -> Any:
        return _plain(space[key][int(rng.integers(len(space[key])))])

    candidates = [start]
    while len(candidates) < max(trials, 1):
        candidates.append({**start, **{k: draw(k) for k in space}})
    history = list(zip(score(candidates), candidates, strict=True))
    best = max(history, key=lambda x: x[0])
    for _ in range(refine):
        proposals = []
        for _ in range(per_round):
            p = dict(best[1])
            for key in rng.choice(sorted(space), size=int(rng.integers(1, 3)), replace=False):
                p[str(key)] = draw(str(key))
            proposals.append(p)
        batch = list(zip(score(proposals), proposals, strict=True))
        history.extend(batch)
        top = max(batch, key=lambda x: x[0])
        if top[0] > best[0]:
            best = top
    return {
        "params": best[1],
        "score": best[0],
        "start_score": history[0][0],
        "trials": len(history),
        "history": [{"score": s, "params": p} for s, p in history],
    }
