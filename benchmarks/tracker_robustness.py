"""Appearance never hurts: each family's VALIDATION split with matched, mismatched and useless
embedders, before and after the reachability gate and the adaptive trust.

    python -m benchmarks.tracker_robustness            # trains what is missing, then measures

Embedders (CG-CLIP ``cpu-small``, every detection embedded once with the tracker's own
``CgclipEmbedder``, ``benchmarks.tracker_embed_cache``):

- ``dance+sports``: trained on the dance and sports TRAIN split (``benchmarks.tracker_appearance``'s
  recipe): matched on dance and sports, mismatched on street;
- ``street``: the same recipe on the street TRAIN split: matched on street, mismatched elsewhere;
- ``random``: random init, never trained: useless everywhere.

Rows per family, with that family's preset: motion only (``--reid none``); then per embedder
``before`` (``reid_gate``, ``appearance_trust`` off, ``reid_min_margin`` 0, no
``reid_exit_buffer`` and appearance in the fused stages at :func:`fused_weight`: appearance as
it was used before this benchmark existed) and ``now`` (the preset as shipped). Checks written to
the JSON: with a useless or mismatched embedder ``now`` is at most 0.5 below motion only on IDF1
and HOTA; with the matched one, ``now`` keeps at least 90 % of ``before``'s gain over motion only.

``--choose-guards`` first chooses, per family on a TUNE split (:func:`ensure_tune`), how strict
re-identification is and the trust ramps (:data:`GUARD_CANDIDATES`, the largest
worst-check slack); the validation rows then use the choice, which a person writes into the
family's preset (``tests/benchmarks/test_tracker_robustness.py`` checks that they agree).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.tracker_appearance import data_config, ensure_checkpoint, ensure_data, kind_seqs
from benchmarks.tracker_common import RESULTS_DIR, machine_info, track_sequence
from benchmarks.tracker_embed_cache import ensure_cache, load_embedder, run_ours_replayed
from cgclip.data.synthetic import PRESETS, SyntheticConfig, generate_dataset
from cgclip.io.atomic import atomic_write_json
from cgclip.io.mot import read_mot, read_seqinfo, write_mot
from tracker.config import TrackerConfig, load_preset
from tracker.eval import evaluate

FAMILIES = ("dance", "sports", "street")
BEFORE = {
    "reid_gate": False,
    "appearance_trust": False,
    "reid_min_margin": 0.0,
    "reid_exit_buffer": None,
}
MATCHED = {"dance": "dance+sports", "sports": "dance+sports", "street": "street"}
# Appearance-guard settings --choose-guards tries per family on the TUNE split: how strict
# re-identification is (TrackerConfig's reid_rank / reid_evidence / reid_rank_margin, or loose),
# the fused stages' trust ramp and re-identification's (each from TrackerConfig's floor up to a
# stricter one, or for re-identification down to 0.65, always 0.15 wide).
_SHARED = TrackerConfig()
STRICT_REID = {k: getattr(_SHARED, k) for k in ("reid_rank", "reid_evidence", "reid_rank_margin")}
LOOSE_REID = {"reid_rank": 0.5, "reid_evidence": 1.0, "reid_rank_margin": 0.0}
FUSED_FLOORS = (0.55, 0.6, 0.65, 0.7)
REID_FLOORS = (0.65, 0.7, 0.75)
# ... or no appearance in the fused stages at all, re-identification only: on the street family
# every embedder, the matched one included, cost HOTA there on the tune split while each
# separated the people in view (one-frame separability 0.90-0.95), so no trust ramp could tell.
FUSED_OFF = {"appearance_weight": 0.0}
FUSED_OPTIONS: dict[str, dict[str, Any]] = {
    **{
        f"trust {f:g}-{f + 0.15:g}": {"trust_floor": f, "trust_full": round(f + 0.15, 2)}
        for f in FUSED_FLOORS
    },
    "fused off": FUSED_OFF,
}
GUARD_CANDIDATES: dict[str, dict[str, Any]] = {
    f"{reid} re-id, {fused}, re-id trust {r:g}-{r + 0.15:g}": {
        **knobs,
        **fused_knobs,
        "reid_trust_floor": r,
        "reid_trust_full": round(r + 0.15, 2),
    }
    for reid, knobs in (("strict", STRICT_REID), ("loose", LOOSE_REID))
    for fused, fused_knobs in FUSED_OPTIONS.items()
    for r in REID_FLOORS
}


def fused_weight(family: str) -> float:
    """The appearance weight of ``family``'s fused stages when they use appearance: its
    preset's, or TrackerConfig's where the preset has them off after a "fused off" choice."""
    return load_preset(family).appearance_weight or _SHARED.appearance_weight


def guard_candidates(family: str) -> dict[str, dict[str, Any]]:
    """:data:`GUARD_CANDIDATES` for ``family``: the options with appearance in the fused stages
    give it :func:`fused_weight`, so no option inherits an earlier "fused off" choice."""
    weight = fused_weight(family)
    return {
        label: knobs
        if knobs.items() >= FUSED_OFF.items()
        else {"appearance_weight": weight, **knobs}
        for label, knobs in GUARD_CANDIDATES.items()
    }


# Faster than this (box heights per second, about 4x a sprint) between two reports of an id is
# not a person moving: the id went to someone else.
TELEPORT_SPEED = 20.0


def street_config(seed: int) -> SyntheticConfig:
    """The street family at the size of the ``full`` preset (images, no MP4)."""
    return replace(PRESETS["full"], kinds=("street",), write_video=False, seed=seed)


def ensure_street(data: Path, seed: int) -> None:
    if not ((data / "train").is_dir() and (data / "val").is_dir()):
        generate_dataset(data, street_config(seed))


def ensure_tune(root: Path, base: SyntheticConfig) -> Path:
    """The TUNE split of ``root``'s dataset (generated with ``base``): a third split of the same
    generator config, with people that neither the embedders (trained on ``train``) nor the
    validation split saw (the generator cycles through its costumes, so with the ``full``
    preset one troupe and one team wear a training group's colours on new people and, for the
    team, in another sport). Choosing the guards on ``train`` measured the
    matched embedder on the people it was trained on, which it tells apart better than anyone
    new: the guards chosen there were too strict for new people."""
    tune = root.parent / f"{root.name}-tune"
    if not (tune / "tune").is_dir():
        generate_dataset(tune, replace(base, splits=("train", "val", "tune")))
        # The first two splits repeat root's (same seed): only the third is new.
        for split in ("train", "val"):
            shutil.rmtree(tune / split, ignore_errors=True)
    return tune / "tune"


def ensure_random_checkpoint(path: Path, seed: int, model: str = "cpu-small") -> Path:
    """A never-trained ``model`` (seeded random init) saved at ``path``, unless already there."""
    if path.is_file():
        return path
    import torch

    import cgclip

    torch.manual_seed(seed)
    net = cgclip.create_model(model)
    return cgclip.save_checkpoint(net, path, meta={"note": "random init, never trained"})


def teleports(rows: np.ndarray, fps: float, max_speed: float = TELEPORT_SPEED) -> int:
    """How often an id jumps faster than ``max_speed`` box heights per second between two
    consecutive reports (MOT rows ``(N, 10)``): an identity handed to someone else."""
    count = 0
    for tid in np.unique(rows[:, 1]):
        r = rows[rows[:, 1] == tid]
        r = r[np.argsort(r[:, 0])]
        centre = r[:, 2:4] + r[:, 4:6] / 2
        dt = np.diff(r[:, 0]) / fps
        height = np.maximum(r[:-1, 5], 1.0)
        speed = np.linalg.norm(np.diff(centre, axis=0), axis=1) / height / np.maximum(dt, 1e-9)
        count += int((speed > max_speed).sum())
    return count


def score(folder: Path, split_dir: Path, seqs: list[str]) -> dict[str, Any]:
    """Combined metrics, teleports, and HOTA / IDF1 per sequence (``per_sequence``)."""
    ev = evaluate([str(split_dir / s) for s in seqs], folder)
    c = ev["combined"]
    out: dict[str, Any] = {k: c[k] for k in ("HOTA", "IDF1", "MOTA", "AssA", "IDSW")}
    out["per_sequence"] = {s: {k: ev["sequences"][s][k] for k in ("HOTA", "IDF1")} for s in seqs}
    out["teleports"] = sum(
        teleports(
            read_mot(folder / f"{s}.txt", kind="results"), read_seqinfo(split_dir / s).frame_rate
        )
        for s in seqs
    )
    return out


def family_rows(
    family: str,
    split_dir: Path,
    checkpoints: dict[str, Path],
    cache_root: Path,
    max_seqs: int | None = None,
    nows: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Motion only, then per embedder ``before`` and ``now``: the preset as shipped, or with
    each of ``nows``' knobs (rows ``"<embedder> (<label>)"``)."""
    seqs = kind_seqs(split_dir, family)[:max_seqs]
    preset = load_preset(family)
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        motion = Path(tmp) / "motion"
        for seq in seqs:
            write_mot(motion / f"{seq}.txt", track_sequence(split_dir / seq, preset))
        rows["motion only"] = score(motion, split_dir, seqs)
        for name, ckpt in checkpoints.items():
            cache = ensure_cache(split_dir, ckpt, cache_root, seqs=seqs)
            embedder = load_embedder(ckpt)
            # before: appearance in the fused stages too, as it was before any guard choice
            before = {**BEFORE, "appearance_weight": fused_weight(family)}
            settings = {"before": before, **(nows or {"now": {}})}
            for label, cfg in ((k, preset.replace(**v)) for k, v in settings.items()):
                folder = Path(tmp) / f"{name}-{label}"
                stats: dict[str, Any] = {}
                run_ours_replayed(
                    split_dir, seqs, lambda _s, c=cfg: c, cache, embedder, folder, stats=stats
                )
                rows[f"{name} ({label})"] = score(folder, split_dir, seqs) | {
                    "trust": stats["trust"],  # final, per sequence
                    "separability": stats["separability"],
                    "reid_trust": stats["reid_trust"],
                    "reid_separability": stats["reid_separability"],
                }
    return rows


def slack(family: str, rows: dict[str, Any], now: str = "now") -> float:
    """How far the family's worst check is from failing (negative: failing), in points, for the
    rows labelled ``now``."""
    motion = rows["motion only"]
    worst = np.inf
    for name in ("dance+sports", "street", "random"):
        after, before = rows[f"{name} ({now})"], rows[f"{name} (before)"]
        for k in ("HOTA", "IDF1"):
            gain = before[k] - motion[k]
            if name == MATCHED[family] and gain > 0:
                worst = min(worst, after[k] - motion[k] - 0.9 * gain)  # keeps 90% of its gain
            else:
                worst = min(worst, after[k] - motion[k] + 0.5)
    return float(worst)


def _family_rows_job(job: tuple) -> dict[str, Any]:
    return family_rows(*job)


def choose_guards(
    family: str,
    split_dir: Path,
    checkpoints: dict[str, Path],
    cache: Path,
    max_seqs: int | None,
    workers: int = 1,
) -> dict[str, Any]:
    """The :func:`guard_candidates` entry with the largest worst-check slack on ``family``'s
    TUNE split ``split_dir``; ties go to the larger gain of the matched embedder. ``workers``
    processes share the candidates (each also runs motion only and ``before``)."""
    candidates = guard_candidates(family)
    labels = list(candidates)
    jobs = [
        (family, split_dir, checkpoints, cache, max_seqs, {k: candidates[k] for k in part})
        for part in (labels[i::workers] for i in range(workers))
        if part
    ]
    if len(jobs) > 1:
        seqs = kind_seqs(split_dir, family)[:max_seqs]
        for ckpt in checkpoints.values():  # embedded once, before the workers read it
            ensure_cache(split_dir, ckpt, cache, seqs=seqs)
        # spawn: a forked child of a process that has run torch can hang on its thread pool
        with ProcessPoolExecutor(len(jobs), mp_context=get_context("spawn")) as pool:
            parts = list(pool.map(_family_rows_job, jobs))
    else:
        parts = [family_rows(*jobs[0])]
    rows = {k: v for part in parts for k, v in part.items()}
    motion, matched = rows["motion only"], MATCHED[family]
    scores = {}
    for label in candidates:
        gain = sum(rows[f"{matched} ({label})"][k] - motion[k] for k in ("HOTA", "IDF1"))
        scores[label] = {"slack": slack(family, rows, label), "matched_gain": gain}
        print(f"{family} {label}: slack on tune {scores[label]['slack']:+.2f}", flush=True)
    best = max(scores, key=lambda k: (round(scores[k]["slack"], 6), scores[k]["matched_gain"]))
    return {
        "split": split_dir.name,
        "scores": scores,
        "chosen": best,
        "knobs": candidates[best],
        "rows": rows,
    }


def checks(family: str, rows: dict[str, Any]) -> dict[str, Any]:
    motion = rows["motion only"]
    out: dict[str, Any] = {}
    for name in ("dance+sports", "street", "random"):
        now = rows[f"{name} ({'now'})"]
        if name == MATCHED[family]:
            before = rows[f"{name} (before)"]
            gain = {k: before[k] - motion[k] for k in ("HOTA", "IDF1")}
            kept = {k: now[k] - motion[k] for k in ("HOTA", "IDF1")}
            # A matched embedder that gained nothing before is held to "never hurts" instead.
            out[f"{name}: matched, keeps >= 90% of its gain (or >= -0.5 without one)"] = {
                "gain_before": gain,
                "gain_now": kept,
                "ok": all(kept[k] >= (0.9 * gain[k] if gain[k] > 0 else -0.5) for k in gain),
            }
        else:
            drop = {k: now[k] - motion[k] for k in ("HOTA", "IDF1")}
            role = "useless" if name == "random" else "mismatched"
            out[f"{name}: {role}, never more than 0.5 below motion only"] = {
                "vs_motion_only": drop,
                "ok": all(v >= -0.5 for v in drop.values()),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("data/synth-full"), help="dance + sports")
    p.add_argument("--street", type=Path, default=Path("data/synth-street"))
    p.add_argument("--runs", type=Path, default=Path("runs/robust"), help="checkpoints")
    p.add_argument("--cache", type=Path, default=Path("data/feature-cache"))
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--seed", type=int, default=0, help="the street dataset's generator seed")
    p.add_argument(
        "--embedder-seed",
        type=int,
        default=0,
        help="training and random-init seed of the embedders (another draw: another --runs)",
    )
    p.add_argument("--epochs", type=int, default=60, help="training epochs, dance+sports")
    p.add_argument("--street-epochs", type=int, default=60, help="training epochs, street")
    p.add_argument("--max-seqs", type=int, help="validation sequences per family (default: all)")
    p.add_argument("--workers", type=int, default=2, help="processes for --choose-guards")
    p.add_argument(
        "--choose-guards",
        action="store_true",
        help="first choose each family's re-identification strictness and trust ramps on the "
        "TUNE split (the checks' worst slack); the presets are written by hand from it",
    )
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "tracker_robustness.json")
    args = p.parse_args(argv)
    t0 = time.time()
    ensure_data(args.data)
    ensure_street(args.street, args.seed)
    schedules = {
        name: [
            f"optim.epochs={n}",
            f"optim.milestones=[{max(1, n * 3 // 4)}]",
            f"run.seed={args.embedder_seed}",
        ]
        for name, n in (("dance+sports", args.epochs), ("street", args.street_epochs))
    }
    checkpoints = {
        "dance+sports": ensure_checkpoint(
            args.data, args.runs / "ckpt-dancesports", schedules["dance+sports"]
        ),
        "street": ensure_checkpoint(args.street, args.runs / "ckpt-street", schedules["street"]),
        "random": ensure_random_checkpoint(
            args.runs / "ckpt-random.safetensors", args.embedder_seed
        ),
    }
    result: dict[str, Any] = {
        "machine": machine_info(),
        "split": "val",
        "before": BEFORE,
        "matched": MATCHED,
        "checkpoints": {k: str(v) for k, v in checkpoints.items()},
        "train_overrides": schedules,
        "embedder_seed": args.embedder_seed,
        "max_seqs_per_family": args.max_seqs,
        "families": {},
    }
    families = [f for f in args.families.split(",") if f]
    if args.choose_guards:
        tune = {
            "street": ensure_tune(args.street, street_config(args.seed)),
            "data": ensure_tune(args.data, data_config()),
        }
        result["guard_choice"] = {
            family: choose_guards(
                family,
                tune["street" if family == "street" else "data"],
                checkpoints,
                args.cache,
                args.max_seqs,
                args.workers,
            )
            for family in families
        }
    for family in families:
        split_dir = (args.street if family == "street" else args.data) / "val"
        # After a choice, "now" is the preset with the chosen knobs (what it ships once they
        # are written into tracker/presets/<family>.yaml; a test holds the two together).
        knobs = result.get("guard_choice", {}).get(family, {}).get("knobs", {})
        rows = family_rows(
            family, split_dir, checkpoints, args.cache, args.max_seqs, {"now": knobs}
        )
        result["families"][family] = {
            "preset": TrackerConfig.to_dict(load_preset(family).replace(**knobs)),
            "rows": rows,
            "checks": checks(family, rows),
        }
        for name, r in rows.items():
            print(f"{family:<7} {name:<24} HOTA {r['HOTA']:6.2f} IDF1 {r['IDF1']:6.2f}")
    result["seconds"] = time.time() - t0
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


def choice_split(choice: dict[str, Any]) -> str:
    """The split the guards were chosen on, as the table names it."""
    return "/".join(sorted({c["split"].upper() for c in choice.values()}))


def render_choice(choice: dict[str, Any]) -> list[str]:
    """Markdown: every family's worst-check slack for each candidate, as a grid of the fused
    stages' ramp (rows) by re-identification's ramp (columns), strict / loose in each cell."""
    ramp = "{:g}-{:g}".format
    grid: dict[tuple, list[str]] = {}  # (fused option, re-id ramp) -> strict and loose labels
    for label, k in GUARD_CANDIDATES.items():
        fused_option = next(f for f, v in FUSED_OPTIONS.items() if v.items() <= k.items())
        grid.setdefault((fused_option, (k["reid_trust_floor"], k["reid_trust_full"])), []).append(
            label
        )
    reid = sorted({r for _, r in grid})
    lines = [
        f"Worst check slack on the {choice_split(choice)} split for every `--choose-guards` "
        "candidate (strict / loose re-identification; chosen in bold):",
        "",
        "| family | fused stages | " + " | ".join(f"re-id trust {ramp(*r)}" for r in reid) + " |",
        "|---|---|" + "---|" * len(reid),
    ]
    for family, c in choice.items():

        def slack_text(label: str, c=c) -> str:
            text = f"{c['scores'][label]['slack']:+.2f}"
            return f"**{text}**" if label == c["chosen"] else text

        for f in FUSED_OPTIONS:
            cells = [" / ".join(map(slack_text, grid[f, r])) for r in reid]
            lines.append(f"| {family} | {f} | " + " | ".join(cells) + " |")
    return lines


def per_sequence_gains(rows: dict[str, Any], name: str, label: str = "now") -> str:
    """``"+1.9 / +2.2, -0.9 / -0.2"``: ``name``'s row ``label`` minus motion only, sequence by
    sequence (HOTA / IDF1); empty for results written before rows kept their sequences."""
    motion, after = rows["motion only"], rows[f"{name} ({label})"]
    if "per_sequence" not in motion or "per_sequence" not in after:
        return ""
    return ", ".join(
        " / ".join(f"{after['per_sequence'][s][k] - m[k]:+.1f}" for k in ("HOTA", "IDF1"))
        for s, m in motion["per_sequence"].items()
    )


def render(result: dict[str, Any]) -> str:
    """Markdown: per family, motion only and each embedder before / now, then the checks."""
    lines = [
        "| family | run | HOTA | IDF1 | IDSW | teleports |",
        "|---|---|---|---|---|---|",
    ]
    for family, body in result["families"].items():
        for name, r in body["rows"].items():
            lines.append(
                f"| {family} | {name} | {r['HOTA']:.2f} | {r['IDF1']:.2f} | {r['IDSW']} "
                f"| {r['teleports']} |"
            )
    lines += [
        "",
        "| family | check | ok | now - motion only, per sequence (HOTA / IDF1) |",
        "|---|---|---|---|",
    ]
    for family, body in result["families"].items():
        for check, c in body["checks"].items():
            spread = per_sequence_gains(body["rows"], check.split(":")[0])
            lines.append(f"| {family} | {check} | {'yes' if c['ok'] else '**no**'} | {spread} |")
    choice = result.get("guard_choice")
    if choice:
        lines += ["", *render_choice(choice)]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
