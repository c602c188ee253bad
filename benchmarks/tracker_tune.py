"""Tune the ``sports`` and ``dance`` presets on the synthetic TRAINING split only.

    python -m benchmarks.tracker_tune --data data/synth-full --trials 60

Random search over the association knobs, then hill-climbing from the best (same seed, same
budget for every kind), scored by
``(HOTA + IDF1) / 2`` over that kind's training sequences with their public detections. The
validation split is never read here. The winners are written to
``benchmarks/results/tracker_tune.json``; copy them into ``tracker/presets/<kind>.yaml``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

from benchmarks.tracker_common import RESULTS_DIR, machine_info, sequences, track_sequence
from benchmarks.tracker_search import search
from cgclip.io.atomic import atomic_write_json
from cgclip.io.mot import write_mot
from tracker.config import TrackerConfig
from tracker.eval import evaluate

SPACE: dict[str, list[Any]] = {
    "high_thresh": [0.4, 0.5, 0.6, 0.7],
    "new_track_thresh": [0.5, 0.6, 0.7, 0.8],
    "match_thresh": [0.7, 0.8, 0.9],
    "min_iou": [0.0, 0.05, 0.1, 0.2],
    "direction_weight": [0.0, 0.1, 0.2, 0.4],
    "min_hits": [1, 2, 3],
    "max_time_lost": [15, 30, 60, 90],
    "std_position": [1 / 40, 1 / 20, 1 / 10],
    "std_velocity": [1 / 320, 1 / 160, 1 / 80, 1 / 40],
    "recovery_match_thresh": [0.5, 0.7, 0.9],
    "low_match_thresh": [0.5, 0.7],
    "reupdate_after_gap": [True, False],
    "observation_recovery": [True, False],
    "output_box": ["detection", "kalman"],
}
KIND_SPACE: dict[str, dict[str, list[Any]]] = {"sports": {"cmc": [True, False]}, "dance": {}}


def score(report: dict[str, Any]) -> float:
    c = report["combined"]
    return (c["HOTA"] + c["IDF1"]) / 2


def _trial(job: tuple[str, list[str], dict[str, Any]]) -> dict[str, Any]:
    split_dir, seq_names, params = job
    cfg = TrackerConfig(**params)
    with tempfile.TemporaryDirectory() as tmp:
        seqs = [Path(split_dir) / s for s in seq_names]
        for seq in seqs:
            write_mot(Path(tmp) / f"{seq.name}.txt", track_sequence(seq, cfg))
        report = evaluate([str(s) for s in seqs], tmp)
    return {"params": params, "score": score(report), "combined": report["combined"]}


def tune(
    data: Path, kind: str, trials: int, seed: int, workers: int, refine_rounds: int = 0
) -> dict[str, Any]:
    split_dir = data / "train"
    seq_names = [s.name for s in sequences(split_dir) if s.name.startswith(kind)]
    space = {**SPACE, **KIND_SPACE.get(kind, {})}
    results: list[dict[str, Any]] = []  # every trial's report, in the order scored
    with Pool(workers) as pool:

        def score_batch(cands: list[dict[str, Any]]) -> list[float]:
            batch = pool.map(_trial, [(str(split_dir), seq_names, c) for c in cands])
            results.extend(batch)
            return [r["score"] for r in batch]

        # trial 0 is the library defaults; refinement proposes 2 x workers settings per round
        search(
            score_batch,
            space,
            trials=trials,
            refine=refine_rounds,
            seed=seed,
            per_round=2 * workers,
        )
    results.sort(key=lambda r: -r["score"])
    return {
        "kind": kind,
        "sequences": seq_names,
        "trials": len(results),
        "best": results[0],
        "top5": results[:5],
        "default": next(r for r in results if r["params"] == {}),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("data/synth-full"))
    p.add_argument("--trials", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--refine", type=int, default=12, help="hill-climbing rounds after the search")
    p.add_argument("--kinds", default="dance,sports")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "tracker_tune.json")
    args = p.parse_args(argv)
    t0 = time.time()
    out = {
        "machine": machine_info(),
        "data": str(args.data),
        "split": "train",
        "objective": "(HOTA + IDF1) / 2",
        "kinds": {},
    }
    for kind in args.kinds.split(","):
        res = tune(args.data, kind, args.trials, args.seed, args.workers, args.refine)
        out["kinds"][kind] = res
        b = res["best"]
        print(
            f"{kind}: best score {b['score']:.2f} (default {res['default']['score']:.2f}) {json.dumps(b['params'])}"
        )
    out["seconds"] = time.time() - t0
    atomic_write_json(args.out, out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
