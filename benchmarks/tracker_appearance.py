"""Tracking quality WITH appearance on the synthetic VALIDATION split: ours vs BoxMOT's BoT-SORT
and Deep OC-SORT, all fed the same CG-CLIP embeddings of the same public detections.

    bash benchmarks/setup_bench_env.sh .venv/bin/python        # once: BoxMOT in .venv-bench
    python -m benchmarks.tracker_appearance --data data/synth-full

One command reproduces the whole comparison; every step is cached, so a rerun continues:

1. data: the synthetic ``full`` set is generated into ``--data`` if it is missing;
2. checkpoint: CG-CLIP is trained on the TRAIN split only (identities disjoint from val) with the
   training CLI, ``python -m cgclip.train --config configs/train/synthetic.yaml --override
   data.root=<data> ...`` for ``TRAIN_EPOCHS`` epochs, and its LAST epoch is used (or give
   ``--checkpoint``). Why not ``best``: the trainer's validation (tracklet mAP on identities carved
   from train) saturates at 1.0 within ~6 epochs here, so ``best`` is an early epoch; on the
   detection crops the tracker sees, nearest-neighbour accuracy for those held-out identities was
   68.7 % for ``best`` (epoch 10) and 79.5 % for ``last`` (epoch 60), measured on the train split;
3. features: every public detection of train and val is embedded once with the real
   ``CgclipEmbedder`` (``benchmarks.tracker_embed_cache``);
4. tuning on TRAIN only, one procedure and budget for everyone (``benchmarks.tracker_search``:
   ``--trials`` random settings + ``--refine`` hill-climbing rounds of 4, objective
   ``(HOTA + IDF1) / 2`` per scene kind): our appearance knobs on top of the kind's motion
   preset, and each peer's knobs from its defaults;
5. VALIDATION: ours with the tuned appearance knobs (TFE over each track's window of tokens), the
   same with the detection embeddings mean-pooled (exactly what the peers receive), ours motion
   only (``--reid none``), and each peer with its defaults and tuned.

Writes ``benchmarks/results/tracker_appearance.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import earlier_same_run
from benchmarks.tracker_common import (
    PINNED_BOXMOT,
    REPO_ROOT,
    RESULTS_DIR,
    boxmot_version,
    machine_info,
)
from benchmarks.tracker_embed_cache import (
    checkpoint_digest,
    ensure_cache,
    load_embedder,
    run_ours_replayed,
)
from benchmarks.tracker_quality import run_peer
from benchmarks.tracker_search import search
from cgclip.io.atomic import atomic_write_json
from tracker.config import load_preset
from tracker.eval import evaluate

if TYPE_CHECKING:
    from cgclip.data.synthetic import SyntheticConfig

KINDS = ("dance", "sports")
# Our appearance knobs; the motion knobs stay those of the kind's preset (tuned in stage 1), so
# one preset serves --reid none and --reid <model>.
# Cosine-distance knobs share one grid (``COS``) for ours and the peers: a small synthetic-trained
# model puts most distances under 0.2.
COS = [0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.3]
OUR_SPACE: dict[str, list[Any]] = {
    "appearance_weight": [0.1, 0.25, 0.5, 0.75],
    "appearance_gate": [*COS, 2.0],
    "reid_thresh": COS,
    "reid_buffer": [100, 300, 1000],
    "embedding_window": [1, 2, 4, 8, 16],
    "embed_max_overlap": [0.1, 0.3, 0.5, 1.0],
}
PEER_SPACE: dict[str, dict[str, list[Any]]] = {
    "botsort": {
        "track_high_thresh": [0.4, 0.5, 0.6, 0.7],
        "new_track_thresh": [0.5, 0.6, 0.7, 0.8],
        "track_buffer": [15, 30, 60, 90],
        "match_thresh": [0.7, 0.8, 0.9],
        "proximity_thresh": [0.3, 0.5, 0.7],
        "appearance_thresh": COS,
        "fuse_first_associate": [True, False],
        "use_cmc": [True, False],
    },
    "deepocsort": {
        "det_thresh": [0.3, 0.4, 0.5, 0.6],
        "max_age": [15, 30, 60, 90],
        "min_hits": [1, 2, 3],
        "iou_threshold": [0.1, 0.2, 0.3],
        "delta_t": [1, 3, 5],
        "inertia": [0.1, 0.2, 0.4],
        "w_association_emb": [0.25, 0.5, 0.75, 1.0],
        "alpha_fixed_emb": [0.8, 0.9, 0.95],
        "aw_off": [True, False],
        "cmc_off": [True, False],
    },
}
TRAIN_CONFIG = REPO_ROOT / "configs" / "train" / "synthetic.yaml"
SKIP_IOU = 0.3  # the embedding-skip variant measured on val (tuned knobs otherwise)
TRAIN_OVERRIDES = ["optim.epochs=60", "optim.milestones=[45]", "run.eval_every=10"]
_EVAL_LOCK = threading.Lock()  # evaluate() swaps sys.stdout while TrackEval runs


def objective(report: dict[str, Any]) -> float:
    c = report["combined"]
    return (c["HOTA"] + c["IDF1"]) / 2


def kind_seqs(split_dir: Path, kind: str) -> list[str]:
    return sorted(
        d.name
        for d in split_dir.iterdir()
        if d.name.startswith(kind) and (d / "det" / "det.txt").is_file()
    )


# ----------------------------------------------------------------------------- steps 1-3


def data_config() -> SyntheticConfig:
    """The dance and sports set: the ``full`` preset's size, images but no MP4."""
    from dataclasses import replace

    from cgclip.data.synthetic import PRESETS

    return replace(PRESETS["full"], write_video=False)


def ensure_data(data: Path) -> None:
    if not ((data / "train").is_dir() and (data / "val").is_dir()):
        from cgclip.data.synthetic import generate_dataset

        generate_dataset(data, data_config())


def ensure_checkpoint(data: Path, out_dir: Path, overrides: list[str]) -> Path:
    """Train CG-CLIP on ``data``'s TRAIN split with the training CLI (it resumes an interrupted
    run) and return its last epoch's checkpoint."""
    last = out_dir / "last.safetensors"
    if last.is_file() and (out_dir / "best.safetensors").is_file():
        return last
    cmd = [
        sys.executable,
        "-m",
        "cgclip.train",
        "--config",
        str(TRAIN_CONFIG),
        "--override",
        f"data.root={data}",
        "--override",
        f"run.output_dir={out_dir}",
        *[x for o in [*TRAIN_OVERRIDES, *overrides] for x in ("--override", o)],
    ]
    print("training:", " ".join(cmd), flush=True)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    subprocess.run(cmd, check=True, env=env)
    if not last.is_file():
        raise SystemExit(f"training finished without {last}")
    return last


# ----------------------------------------------------------------------------- ours

_WORKER: dict[str, Any] = {}


def _init_worker(checkpoint: str, threads: int, embedding: tuple[str, ...] | None) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER["embedder"] = load_embedder(checkpoint, embedding=embedding)


def _our_run(job: tuple[str, list[str], dict[str, Any], str, str, str]) -> dict[str, Any]:
    """Track a kind's sequences with one config and score them (in a worker process)."""
    split_dir, seqs, params, cache, pooling, out = job
    kind = seqs[0].split("-")[0]
    config = load_preset(kind, **params)
    stats: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(out) if out else Path(tmp)
        run_ours_replayed(
            Path(split_dir),
            seqs,
            lambda _name: config,
            Path(cache),
            _WORKER.get("embedder"),
            folder,
            pooling=pooling,
            stats=stats,
        )
        report = evaluate([str(Path(split_dir) / s) for s in seqs], folder)
    report["embedded_fraction"] = stats.get("embedded", 0) / max(stats.get("detections", 0), 1)
    return report


class Ours:
    """Runs our tracker over cached features in ``workers`` processes (model loaded once each)."""

    def __init__(
        self, checkpoint: Path, workers: int, embedding: tuple[str, ...] | None = None
    ) -> None:
        self.pool = Pool(
            workers, initializer=_init_worker, initargs=(str(checkpoint), 1, embedding)
        )

    def reports(self, jobs: list[tuple]) -> list[dict[str, Any]]:
        return self.pool.map(_our_run, jobs, chunksize=1)

    def close(self) -> None:
        self.pool.close()
        self.pool.join()


# ----------------------------------------------------------------------------- peers


def peer_scorer(peer: str, split_dir: Path, seqs: list[str], emb: Path, tmp: Path):
    counter = iter(range(10**6))

    def score(cands: list[dict[str, Any]]) -> list[float]:
        outs = run_peer(peer, split_dir, seqs, cands, tmp / f"round{next(counter)}", emb)
        gt = [str(split_dir / s) for s in seqs]
        with _EVAL_LOCK:
            return [objective(evaluate(gt, o)) for o in outs]

    return score


# ----------------------------------------------------------------------------- main


def _variant_rows(ckpt, workers, variants, val, vseqs, params, caches, tuned_for) -> dict[str, Any]:
    """Ours on val with other embedding parts of the same checkpoint, at the knobs tuned for the
    default parts (so these rows are if anything at a disadvantage)."""
    rows = {}
    for parts in variants:
        pool = Ours(ckpt, workers, parts)
        try:
            [report] = pool.reports([(str(val), vseqs, params, str(caches[parts]), "tfe", "")])
        finally:
            pool.close()
        rows[f"ours (CG-CLIP {'+'.join(parts)}, knobs tuned for {tuned_for})"] = {
            "params": params,
            "embedding": list(parts),
            **_summary(report),
        }
    return rows


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("HOTA", "IDF1", "IDSW", "MOTA", "DetA", "AssA")
    return {k: report["combined"][k] for k in keys}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("data/synth-full"))
    p.add_argument("--checkpoint", type=Path, help="a cgclip checkpoint (default: train one)")
    p.add_argument("--train-dir", type=Path, default=Path("runs/bench-appearance/cgclip"))
    p.add_argument(
        "--train-override", action="append", default=[], help="extra cgclip.train overrides"
    )
    p.add_argument(
        "--embedding",
        help="embedding parts the tracker uses, e.g. f, s or f,s (default: the checkpoint's)",
    )
    p.add_argument(
        "--embedding-rows",
        default="f+s,s",
        help="other embedding parts to validate with our tuned knobs, e.g. f+s,s ('' for none)",
    )
    p.add_argument("--cache", type=Path, default=Path("runs/bench-appearance/features"))
    p.add_argument("--trials", type=int, default=24, help="random settings per tracker and kind")
    p.add_argument("--refine", type=int, default=6, help="hill-climbing rounds of 4 proposals")
    p.add_argument("--peers", default="botsort,deepocsort")
    p.add_argument("--kinds", default="dance,sports")
    p.add_argument("--workers", type=int, default=1, help="processes running our tracker")
    p.add_argument("--jobs", type=int, default=2, help="trackers tuned at the same time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "tracker_appearance.json")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    t0 = time.time()
    ensure_data(args.data)
    ckpt = args.checkpoint or ensure_checkpoint(args.data, args.train_dir, args.train_override)
    print(f"checkpoint {ckpt}", flush=True)
    embedding = tuple(args.embedding.split(",")) if args.embedding else None
    caches = {
        s: ensure_cache(args.data / s, ckpt, args.cache, embedding=embedding)
        for s in ("train", "val")
    }
    parts = load_embedder(ckpt, embedding=embedding).model.config.embedding_parts
    variants = [tuple(v.split("+")) for v in args.embedding_rows.split(",") if v]
    variants = [v for v in variants if v != tuple(parts)]
    for v in variants:
        caches[v] = ensure_cache(args.data / "val", ckpt, args.cache, embedding=v)
    sidecar = json.loads(ckpt.with_suffix(".json").read_text())
    result: dict[str, Any] = {
        "machine": machine_info(),
        "data": str(args.data),
        "checkpoint": {
            "path": str(ckpt),
            "digest": checkpoint_digest(ckpt),
            "model": sidecar.get("name"),
            "config": sidecar.get("config"),
            "meta": sidecar.get("meta"),
            "bytes": ckpt.stat().st_size,
            "embedding": list(parts),
            "trained_on": "train split only",
            "train_command_overrides": [f"data.root={args.data}", *TRAIN_OVERRIDES],
        },
        "tune_split": "train",
        "eval_split": "val",
        "objective": "(HOTA + IDF1) / 2",
        "budget": {"trials": args.trials, "refine_rounds": args.refine, "per_round": 4},
        "seed": args.seed,
        "kinds": {},
    }
    peers = [x for x in args.peers.split(",") if x]
    result["boxmot"] = boxmot_version() if peers else None
    previous = _previous_tuning(args.out, result)
    ours = Ours(ckpt, args.workers, embedding)
    try:
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            for kind in args.kinds.split(","):
                result["kinds"][kind] = run_kind(
                    kind, args, caches, ours, peers, tmp, previous.get(kind), variants, ckpt, parts
                )
                atomic_write_json(args.out, {**result, "seconds": time.time() - t0})
    finally:
        ours.close()
    result["seconds"] = time.time() - t0
    atomic_write_json(args.out, result)
    print(f"\nwrote {args.out}")
    return 0


def _previous_tuning(out: Path, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per kind, the tuning of an earlier run of this command with the same checkpoint, embedding,
    budget and seed (so a rerun only repeats the validation, e.g. to add rows); the peers'
    tunings only when BoxMOT's version is the same too (a run from before it was recorded used
    :data:`PINNED_BOXMOT`)."""
    keys = ("data", "budget", "tune_split", "seed", "checkpoint.digest", "checkpoint.embedding")
    old = earlier_same_run(out, result, keys, missing={"seed": 0})
    if old is None:
        return {}
    same_peers = old.get("boxmot", PINNED_BOXMOT) == result.get("boxmot")
    return {
        kind: {who: t for who, t in v["tuning"].items() if who == "ours" or same_peers}
        for kind, v in old.get("kinds", {}).items()
        if "tuning" in v
    }


def _preset(kind: str) -> dict[str, Any]:
    """``kind``'s preset as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(load_preset(kind).to_dict()))


def _still_valid(previous: dict[str, Any], kind: str) -> dict[str, Any]:
    """An earlier run's tuning of ``kind`` without ours when ours was tuned on top of another
    preset than ``kind``'s now (the search changes some knobs; the preset fixes the rest)."""
    tuned = dict(previous)
    if tuned.get("ours", {}).get("preset") != _preset(kind):
        tuned.pop("ours", None)
    return tuned


def run_kind(
    kind,
    args,
    caches,
    ours: Ours,
    peers: list[str],
    tmp: Path,
    previous: dict[str, Any] | None,
    variants: list[tuple[str, ...]],
    ckpt: Path,
    parts: tuple[str, ...],
) -> dict[str, Any]:
    train, val = args.data / "train", args.data / "val"
    tseqs, vseqs = kind_seqs(train, kind), kind_seqs(val, kind)

    def our_score(cands: list[dict[str, Any]]) -> list[float]:
        jobs = [(str(train), tseqs, c, str(caches["train"]), "tfe", "") for c in cands]
        return [objective(r) for r in ours.reports(jobs)]

    def tune(name: str) -> tuple[str, dict[str, Any]]:
        t = time.time()
        if name == "ours":
            score, space = our_score, OUR_SPACE
        else:
            score = peer_scorer(name, train, tseqs, caches["train"], tmp / f"tune-{kind}-{name}")
            space = PEER_SPACE[name]
        out = search(score, space, trials=args.trials, refine=args.refine, seed=args.seed)
        print(f"{kind}: {name} tuned {out['score']:.2f} ({time.time() - t:.0f} s)", flush=True)
        return name, out

    tuned = _still_valid(previous or {}, kind)
    todo = [n for n in ["ours", *peers] if n not in tuned]
    if len(todo) < len(peers) + 1:
        print(f"{kind}: reusing the earlier tuning of {sorted(tuned)}", flush=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as ex:  # each drives its own process
        tuned.update(dict(ex.map(tune, todo)))
    tuned["ours"]["preset"] = _preset(kind)

    # Validation: never used above.
    ours_params = tuned["ours"]["params"]
    gt = [str(val / s) for s in vseqs]
    skip = {**ours_params, "embed_skip_iou": SKIP_IOU}
    jobs = [
        (str(val), vseqs, ours_params, str(caches["val"]), "tfe", ""),
        (str(val), vseqs, skip, str(caches["val"]), "tfe", ""),
        (str(val), vseqs, ours_params, str(caches["val"]), "mean", ""),
        (str(val), vseqs, {}, str(caches["val"]), "none", ""),
    ]
    r_tfe, r_skip, r_mean, r_none = ours.reports(jobs)
    p = "+".join(parts)
    rows: dict[str, Any] = {
        f"ours (CG-CLIP {p}, track-window embedding)": {
            "params": ours_params,
            "config": load_preset(kind, **ours_params).to_dict(),
            **_summary(r_tfe),
            "per_sequence": r_tfe.get("sequences"),
        },
        f"ours (CG-CLIP {p}, embed_skip_iou={SKIP_IOU})": {
            "params": skip,
            "embedded_fraction": r_skip["embedded_fraction"],
            **_summary(r_skip),
        },
        f"ours (CG-CLIP {p}, detection embeddings mean-pooled)": {
            "params": ours_params,
            **_summary(r_mean),
        },
        **_variant_rows(ckpt, args.workers, variants, val, vseqs, ours_params, caches, p),
        "ours (motion only, --reid none)": {"params": {}, **_summary(r_none)},
    }
    for peer in peers:
        outs = run_peer(
            peer, val, vseqs, [{}, tuned[peer]["params"]], tmp / f"val-{kind}-{peer}", caches["val"]
        )
        with _EVAL_LOCK:
            reports = [evaluate(gt, o) for o in outs]
        rows[f"{peer} (default)"] = {"params": {}, **_summary(reports[0])}
        rows[f"{peer} (tuned on train)"] = {"params": tuned[peer]["params"], **_summary(reports[1])}
    print(f"\n{kind} (val, {len(vseqs)} sequences)")
    print(f"{'tracker':<52} {'HOTA':>6} {'IDF1':>6} {'IDSW':>5} {'MOTA':>6} {'AssA':>6}")
    for name, r in rows.items():
        print(
            f"{name:<52} {r['HOTA']:6.2f} {r['IDF1']:6.2f} {r['IDSW']:5d} {r['MOTA']:6.2f} {r['AssA']:6.2f}"
        )
    return {
        "val_sequences": vseqs,
        "train_sequences": tseqs,
        "rows": rows,
        "tuning": {k: {kk: vv for kk, vv in v.items()} for k, v in tuned.items()},
    }


if __name__ == "__main__":
    raise SystemExit(main())
