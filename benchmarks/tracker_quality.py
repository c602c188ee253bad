"""Motion-only tracking quality on the synthetic VALIDATION split: ours vs BoxMOT peers.

    bash benchmarks/setup_bench_env.sh .venv/bin/python     # once: BoxMOT in .venv-bench
    python -m cgclip.data.synthetic generate --out data/synth-full --preset full --no-video
    python -m benchmarks.tracker_quality --data data/synth-full

Every tracker gets the same public detections (``det/det.txt``). Ours runs with the ``dance`` /
``sports`` presets (tuned on the training split by ``benchmarks.tracker_tune``). Each BoxMOT peer
(ByteTrack, OC-SORT) runs twice: with its defaults, and with the best of the same tuning budget
ours gets (60 random trials + 12 hill-climbing rounds of 4) over its main knobs on the same
training split, same objective ``(HOTA + IDF1) / 2``, per scene kind, so no tracker is tuned on
the validation split. Writes ``benchmarks/results/tracker_quality.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import earlier_same_run
from benchmarks.tracker_common import (
    PINNED_BOXMOT,
    RESULTS_DIR,
    boxmot_version,
    machine_info,
    run_in_bench_env,
    run_ours,
    sequences,
)
from benchmarks.tracker_search import search
from cgclip.io.atomic import atomic_write_json
from tracker.config import load_preset
from tracker.eval import evaluate

KINDS = ("dance", "sports")
PEER_TRIALS, PEER_REFINE = 60, 12  # the peers' tuning budget, as ours
_EVAL_LOCK = threading.Lock()
PEER_SPACE: dict[str, dict[str, list[Any]]] = {
    "bytetrack": {
        "track_thresh": [0.4, 0.5, 0.6, 0.7],
        "match_thresh": [0.7, 0.8, 0.9],
        "track_buffer": [15, 30, 60, 90],
        "min_hits": [1, 2, 3],
    },
    "ocsort": {
        "det_thresh": [0.3, 0.4, 0.5, 0.6],
        "iou_threshold": [0.1, 0.2, 0.3],
        "max_age": [15, 30, 60, 90],
        "min_hits": [1, 2, 3],
        "delta_t": [1, 3, 5],
        "inertia": [0.1, 0.2, 0.4],
        "use_byte": [True, False],
    },
}


def _objective(report: dict[str, Any]) -> float:
    return (report["combined"]["HOTA"] + report["combined"]["IDF1"]) / 2


def run_peer(
    peer: str,
    split_dir: Path,
    seqs: list[str],
    param_sets: list[dict[str, Any]],
    tmp: Path,
    embeddings: Path | None = None,
) -> list[Path]:
    """Run one peer with several parameter sets in one bench-env process; one folder per set.
    ``embeddings``: a feature-cache folder (``benchmarks.tracker_embed_cache``) whose detection
    embeddings the peer receives."""
    tmp.mkdir(parents=True, exist_ok=True)
    outs = [tmp / f"{peer}-{split_dir.name}-{i}" for i in range(len(param_sets))]
    batch = tmp / f"{peer}-{split_dir.name}-batch.json"
    batch.write_text(
        json.dumps([{"params": p, "out": str(o)} for p, o in zip(param_sets, outs, strict=True)])
    )
    run_in_bench_env(
        [
            "benchmarks/tracker_boxmot_peers.py",
            "--tracker",
            peer,
            "--split",
            str(split_dir),
            "--batch",
            str(batch),
            "--seqs",
            ",".join(seqs),
            *(["--embeddings", str(embeddings)] if embeddings else []),
        ]
    )
    return outs


def tune_peer(
    peer: str, data: Path, kind: str, trials: int, refine: int, seed: int, tmp: Path
) -> dict[str, Any]:
    """Random search (``trials``) then hill-climbing (``refine`` rounds of 4 proposals changing
    one or two knobs of the best): :func:`benchmarks.tracker_search.search`, the procedure
    ``benchmarks.tracker_tune`` uses for ours."""
    split = data / "train"
    seqs = [s.name for s in sequences(split) if s.name.startswith(kind)]

    def score(cands: list[dict[str, Any]]) -> list[float]:
        outs = run_peer(peer, split, seqs, cands, tmp / f"tune-{kind}-{peer}-{next(rounds)}")
        gt = [str(split / s) for s in seqs]
        with _EVAL_LOCK:  # evaluate() swaps sys.stdout while TrackEval runs: one at a time
            return [_objective(evaluate(gt, o)) for o in outs]

    rounds = iter(range(10**6))
    out = search(score, PEER_SPACE[peer], trials=trials, refine=refine, seed=seed)
    return {
        "params": out["params"],
        "train_score": out["score"],
        "default_train_score": out["start_score"],
        "trials": out["trials"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("data/synth-full"))
    p.add_argument("--peers", default="bytetrack,ocsort")
    p.add_argument(
        "--peer-trials",
        type=int,
        default=PEER_TRIALS,
        help="random-search trials per peer and kind, as ours (0: defaults only)",
    )
    p.add_argument(
        "--peer-refine", type=int, default=PEER_REFINE, help="hill-climbing rounds (as ours)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "tracker_quality.json")
    p.add_argument(
        "--reuse-peer-tuning",
        action="store_true",
        help="take the peers' tuned knobs from --out when it was run with the same data, "
        "budget and seed (only our presets and the validation are run again)",
    )
    args = p.parse_args(argv)
    t0 = time.time()
    val = args.data / "val"
    result: dict[str, Any] = {
        "machine": machine_info(),
        "data": str(args.data),
        "eval_split": "val",
        "tune_split": "train",
        "detections": "public det/det.txt",
        "appearance": "none (motion only)",
        "budget": {"peer_trials": args.peer_trials, "peer_refine": args.peer_refine},
        "seed": args.seed,
        "kinds": {},
    }
    peers = [x for x in args.peers.split(",") if x]
    result["boxmot"] = boxmot_version() if peers else None
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        ours_dir = run_ours(val, tmp / "ours")
        jobs = [(peer, kind) for kind in KINDS for peer in peers] if args.peer_trials > 0 else []
        reused = _previous_peer_tuning(args.out, result) if args.reuse_peer_tuning else {}
        jobs = [job for job in jobs if job not in reused]
        with ThreadPoolExecutor(max_workers=2) as ex:  # each job drives its own bench-env process
            futures = {
                job: ex.submit(
                    tune_peer,
                    job[0],
                    args.data,
                    job[1],
                    args.peer_trials,
                    args.peer_refine,
                    args.seed,
                    tmp,
                )
                for job in jobs
            }
            tuned_params = reused | {job: f.result() for job, f in futures.items()}
        for kind in KINDS:
            seqs = [s.name for s in sequences(val) if s.name.startswith(kind)]
            gt = [str(val / s) for s in seqs]
            rows: dict[str, Any] = {
                "ours": {"config": load_preset(kind).to_dict(), **evaluate(gt, ours_dir)}
            }
            for peer in peers:
                tuned = tuned_params.get((peer, kind))
                sets = [{}] + ([tuned["params"]] if tuned else [])
                outs = run_peer(peer, val, seqs, sets, tmp / f"val-{kind}")
                rows[f"{peer} (default)"] = {"params": {}, **evaluate(gt, outs[0])}
                if tuned:
                    rows[f"{peer} (tuned on train)"] = {
                        "params": tuned["params"],
                        "tuning": tuned,
                        **evaluate(gt, outs[1]),
                    }
            result["kinds"][kind] = rows
            print(f"\n{kind} (val, {len(seqs)} sequences)")
            print(f"{'tracker':<26} {'HOTA':>6} {'IDF1':>6} {'MOTA':>6} {'AssA':>6} {'IDSW':>5}")
            for name, r in rows.items():
                c = r["combined"]
                print(
                    f"{name:<26} {c['HOTA']:6.2f} {c['IDF1']:6.2f} {c['MOTA']:6.2f} {c['AssA']:6.2f} {c['IDSW']:5d}"
                )
    result["seconds"] = time.time() - t0
    atomic_write_json(args.out, result)
    print(f"\nwrote {args.out}")
    return 0


def _previous_peer_tuning(out: Path, result: dict[str, Any]) -> dict[tuple[str, str], dict]:
    """``{(peer, kind): tuning}`` from an earlier ``out`` with the same data, budget, seed and
    BoxMOT version (a run from before the budget or version was recorded used the defaults)."""
    budget = {"peer_trials": PEER_TRIALS, "peer_refine": PEER_REFINE}
    missing = {"budget": budget, "seed": 0, "boxmot": PINNED_BOXMOT}
    old = earlier_same_run(out, result, ("data", "budget", "seed", "boxmot"), missing)
    if old is None:
        return {}
    return {
        (name.split(" ")[0], kind): row["tuning"]
        for kind, rows in old.get("kinds", {}).items()
        for name, row in rows.items()
        if name.endswith("(tuned on train)") and "tuning" in row
    }


if __name__ == "__main__":
    raise SystemExit(main())
