"""Choose the ``default`` preset's motion knobs against the peers, on generated cells and real motion.

    bash benchmarks/setup_bench_env.sh .venv/bin/python     # once: BoxMOT in .venv-bench
    python -m benchmarks.default_choice --data data/crossdomain --mot17 PATH/MOT17/train

``benchmarks.tracker_crossdomain`` chose ``default`` to maximise the worst generated cell's own
score, and that choice lost to ByteTrack's defaults on real motion (``benchmarks.tracker_real``).
This step chooses it again over a small grid: the knobs where the two trackers differ (how long
a lost track is kept, the confidence that enters the first stage and starts a track, the Kalman
velocity noise), and StrongSORT's NSA Kalman (``confidence_noise``: a box's confidence scales its
measurement noise; a manual scan moved MOT15's held-out public detections most), with an
objective that says what the issue asks for: the **worst margin to the better peer**, ``min over
cells of min(HOTA, IDF1 margin)``, where a margin is our score minus the best of BoxMOT
ByteTrack's and OC-SORT's defaults on the same ``det.txt``.

Then a **coordinate search** refines the grid's choice (:data:`REFINE`): each round scores every
single-knob move from the current best (association gates, position noise, the lost-track
buffer, the thresholds around the grid's, observation recovery) and takes the best move if it
raises the worst margin (ties: the mean), for at most ``--refine-rounds`` rounds.
``--reuse-grid`` skips the 54-point grid and takes its rows and the peers' scores from the
``--out`` JSON, after scoring that JSON's choice again and checking it reproduces exactly (so a
changed tracker or generator cannot reuse stale rows).

Cells: the TRAIN split of ``tracker_crossdomain``'s tuning cells (25 fps and the generator's own
detector profile stay held out) plus two sets of real motion, MOT17's training ground truth with
``frcnn``- and ``dpm``-profile detections (``benchmarks.tracker_real.prepare_mot17``; one combined
score per set). Held out of the choice: the cross-domain VALIDATION split and MOT15's public
detections, which ``tracker_crossdomain`` and ``tracker_real`` report.
"""

from __future__ import annotations

import itertools
import json
import math
import tempfile
import time
from collections.abc import Callable
from multiprocessing import Pool
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmarks.tracker_common import RESULTS_DIR, machine_info, track_sequence
from benchmarks.tracker_crossdomain import cells, ensure_grid, score_cells
from benchmarks.tracker_quality import run_peer
from benchmarks.tracker_real import prepare_mot17
from cgclip.errors import ArgumentParser, UserError, cli
from cgclip.io.atomic import atomic_write_json
from cgclip.io.mot import DET_TXT, find_sequences, write_mot
from tracker.config import TrackerConfig, load_preset
from tracker.eval import evaluate

PEERS = ("bytetrack", "ocsort")
PROFILES = ("frcnn", "dpm")
METRICS = ("HOTA", "IDF1")
# The grid: where our tracker and ByteTrack differ most (ByteTrack keeps a lost track 30 frames
# at 30 fps, enters and starts tracks at 0.45, and uses a relatively larger velocity noise).
GRID: dict[str, tuple[Any, ...]] = {
    "max_time_lost": (45, 90),
    "thresholds": ((0.3, 0.7), (0.3, 0.6), (0.45, 0.45)),  # (high_thresh, new_track_thresh)
    "std_velocity": (0.003125, 0.0045, 0.00625),
    # StrongSORT's NSA Kalman (measurement noise x k (1 - confidence)); 0 is off
    "confidence_noise": (0.0, 1.0, 2.0),
}


# The coordinate search's moves around the grid's choice: one knob at a time to each of these
# values (a value equal to the current one is skipped).
REFINE: dict[str, tuple[Any, ...]] = {
    "tentative_match_thresh": (0.6, 0.8),
    "low_match_thresh": (0.4, 0.6),
    "match_thresh": (0.65, 0.75),
    "std_position": (0.075, 0.125),
    "max_time_lost": (30, 60),
    "high_thresh": (0.25, 0.35),
    "new_track_thresh": (0.55, 0.65),
    "observation_recovery": (True, False),
}


def candidates() -> list[dict[str, Any]]:
    """Every grid point as ``TrackerConfig`` overrides."""
    out = []
    for lost, (high, birth), vel, nsa in itertools.product(*GRID.values()):
        out.append(
            {"max_time_lost": lost, "high_thresh": high, "new_track_thresh": birth,
             "std_velocity": vel, "confidence_noise": nsa}
        )  # fmt: skip
    return out


def _combined(data: Path, config: TrackerConfig) -> dict[str, float]:
    seqs = find_sequences(data, DET_TXT)
    with tempfile.TemporaryDirectory(prefix="default-choice-") as tmp:
        for seq in seqs:
            write_mot(Path(tmp) / f"{seq.name}.txt", track_sequence(seq, config))
        return evaluate([str(s) for s in seqs], tmp)["combined"]


def peer_scores(train: Path, names: list[str], motion: dict[str, Path]) -> dict[str, dict]:
    """``{peer: {cell: report}}`` for every tuning cell and real-motion set."""
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="default-choice-peers-") as tmp:
        for peer in tqdm(PEERS, desc="peers", unit="peer"):
            (res,) = run_peer(peer, train, names, [{}], Path(tmp))
            out[peer] = dict(evaluate([str(train / n) for n in names], res)["sequences"])
            for label, data in motion.items():
                seqs = [s.name for s in find_sequences(data, DET_TXT)]
                (res,) = run_peer(peer, data, seqs, [{}], Path(tmp) / label)
                out[peer][label] = evaluate([str(data / s) for s in seqs], res)["combined"]
    return out


def margins(ours: dict[str, dict], peers: dict[str, dict]) -> dict[str, float]:
    """Per cell: our worst metric's margin to the better peer on it."""
    return {
        c: min(r[m] - max(p[c][m] for p in peers.values()) for m in METRICS)
        for c, r in ours.items()
    }


def score(
    overrides: dict[str, Any], train: Path, names: list[str], motion: dict[str, Path]
) -> dict[str, dict]:
    """Our scores with ``default`` + ``overrides`` on every cell and real-motion set."""
    config = load_preset("default", **overrides)
    per = score_cells(train, names, config)
    for label, data in motion.items():
        per[label] = _combined(data, config)
    return {c: {m: r[m] for m in ("HOTA", "IDF1", "MOTA", "IDSW")} for c, r in per.items()}


def _score_job(job: tuple[dict[str, Any], Path, list[str], dict[str, Path]]) -> dict[str, dict]:
    return score(*job)


def row(overrides: dict[str, Any], per: dict[str, dict], peers: dict[str, dict]) -> dict:
    """One scored candidate as the JSON keeps it."""
    m = margins(per, peers)
    return {
        "overrides": overrides,
        "worst_margin": min(m.values()),
        "worst_cell": min(m, key=m.get),
        "mean_margin": sum(m.values()) / len(m),
        "cells_at_least_peers": sum(v >= 0 for v in m.values()),
        "margins": m,
        "scores": per,
    }


def rank(r: dict[str, Any]) -> tuple[float, float]:
    """What a candidate is judged by: its worst margin, then its mean margin."""
    return r["worst_margin"], r["mean_margin"]


def moves(current: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every single-knob move of :data:`REFINE` away from ``current`` (``default`` + overrides)."""
    base = load_preset("default", **current)
    return [(k, v) for k, values in REFINE.items() for v in values if getattr(base, k) != v]


def coordinate_search(
    start: dict[str, Any],
    start_row: dict[str, Any],
    score_all: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    rounds: int,
) -> list[dict[str, Any]]:
    """Rows of every move tried: per round, each move of :func:`moves` from the best so far
    (``score_all`` turns overrides into rows); the best move is taken only if it ranks above
    the current best, else the search stops."""
    best, tried = start_row, []
    current = dict(start)
    for r in range(1, rounds + 1):
        proposals = moves(current)
        if not proposals:
            break
        scored = score_all([{**current, k: v} for k, v in proposals])
        for (k, v), sr in zip(proposals, scored, strict=True):
            sr.update({"stage": "refine", "round": r, "move": {k: v}})
            tried.append(sr)
        top = max(scored, key=rank)
        if rank(top) <= rank(best):
            break
        best, current = top, dict(top["overrides"])
    return tried


def reused_grid(path: Path, rescore: Callable[[dict[str, Any]], dict[str, dict]]) -> dict:
    """The grid rows and peer scores of an earlier run in ``path``, once its choice, scored
    again now by ``rescore`` (overrides -> per-cell scores), reproduces the recorded scores."""
    if not path.is_file():
        raise UserError(f"--reuse-grid: {path} does not exist; run without --reuse-grid first")
    old = json.loads(path.read_text())
    if old.get("grid") != {k: [list(x) if isinstance(x, tuple) else x for x in v]
                           for k, v in GRID.items()}:  # fmt: skip
        raise UserError(f"--reuse-grid: {path} was made with another grid; run without it")
    grid_rows = [r for r in old["candidates"] if r.get("stage", "grid") == "grid"]
    chosen = max(grid_rows, key=rank)
    now = rescore(chosen["overrides"])
    drift = max(
        abs(now.get(c, {}).get(m, math.inf) - chosen["scores"][c][m])
        for c in chosen["scores"]
        for m in METRICS
    )
    if drift > 1e-6:
        raise UserError(
            f"--reuse-grid: the grid's choice in {path} no longer reproduces (a score moved by "
            f"{drift:.3f}: the tracker or the generator changed); run without --reuse-grid"
        )
    return {"peers": old["peers"], "rows": grid_rows, "chosen_row": chosen}


@cli
def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(
        prog="python -m benchmarks.default_choice", description=__doc__.split("\n")[0]
    )
    p.add_argument("--data", type=Path, default=Path("data/crossdomain"))
    p.add_argument("--mot17", type=Path, required=True, help="MOT17 training sequences (gt/)")
    p.add_argument("--seconds", type=float, default=16.0, help="length of every generated cell")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2, help="candidates scored in parallel")
    p.add_argument(
        "--refine-rounds", type=int, default=3, help="coordinate-search rounds (0: none)"
    )
    p.add_argument(
        "--reuse-grid", action="store_true",
        help="take the grid's rows and the peers' scores from --out (checked to reproduce)",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "default_choice.json")
    args = p.parse_args(argv)
    t0 = time.time()
    # Candidates are overrides of default.yaml as it is now: record the knobs they start from.
    preset = load_preset("default")
    base = {k: getattr(preset, k) for k in (*candidates()[0], *REFINE)}
    ensure_grid(args.data, args.seconds, args.seed)
    train, names = args.data / "train", cells(tuning=True)
    with (
        tempfile.TemporaryDirectory(prefix="default-choice-data-") as tmp,
        Pool(args.workers) as pool,
    ):
        motion = {}
        for profile in PROFILES:
            motion[f"mot17-{profile}-sim"] = Path(tmp) / f"mot17-{profile}-sim"
            prepare_mot17(args.mot17, motion[f"mot17-{profile}-sim"], (profile,), args.seed)

        def score_all(overrides: list[dict[str, Any]], desc: str) -> list[dict[str, Any]]:
            jobs = [(o, train, names, motion) for o in overrides]
            bar = tqdm(pool.imap(_score_job, jobs), total=len(jobs), desc=desc, unit="config")
            return [row(o, per, peers) for o, per in zip(overrides, bar, strict=True)]

        if args.reuse_grid:
            old = reused_grid(args.out, lambda o: score(o, train, names, motion))
            peers, grid_rows = old["peers"], old["rows"]
        else:
            peers = peer_scores(train, names, motion)
            grid_rows = score_all(candidates(), "grid")
        for r in grid_rows:
            r["stage"] = "grid"
        start = max(grid_rows, key=rank)
        refined = coordinate_search(
            start["overrides"], start, lambda o: score_all(o, "refine"), args.refine_rounds
        )
    rows = grid_rows + refined
    best = max(rows, key=rank)
    result = {
        "machine": machine_info(),
        "objective": "max over candidates of the worst (over cells) min(HOTA, IDF1) margin to "
        "the better peer default; ties broken by the mean margin",
        "cells": [*names, *motion],
        "base": base,
        "peers": peers,
        "grid": {k: list(v) for k, v in GRID.items()},
        "refine": {k: list(v) for k, v in REFINE.items()},
        "grid_reused": bool(args.reuse_grid),
        "candidates": rows,
        "chosen": best["overrides"],
        "seconds": time.time() - t0,
    }
    atomic_write_json(args.out, result)
    print(
        f"chosen: {best['overrides']} (worst margin {best['worst_margin']:.2f}); wrote {args.out}"
    )
    return 0


GRID_ROWS_SHOWN = 12  # the grid table shows the best this many; the JSON keeps all


def render(result: dict[str, Any]) -> str:
    """Markdown: the grid's best candidates by worst and mean margin, then every move of the
    coordinate search by round; the start of the search, the moves taken and the choice marked."""
    total = len(result["cells"])
    rows = result["candidates"]
    grid = sorted((r for r in rows if r.get("stage", "grid") == "grid"), key=rank, reverse=True)
    refined = [r for r in rows if r.get("stage") == "refine"]

    def motion(r: dict[str, Any]) -> str:
        return " / ".join(f"{r['margins'][k]:+.2f}" for k in r["margins"] if k.startswith("mot17"))

    def scores(r: dict[str, Any]) -> str:
        return (
            f"{r['worst_margin']:+.2f} ({r['worst_cell']}) | {r['mean_margin']:+.2f} | "
            f"{r['cells_at_least_peers']} of {total} | {motion(r)} |"
        )

    head = ["max_time_lost", "high / new-track thresh", "std_velocity", "confidence_noise",
            "worst margin (cell)", "mean margin", "cells >= peers",
            "MOT17 frcnn / dpm motion"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in grid[:GRID_ROWS_SHOWN]:
        o = r["overrides"]
        mark = " (chosen)" if o == result["chosen"] else ""
        mark = mark or (" (refined below)" if refined and r is grid[0] else "")
        lines.append(
            f"| {o['max_time_lost']}{mark} | {o['high_thresh']} / {o['new_track_thresh']} | "
            f"{o['std_velocity']} | {o['confidence_noise']:g} | " + scores(r)
        )
    lines += [
        "",
        f"The grid's best {min(GRID_ROWS_SHOWN, len(grid))} of {len(grid)} candidates. Margin: "
        "our min(HOTA, IDF1) minus the better peer default's, per cell (the training split's "
        "tuning cells and two MOT17-motion sets); a candidate is judged by its worst cell.",
    ]
    if refined:
        lines += ["", "| round | move | worst margin (cell) | mean margin | cells >= peers | "
                  "MOT17 frcnn / dpm motion |", "|---|---|---|---|---|---|"]  # fmt: skip
        current = grid[0]
        for n in sorted({r["round"] for r in refined}):
            batch = [r for r in refined if r["round"] == n]
            top = max(batch, key=rank)
            taken = rank(top) > rank(current)
            for r in sorted(batch, key=rank, reverse=True):
                ((knob, value),) = r["move"].items()
                mark = " (taken)" if taken and r is top else ""
                mark += " (chosen)" if r["overrides"] == result["chosen"] else ""
                lines.append(f"| {n} | {knob} = {value}{mark} | " + scores(r))
            if taken:
                current = top
        lines += [
            "",
            "Coordinate search from the grid's best: each round tries every single-knob move "
            "from the best so far and takes the best one if it raises the worst margin (ties: "
            "the mean); a round without such a move ends the search.",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
