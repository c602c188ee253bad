"""CG-CLIP ablation on the synthetic look-alike re-identification set (the paper's Tables 3, S.5).

    python -m benchmarks.reid_ablation                   # every row, 3 seeds, writes the JSON
    python -m benchmarks.reid_ablation --rows untrained tfe --seeds 5 --override optim.epochs=10
    python -m benchmarks.reid_ablation --table-only      # print the table of a finished JSON

Every row trains the same preset (``configs/train/synthetic.yaml``: data, schedule, budget) with
only the ablated switches changed, once per seed (seed s: the same initial weights and the same
batches in every row), then scores two checkpoints on the synthetic **val** split (identities
never seen in training, cross-video protocol): the one selected on the identities carved from
train, and the last one. ``untrained`` scores the initial weights of the preset's model (exactly
the weights each seed's training starts from). For every trained run the test-feature choices
(which pre-BN parts go into the L2-normalised concat) are scored from one feature extraction.

Rows ``text-caption`` and ``text-idtext`` use the memory update given by ``--memory-update``, or
else the best of the ``cmr-*`` rows already in the results (caption + ID text is that row).
Finished runs are kept in the JSON and skipped when the script runs again with the same settings,
so an interrupted ablation continues. Results: ``benchmarks/results/reid_ablation.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from cgclip.errors import UserError, cli
from cgclip.io.atomic import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results" / "reid_ablation.json"
REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "train" / "synthetic.yaml"

# Checkpoints are selected with the test features the model had when the ablation was run
# (f+v+s with TFE, v with mean pooling); every feature of the selected one is scored anyway.
_TFE = {"model.overrides.pooling": "tfe", "model.overrides.embedding": "[f, v, s]"}
_CMR = {**_TFE, "model.overrides.use_cmr": True}
# Row name -> (description, config overrides). Every row sets all the ablated switches itself,
# so it means the same thing whatever the preset's defaults are. "{update}": see the module doc.
ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "untrained": ("the preset's model, initial weights (no training)", {}),
    "mean": (
        "mean pooling over frame tokens (no TFE), no CMR",
        {
            "model.overrides.pooling": "mean",
            "model.overrides.embedding": "[v]",
            "model.overrides.use_cmr": False,
        },
    ),
    "tfe": ("TFE, no CMR", {**_TFE, "model.overrides.use_cmr": False}),
    "cmr-none": (
        "TFE + CMR, memory frozen (caption + ID text)",
        {**_CMR, "model.overrides.memory_update": "none", "data.text": "both"},
    ),
    "cmr-refined": (
        "TFE + CMR, memory <- refined memory (caption + ID text)",
        {**_CMR, "model.overrides.memory_update": "refined", "data.text": "both"},
    ),
    "cmr-video": (
        "TFE + CMR, memory <- video feature (caption + ID text)",
        {**_CMR, "model.overrides.memory_update": "video", "data.text": "both"},
    ),
    "text-caption": (
        "TFE + CMR ({update}), text memory from captions only",
        {**_CMR, "model.overrides.memory_update": "{update}", "data.text": "caption"},
    ),
    "text-idtext": (
        "TFE + CMR ({update}), text memory from the ID text only",
        {**_CMR, "model.overrides.memory_update": "{update}", "data.text": "idtext"},
    ),
}
CMR_ROWS = ("cmr-none", "cmr-refined", "cmr-video")
# Test-feature choices: pre-BN parts concatenated, then L2-normalised.
EMBEDDINGS = ("fvs", "fv", "fs", "vs", "f", "v", "s")


# ----------------------------------------------------------------------------- evaluation


@torch.no_grad()
def part_features(
    model: Any, tracklets: Sequence[Any], batch_size: int = 16, num_workers: int = 0
) -> dict[str, torch.Tensor]:
    """The pre-BN parts f (N, D), v (N, E), s (N, D) of each tracklet's deterministic RRS clip."""
    from cgclip.evaluate import EvalClips

    model.eval()
    loader = torch.utils.data.DataLoader(
        EvalClips(tracklets, model.preprocess), batch_size=batch_size, num_workers=num_workers
    )
    use_cams = model.config.num_cameras > 0
    parts: dict[str, list[torch.Tensor]] = {"f": [], "v": [], "s": []}
    for clips, camids in loader:
        out = model(clips.to(model.device), camids=camids.to(model.device) if use_cams else None)
        for p in parts:
            parts[p].append(getattr(out, p).float().cpu())
    return {p: torch.cat(v) for p, v in parts.items()}


def score_embeddings(
    model: Any,
    dataset: Any,
    embeddings: Sequence[str],
    batch_size: int = 16,
    num_workers: int = 0,
) -> dict[str, dict[str, float]]:
    """Val-split metrics (mAP, R1, R5 in %) of each embedding choice, e.g. "fvs" or "v"."""
    from cgclip.metrics import distance_matrix, evaluate_rank

    unique: dict[Any, int] = {}
    for t in [*dataset.query, *dataset.gallery]:
        unique.setdefault(t, len(unique))
    feats = part_features(model, list(unique), batch_size, num_workers)
    q_idx = [unique[t] for t in dataset.query]
    g_idx = [unique[t] for t in dataset.gallery]
    ignore = dataset.ignore_mask()
    out = {}
    for name in embeddings:
        emb = F.normalize(torch.cat([feats[p] for p in name], dim=1), dim=1)
        m = evaluate_rank(
            distance_matrix(emb[q_idx], emb[g_idx]),
            [t.pid for t in dataset.query],
            [t.pid for t in dataset.gallery],
            ignore=ignore,
        )
        out[name] = {"mAP": 100 * m.mAP, "R1": 100 * m.rank(1), "R5": 100 * m.rank(5)}
    return out


# ----------------------------------------------------------------------------- runs


def row_overrides(row: str, update: str | None) -> list[str]:
    if row not in ROWS:
        raise UserError(f"unknown row {row!r}; rows: {list(ROWS)}")
    items = []
    for key, value in ROWS[row][1].items():
        if value == "{update}":
            if update is None:
                raise UserError(
                    f"row {row} needs the memory update: run the {list(CMR_ROWS)} rows first "
                    "or pass --memory-update"
                )
            value = update
        items.append(f"{key}={json.dumps(value) if isinstance(value, bool) else value}")
    return items


def best_update(runs: Sequence[dict[str, Any]]) -> str | None:
    """The memory update of the cmr-* row with the best mean selected-checkpoint mAP."""
    means = {}
    for row in CMR_ROWS:
        maps = [r["selected"]["mAP"] for r in runs if r["row"] == row]
        if maps:
            means[row] = statistics.mean(maps)
    return max(means, key=means.get).split("-", 1)[1] if means else None


def run_one(
    row: str,
    seed: int,
    overrides: list[str],
    config: Path,
    dataset: Any,
    captions: Any,
    work_dir: Path,
    eval_workers: int,
    keep: bool,
) -> dict[str, Any]:
    from cgclip.model import create_model, load_model
    from cgclip.train import train
    from cgclip.train.config import load_train_config

    out_dir = work_dir / f"{row}-seed{seed}"
    cfg = load_train_config(config, [*overrides, f"run.seed={seed}", f"run.output_dir={out_dir}"])
    record: dict[str, Any] = {"row": row, "seed": seed, "overrides": overrides}
    start = time.perf_counter()
    if row == "untrained":
        torch.manual_seed(seed)  # what the trainer does before building the model
        model = create_model(cfg.model.name, pretrained=cfg.model.pretrained, **cfg.model.overrides)
        scores = score_embeddings(model, dataset, EMBEDDINGS, num_workers=eval_workers)
        default = "".join(model.config.embedding_parts)
        record.update(selected=scores[default], last=scores[default], embeddings=scores)
    else:
        result = train(dataset, cfg, captions, progress=False)
        record["train_s"] = time.perf_counter() - start
        record["best_epoch"] = result.best_epoch
        record["carved_val"] = result.best_metrics
        selected = load_model(result.best_checkpoint)
        default = "".join(selected.config.embedding_parts)
        scores = score_embeddings(selected, dataset, EMBEDDINGS, num_workers=eval_workers)
        last = score_embeddings(result.model, dataset, [default], num_workers=eval_workers)
        record.update(selected=scores[default], last=last[default], embeddings=scores)
        record["steps"] = sum(h["steps"] for h in result.history)
        if not keep:
            shutil.rmtree(out_dir, ignore_errors=True)
    record["embedding"] = default
    record["seconds"] = time.perf_counter() - start
    return record


def settings_digest(config: Any) -> str:
    """Identifies what the runs share: the resolved training config (the preset with the shared
    overrides), less the per-run output folder and seed. Comments in the YAML do not count."""
    data = config.to_dict()
    data["run"] = {k: v for k, v in data["run"].items() if k not in ("output_dir", "seed")}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- summary


def _mean_std(values: Sequence[float]) -> list[float]:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return [statistics.mean(values), std]


def _paired(a: dict[int, float], b: dict[int, float]) -> list[float] | None:
    """Mean and std over the seeds both have of a[seed] - b[seed]; None without common seeds."""
    seeds = sorted(set(a) & set(b))
    return _mean_std([a[k] - b[k] for k in seeds]) if seeds else None


def summarize(runs: Sequence[dict[str, Any]], reference: str = "tfe") -> dict[str, Any]:
    """Per row: mean and std over seeds of the selected and last metrics, and per embedding.

    Seed s of every row starts from the same weights and sees the same batches, so differences
    are also given paired by seed, per embedding: ``delta_vs_reference`` (mAP minus the
    ``reference`` row's) and ``delta_vs_fvs`` (mAP minus f+v+s's on the same checkpoint).
    """

    def by_seed(rs: Sequence[dict[str, Any]], e: str) -> dict[int, float]:
        return {r["seed"]: r["embeddings"][e]["mAP"] for r in rs}

    ref = [r for r in runs if r["row"] == reference]
    summary: dict[str, Any] = {}
    for row in dict.fromkeys(r["row"] for r in runs):
        rs = [r for r in runs if r["row"] == row]
        s: dict[str, Any] = {"seeds": [r["seed"] for r in rs], "description": rs[0]["description"]}
        for which in ("selected", "last"):
            s[which] = {k: _mean_std([r[which][k] for r in rs]) for k in ("mAP", "R1")}
        s["embeddings"] = {
            e: {k: _mean_std([r["embeddings"][e][k] for r in rs]) for k in ("mAP", "R1")}
            for e in EMBEDDINGS
        }
        s["delta_vs_reference"] = {e: _paired(by_seed(rs, e), by_seed(ref, e)) for e in EMBEDDINGS}
        s["delta_vs_fvs"] = {e: _paired(by_seed(rs, e), by_seed(rs, "fvs")) for e in EMBEDDINGS}
        times = [r["train_s"] for r in rs if "train_s" in r]
        s["train_s"] = statistics.mean(times) if times else 0.0
        summary[row] = s
    return summary


def _fmt(ms: Sequence[float] | None, sign: bool = False) -> str:
    if ms is None:
        return "-"
    return f"{ms[0]:+.1f} ± {ms[1]:.1f}" if sign else f"{ms[0]:.1f} ± {ms[1]:.1f}"


def markdown_tables(summary: dict[str, Any], embedding: str = "f", reference: str = "tfe") -> str:
    """The rows scored with test feature ``embedding``, then every test feature per row.

    Checkpoints were selected (on the carved identities) with each run's own default embedding,
    recorded as ``embedding`` in the runs; "mAP (run's)" is that embedding's score.
    """
    name = "+".join(embedding)
    lines = [
        f"| row | what | mAP ({name}) | R1 ({name}) | Δ mAP vs {reference} (paired) "
        "| mAP (run's) | mAP last (run's) | train s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row, s in summary.items():
        e = s["embeddings"][embedding]
        lines.append(
            f"| {row} | {s['description']} | {_fmt(e['mAP'])} | {_fmt(e['R1'])} | "
            f"{_fmt(s['delta_vs_reference'][embedding], sign=True)} | "
            f"{_fmt(s['selected']['mAP'])} | {_fmt(s['last']['mAP'])} | {s['train_s']:.0f} |"
        )
    lines += [
        "",
        "Test feature: val mAP of the selected checkpoint for each concat of pre-BN parts",
        "(second line: minus f+v+s on the same checkpoint, paired by seed)",
        "",
        "| row | " + " | ".join("+".join(e) for e in EMBEDDINGS) + " |",
        "|---|" + "---|" * len(EMBEDDINGS),
    ]
    for row, s in summary.items():
        cells = " | ".join(_fmt(s["embeddings"][e]["mAP"]) for e in EMBEDDINGS)
        deltas = " | ".join(_fmt(s["delta_vs_fvs"][e], sign=True) for e in EMBEDDINGS)
        lines += [f"| {row} | {cells} |", f"| | {deltas} |"]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- CLI


def machine() -> dict[str, Any]:
    from benchmarks.model_cost import machine as model_cost_machine

    return model_cost_machine()


@cli
def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.reid_ablation", description=__doc__.split("\n")[0]
    )
    p.add_argument("--rows", nargs="+", default=list(ROWS), help=f"rows (default: {list(ROWS)})")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default: %(default)s)")
    p.add_argument("--config", default=str(CONFIG), help="training preset (default: synthetic)")
    p.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="training config override applied to every row (the shared budget)",
    )
    p.add_argument("--memory-update", choices=["none", "refined", "video"])
    p.add_argument("--output", default=str(RESULTS))
    p.add_argument("--work-dir", default="runs/reid_ablation", help="run folders while training")
    p.add_argument("--keep-checkpoints", action="store_true")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--eval-workers", type=int, default=0)
    p.add_argument("--table-only", action="store_true", help="print the table of --output")
    p.add_argument(
        "--table-embedding",
        default="f",
        choices=EMBEDDINGS,
        help="test feature of the main table (default: %(default)s, the model default)",
    )
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    output = Path(args.output)
    previous: dict[str, Any] = {}
    if output.is_file():
        try:
            previous = json.loads(output.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise UserError(f"{output} is not valid JSON ({err}); move it away") from None
    if args.table_only:
        if not previous.get("runs"):
            raise UserError(f"{output} holds no runs; run the ablation first")
        print(markdown_tables(summarize(previous["runs"]), args.table_embedding))
        return 0

    from cgclip.train.config import load_train_config
    from cgclip.train.data import load_training_data

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    config = Path(args.config)
    base = load_train_config(config, args.override)  # validates the shared overrides early
    digest = settings_digest(base)
    runs = [r for r in previous.get("runs", []) if r.get("settings") == digest]
    dataset, captions = load_training_data(base.data, progress=not args.no_progress)
    # Captions for every row: rows with data.text=idtext ignore them.
    if captions is None and dataset.captions_path is not None:
        from cgclip.captions import load_captions

        captions = load_captions(dataset.captions_path)
    info = {
        "machine": machine(),
        "config": str(config.relative_to(REPO) if config.is_relative_to(REPO) else config),
        "overrides": args.override,
        "settings": digest,
        "data": {"root": base.data.root, "summary": dataset.summary()},
        "rows": {name: desc for name, (desc, _) in ROWS.items()},
    }
    plan = [(row, seed) for row in args.rows for seed in range(args.seeds)]
    for row in args.rows:
        row_overrides(row, "none")  # unknown rows fail before any training
    bar = tqdm(plan, desc="ablation", disable=args.no_progress)
    for row, seed in bar:
        if any(r["row"] == row and r["seed"] == seed for r in runs):
            continue
        bar.set_postfix(row=row, seed=seed)
        update = args.memory_update or best_update(runs)
        overrides = [*args.override, *row_overrides(row, update)]
        record = run_one(
            row,
            seed,
            overrides,
            config,
            dataset,
            captions,
            Path(args.work_dir),
            args.eval_workers,
            args.keep_checkpoints,
        )
        record["settings"] = digest
        record["description"] = ROWS[row][0].format(update=update)
        runs.append(record)
        tqdm.write(
            f"{row} seed {seed}: mAP {record['selected']['mAP']:.1f} "
            f"R1 {record['selected']['R1']:.1f} (last {record['last']['mAP']:.1f}) "
            f"in {record['seconds']:.0f} s"
        )
        atomic_write_json(output, {**info, "runs": runs, "summary": summarize(runs)})
    summary = summarize(runs)
    atomic_write_json(output, {**info, "runs": runs, "summary": summary})
    print(markdown_tables(summary, args.table_embedding))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
