"""A real pedestrian clip without ground truth: does appearance ever make tracking worse than
motion only?

    python -m benchmarks.real_clip --video CLIP      # e.g. data/clips/vtest.avi

The clip is never committed (its licence is unknown): it is given by path, and the JSON records
its sha256, size and frame count. Stages, each cached so a rerun only repeats what changed:

1. **Detect once.** ``--detector hog`` (:class:`tracker.detectors.HogDetector` at
   ``--hog-upscale``, boxes below the trackers' ``low_thresh`` dropped) over every frame; the
   boxes go to ``<cache>/<video stem>/det/det.txt`` beside a ``seqinfo.ini``, a MOT sequence
   whose frames stay in the video. Every tracking run replays them.
2. **Embedders.** CG-CLIP: ``random`` (``--model``, default ``cpu-small``, random init: useless)
   and ``synthetic`` (``cpu-small`` trained on the project's synthetic ``reid`` set for
   ``--epochs`` epochs with the training CLI, or ``--checkpoint``): out of domain on real footage, the situation of the
   issue-9 user report. Every detection is embedded once (``benchmarks.tracker_embed_cache``).
3. **Track** with each of ``--presets``: motion only (``--reid none``), then per embedder
   ``before`` (gate, trust and margin off: ``tracker_robustness.BEFORE``) and ``now`` (the preset
   as shipped).
4. **Score without ground truth.** Per run: ``teleports`` (id jumps faster than 20 box heights
   per second, ``tracker_robustness.teleports``), ids, mean track length (frames with a box),
   and agreement with motion only, used as pseudo ground truth: IDF1 and IDSW
   (:func:`tracker.eval.evaluate`), and, from boxes matched frame by frame at IoU >= 0.5, how
   many motion-only tracks the run splits (their frames go to two or more of its ids), how
   many of its ids join two or more motion-only tracks (a join may be right or wrong), and its
   far :func:`moves` (an id leaving one motion-only track for another at least ``FAR_MOVE`` box
   heights away; ``benchmarks.real_clip_review`` draws them to judge by eye). Check: ``now``
   never has more teleports than motion only.

Writes ``benchmarks/results/real_clip.json``; ``python -m benchmarks.render_docs`` puts its table
into docs/robustness.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks.hog_upscale_check import render_choice, upscale_choice
from benchmarks.tracker_appearance import ensure_checkpoint
from benchmarks.tracker_common import RESULTS_DIR, machine_info, track_sequence
from benchmarks.tracker_embed_cache import ensure_cache, load_embedder, run_ours_replayed
from benchmarks.tracker_robustness import (
    BEFORE,
    TELEPORT_SPEED,
    ensure_random_checkpoint,
    teleports,
)
from cgclip.io.atomic import atomic_write_json
from cgclip.io.mot import (
    DET_TXT,
    GT_TXT,
    SeqInfo,
    read_mot,
    read_seqinfo,
    rows_to_xyxy,
    write_mot,
    write_seqinfo,
    xyxy_to_rows,
)
from cgclip.io.video import open_video
from tracker.batch_jobs import sha256_file
from tracker.config import load_preset
from tracker.detectors import HogDetector
from tracker.eval import evaluate
from tracker.matching import box_iou, linear_assignment

PRESETS = ("street", "default")
HOG_UPSCALE = 1.5  # the walkers are 60-140 px tall; see benchmarks.hog_upscale_check
MATCH_IOU = 0.5  # a box of a run is the same person as a motion-only box at this IoU
MIN_SHARED = 5  # frames two tracks must share to count as the same person (split / join)
# A move of an id between motion-only tracks this many box heights or more: on the 1280x720 clip
# of real_clip_720p.json most of these were another person, judged by eye (docs/robustness.md);
# nearer ones were mostly right.
FAR_MOVE = 1.5
TRAIN_DATA = Path("data/synthetic-reid")  # configs/train/synthetic.yaml generates it when missing


def video_record(video: Path) -> dict[str, Any]:
    return {"name": video.name, "sha256": sha256_file(video), "bytes": video.stat().st_size}


def detect_video(
    video: Path, seq_dir: Path, upscale: float, conf: float, max_frames: int | None = None
) -> dict[str, Any]:
    """HOG over every frame of ``video`` (or the first ``max_frames``) into the MOT sequence
    ``seq_dir`` (``det/det.txt`` + ``seqinfo.ini``); reused while ``detect.json`` matches."""
    stamp = seq_dir / "detect.json"
    key = {**video_record(video), "upscale": upscale, "conf": conf, "max_frames": max_frames}
    if stamp.is_file():
        old = json.loads(stamp.read_text())
        if old.get("key") == key and (seq_dir / DET_TXT).is_file():
            return old
    detector = HogDetector(conf=conf, upscale=upscale)
    t0 = time.perf_counter()
    rows = []
    with open_video(video) as reader:
        info = reader.info
        total = min(info.frame_count or 0, max_frames or np.inf) or None
        frames = 0
        for fid, frame in enumerate(tqdm(reader, total=total, desc="hog", unit="frame"), 1):
            (det,) = detector.detect([frame], [fid])
            rows.append(xyxy_to_rows(fid, -np.ones(len(det)), det.xyxy, det.confidence))
            frames = fid
            if max_frames is not None and fid >= max_frames:
                break
    seconds = time.perf_counter() - t0
    det_rows = np.concatenate(rows) if rows else np.zeros((0, 10))
    write_mot(seq_dir / DET_TXT, det_rows)
    write_seqinfo(seq_dir, SeqInfo(seq_dir.name, info.fps, frames, info.width, info.height))
    out = {
        "key": key,
        "frames": frames,
        "container_frame_count": info.frame_count,
        "fps": info.fps,
        "size": [info.width, info.height],
        "detections": len(det_rows),
        "per_frame": round(len(det_rows) / max(frames, 1), 2),
        "seconds": round(seconds, 1),
    }
    atomic_write_json(stamp, out)
    return out


def pseudo_gt(rows: np.ndarray, info: SeqInfo, folder: Path) -> Path:
    """A MOT sequence whose ground truth is ``rows`` (motion only): every box a pedestrian."""
    gt = rows.copy()
    gt[:, 6:9] = 1.0
    write_mot(folder / GT_TXT, gt)
    write_seqinfo(folder, info)
    return folder


def matched_boxes(ref: np.ndarray, run: np.ndarray) -> list[tuple[int, int, int, np.ndarray]]:
    """``(frame, ref id, run id, run box xywh)`` for the boxes of two runs matched one-to-one
    per frame at IoU >= :data:`MATCH_IOU`, in frame order."""
    out = []
    run_by_frame = {int(f): run[run[:, 0] == f] for f in np.unique(run[:, 0])}
    for f in np.unique(ref[:, 0]):
        a, b = ref[ref[:, 0] == f], run_by_frame.get(int(f))
        if b is None:
            continue
        cost = 1 - box_iou(rows_to_xyxy(a), rows_to_xyxy(b))
        matches, _, _ = linear_assignment(cost, 1 - MATCH_IOU)
        for i, j in sorted(matches.tolist()):
            out.append((int(f), int(a[i, 1]), int(b[j, 1]), b[j, 2:6]))
    return out


def track_overlap(ref: np.ndarray, run: np.ndarray) -> dict[tuple[int, int], int]:
    """``{(ref id, run id): frames}`` of :func:`matched_boxes`."""
    shared: dict[tuple[int, int], int] = {}
    for _, r, t, _ in matched_boxes(ref, run):
        shared[r, t] = shared.get((r, t), 0) + 1
    return shared


def moves(motion: np.ndarray, run: np.ndarray) -> list[dict[str, Any]]:
    """Every time an id of ``run`` leaves the motion-only track it follows for another one and
    stays there at least :data:`MIN_SHARED` of its next 10 matched frames (shorter visits are
    blips). Right when motion only lost or swapped the person, wrong when appearance handed the
    id to someone else: ``benchmarks.real_clip_review`` draws them to judge by eye."""
    path: dict[int, list[tuple[int, int, np.ndarray]]] = {}
    for f, m, tid, box in matched_boxes(motion, run):
        path.setdefault(tid, []).append((f, m, box))
    out = []
    for tid, steps in sorted(path.items()):
        last = steps[0]  # the id's last frame on the motion track it follows now
        for k in range(1, len(steps)):
            f2, m2, b2 = steps[k]
            if m2 != last[1] and sum(s[1] == m2 for s in steps[k : k + 10]) < MIN_SHARED:
                continue
            if m2 != last[1]:
                f1, m1, b1 = last
                jump = float(np.hypot(*(b2[:2] + b2[2:] / 2 - b1[:2] - b1[2:] / 2)))
                out.append(
                    {
                        "id": tid,
                        "from_track": m1,
                        "to_track": m2,
                        "frames": [f1, f2],
                        "boxes": [b1.round(1).tolist(), b2.round(1).tolist()],
                        "jump_px": round(jump, 1),
                        "jump_heights": round(jump / max(float(b1[3]), 1.0), 2),
                    }
                )
            last = steps[k]
    return out


def splits_and_joins(ref: np.ndarray, run: np.ndarray) -> dict[str, int]:
    """Motion-only tracks split over two or more of the run's ids, run ids joining two or more
    motion-only tracks (pairs sharing at least :data:`MIN_SHARED` frames), and the
    :func:`moves` of at least :data:`FAR_MOVE` box heights."""
    pairs = [p for p, n in track_overlap(ref, run).items() if n >= MIN_SHARED]
    refs = np.array([p[0] for p in pairs])
    runs = np.array([p[1] for p in pairs])
    split = sum(1 for r in np.unique(refs) if (refs == r).sum() > 1)
    joined = sum(1 for r in np.unique(runs) if (runs == r).sum() > 1)
    far = sum(1 for m in moves(ref, run) if m["jump_heights"] >= FAR_MOVE)
    return {"motion_tracks_split": split, "ids_joining_motion_tracks": joined, "far_moves": far}


def describe(rows: np.ndarray, fps: float) -> dict[str, Any]:
    ids, counts = np.unique(rows[:, 1], return_counts=True)
    return {
        "ids": len(ids),
        "mean_track_frames": round(float(counts.mean()), 1) if len(ids) else 0.0,
        "teleports": teleports(rows, fps),
    }


def run_preset(
    preset_name: str,
    seq_dir: Path,
    caches: dict[str, Path],
    embedders: dict[str, Any],
    tmp: Path,
) -> dict[str, Any]:
    """Motion only, then per embedder ``before`` and ``now``, all scored against motion only."""
    info = read_seqinfo(seq_dir)
    preset = load_preset(preset_name)
    t0 = time.perf_counter()
    motion = track_sequence(seq_dir, preset)
    rows: dict[str, Any] = {
        "motion only": {**describe(motion, info.frame_rate), "seconds": _since(t0)}
    }
    ref = pseudo_gt(motion, info, tmp / preset_name / "pseudo" / seq_dir.name)
    for name, embedder in embedders.items():
        for label, cfg in (("before", preset.replace(**BEFORE)), ("now", preset)):
            t0 = time.perf_counter()
            folder = tmp / preset_name / f"{name}-{label}"
            stats: dict[str, Any] = {}
            run_ours_replayed(
                seq_dir.parent, [seq_dir.name], lambda _s, c=cfg: c, caches[name], embedder,
                folder, stats=stats,
            )  # fmt: skip
            seconds = _since(t0)
            out = read_mot(folder / f"{seq_dir.name}.txt", kind="results")
            agree = evaluate([ref], folder)["combined"]
            rows[f"{name} ({label})"] = {
                **describe(out, info.frame_rate),
                "vs_motion_only": {
                    "IDF1": round(agree["IDF1"], 2),
                    "IDSW": agree["IDSW"],
                    **splits_and_joins(motion, out),
                },
                "trust": stats["trust"][0],
                "separability": stats["separability"][0],
                "reid_trust": stats["reid_trust"][0],
                "reid_separability": stats["reid_separability"][0],
                "seconds": seconds,
            }
    checks = {
        f"{name}: now has no more teleports than motion only": {
            "now": rows[f"{name} (now)"]["teleports"],
            "motion_only": rows["motion only"]["teleports"],
            "ok": rows[f"{name} (now)"]["teleports"] <= rows["motion only"]["teleports"],
        }
        for name in embedders
    }
    return {"preset": preset.to_dict(), "rows": rows, "checks": checks}


def embed(seq_dir: Path, ckpt: Path, features: Path, video: Path) -> tuple[Path, float]:
    """The sequence's cached features for ``ckpt`` (embedded now if missing) and the seconds
    embedding them took (kept beside the cache)."""
    t0 = time.perf_counter()
    cache = ensure_cache(
        seq_dir.parent, ckpt, features, seqs=[seq_dir.name], videos={seq_dir.name: video}
    )
    stamp = cache / f"{seq_dir.name}.seconds.json"
    if not stamp.is_file():
        atomic_write_json(stamp, {"seconds": _since(t0)})
    return cache, json.loads(stamp.read_text())["seconds"]


def _since(t0: float) -> float:
    return round(time.perf_counter() - t0, 1)


def timed(fn: Callable[[], Any], seconds: dict[str, float], key: str) -> Any:
    t0 = time.perf_counter()
    out = fn()
    seconds[key] = _since(t0)
    return out


def synthetic_checkpoint(
    args: argparse.Namespace, seconds: dict[str, float]
) -> tuple[Path, dict[str, Any]]:
    """``--checkpoint``, or CG-CLIP ``cpu-small`` (``configs/train/synthetic.yaml``) trained on
    the synthetic set for ``--epochs`` (cached; the training's own seconds are kept beside it).
    Returns the checkpoint and what the JSON records of its training."""
    if args.checkpoint:
        return args.checkpoint, {"checkpoint": str(args.checkpoint), "trained_here": False}
    n = args.epochs
    out = args.runs / f"ckpt-synthetic-{n}ep"
    stamp = out / "train_seconds.json"
    schedule = [f"optim.epochs={n}", f"optim.milestones=[{max(1, n * 3 // 4)}]", "run.eval_every=4"]
    t0 = time.perf_counter()
    ckpt = ensure_checkpoint(args.train_data, out, schedule)
    if not stamp.is_file():
        atomic_write_json(stamp, {"seconds": _since(t0), "overrides": schedule})
    seconds["train"] = round(json.loads(stamp.read_text())["seconds"], 1)
    metrics = json.loads((out / "metrics.json").read_text())
    val = [m for m in metrics if m.get("val_mAP") is not None]
    return ckpt, {
        "checkpoint": str(ckpt),
        "trained_here": True,
        "data": str(args.train_data),
        "config": "configs/train/synthetic.yaml",
        "overrides": schedule,
        "epochs": n,
        "seconds": seconds["train"],
        "last_val_mAP": round(val[-1]["val_mAP"], 4) if val else None,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, required=True, help="the clip (never committed)")
    p.add_argument("--cache", type=Path, default=Path("data/real"), help="detections, per clip")
    p.add_argument("--features", type=Path, default=Path("data/feature-cache"))
    p.add_argument("--runs", type=Path, default=Path("runs/realclip"), help="checkpoints")
    p.add_argument("--train-data", type=Path, default=TRAIN_DATA)
    p.add_argument("--checkpoint", type=Path, help="the synthetic-trained model (default: train)")
    p.add_argument("--model", default="cpu-small", help="CG-CLIP variant of the random model")
    p.add_argument("--epochs", type=int, default=12, help="training epochs on synthetic data")
    p.add_argument("--hog-upscale", type=float, default=HOG_UPSCALE)
    p.add_argument("--presets", default=",".join(PRESETS))
    p.add_argument("--max-frames", type=int, help="only the first frames (tests)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "real_clip.json")
    args = p.parse_args(argv)
    presets = [x for x in args.presets.split(",") if x]
    floor = min(load_preset(x).low_thresh for x in presets)  # the trackers drop boxes below it
    seconds: dict[str, float] = {}
    seq_dir = args.cache / args.video.stem
    detection = detect_video(args.video, seq_dir, args.hog_upscale, floor, args.max_frames)
    seconds["detect"] = detection["seconds"]
    video = {**video_record(args.video), "frames": detection["frames"]}
    synthetic, training = synthetic_checkpoint(args, seconds)
    checkpoints = {
        "random": ensure_random_checkpoint(
            args.runs / f"ckpt-random-{args.model}.safetensors", args.seed, args.model
        ),
        "synthetic": synthetic,
    }
    caches, embedders = {}, {}
    for name, ckpt in checkpoints.items():
        caches[name], seconds[f"embed {name}"] = embed(seq_dir, ckpt, args.features, args.video)
        embedders[name] = load_embedder(ckpt)
    result: dict[str, Any] = {
        "machine": machine_info(),
        "video": video,
        "detector": {"name": "hog", "upscale": args.hog_upscale, "conf": floor, **detection},
        "upscale_choice": upscale_choice(args.video, floor, video["sha256"]),
        "checkpoints": {k: str(v) for k, v in checkpoints.items()},
        "training": training,
        "before": BEFORE,
        "teleport_speed": TELEPORT_SPEED,
        "match": {"iou": MATCH_IOU, "min_shared_frames": MIN_SHARED, "far_move": FAR_MOVE},
        "presets": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in presets:
            result["presets"][name] = timed(
                lambda n=name: run_preset(n, seq_dir, caches, embedders, Path(tmp)),
                seconds,
                f"track + score {name}",
            )
    result["seconds"] = seconds
    result["checks_ok"] = all(
        c["ok"] for body in result["presets"].values() for c in body["checks"].values()
    )
    atomic_write_json(args.out, result)
    print(render(result))
    print(f"wrote {args.out}")
    return 0


def render(result: dict[str, Any]) -> str:
    """Markdown: per preset, motion only and each embedder before / now, then the checks."""
    from benchmarks.render_docs import md_table

    rows = []
    for preset, body in result["presets"].items():
        for name, r in body["rows"].items():
            vs = r.get("vs_motion_only")
            agree = (
                [f"{vs['IDF1']:.2f}", vs["IDSW"], vs["motion_tracks_split"],
                 vs["ids_joining_motion_tracks"], vs["far_moves"]]
                if vs else ["(reference)", "", "", "", ""]
            )  # fmt: skip
            rows.append(
                [preset, name, r["ids"], f"{r['mean_track_frames']:.1f}", r["teleports"], *agree]
            )
    header = [
        "preset", "run", "ids", "mean track length (frames)", "teleports",
        "IDF1 vs motion only", "IDSW vs motion only", "motion tracks split",
        "ids joining motion tracks",
        f"far moves (>= {result['match']['far_move']:g} heights)",
    ]  # fmt: skip
    checks = [
        [preset, check, "yes" if c["ok"] else "**no**"]
        for preset, body in result["presets"].items()
        for check, c in body["checks"].items()
    ]
    v, d = result["video"], result["detector"]
    where = (
        f"Clip `{v['name']}` (sha256 `{v['sha256'][:16]}...`, {v['bytes']} bytes, "
        f"{v['frames']} frames at {d['fps']:g} fps, {d['size'][0]}x{d['size'][1]}); HOG at "
        f"upscale {d['upscale']:g}, boxes with confidence >= {d['conf']:g}: "
        f"{d['detections']} detections ({d['per_frame']:g} per frame)."
    )
    parts = [md_table(header, rows), "", md_table(["preset", "check", "ok"], checks), "", where]
    t = result.get("training") or {}
    if t.get("trained_here"):
        parts[-1] += (
            f" `synthetic`: {t['epochs']} epochs of `{t['config']}` ({t['seconds']:.0f} s), "
            f"validation mAP {t['last_val_mAP']:.2f} on held-out synthetic identities."
        )
    choice = result.get("upscale_choice")
    if choice:
        parts += ["", render_choice(choice)]
    return "\n".join(parts)


if __name__ == "__main__":
    raise SystemExit(main())
