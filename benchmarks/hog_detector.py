"""The numpy HOG people detector against OpenCV 4's ``HOGDescriptor.detectMultiScale``.

    .venv-bench/bin/python -m benchmarks.hog_detector   # writes benchmarks/results/hog_detector.json

Needs OpenCV 4 (``HOGDescriptor``), which OpenCV 5 dropped: run it with the bench venv
(``bash benchmarks/setup_bench_env.sh``, which brings opencv-python 4.x with BoxMOT).

Frames: synthetic 768x576 JPEG frames (``cgclip.data.synthetic``, the ``street``, ``dance`` and
``sports`` kinds, one sequence each, 2 frames per second so people move between frames) with
their ground-truth boxes. There is no real footage on this machine; these are cartoon people.

- **Speed.** Both detectors find every raw window (no grouping) with identical parameters
  (64x128 window, winStride 8, padding 0, hit threshold 0) on one core (``cv2.setNumThreads(1)``,
  BLAS 1 thread), at two pyramid steps: 1.1 (``--detector hog``'s) and 1.05 (OpenCV's default).
  Each round runs every frame through each contender, in an order that shifts by one each
  round; CPU seconds per frame give one-core FPS, and the median of the per-round ratios
  compares them. Load average, threads and CPU time are recorded.
- **Parity.** The raw windows of both on every frame: how many are the same, and the largest
  margin difference on shared windows.
- **Recall / precision** at ``--detector hog``'s settings (upscale 1 and 2) and at scale 1.05.
  Both detectors' raw windows go through the same post-processing
  (:class:`tracker.detectors.HogDetector`: person box inside each window, NMS at IoU 0.45) and
  are matched one-to-one to ground truth at IoU >= 0.5 (recall counts people at least half
  visible; a detection matched to any person counts for precision). Also OpenCV 4 as most code
  calls it (``detectMultiScale`` defaults: ``groupRectangles`` with groupThreshold 2, window
  boxes), for reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks.tracker_common import RESULTS_DIR, machine_info
from cgclip.io.atomic import atomic_write_json

KINDS = ("street", "dance", "sports")
DEFAULT_SCALE = 1.1  # tracker.detectors.HogDetector's pyramid step
SIZE = (768, 576)
IOU = 0.5
MIN_VISIBILITY = 0.5


@dataclass
class Frame:
    kind: str
    image: np.ndarray
    gt: np.ndarray  # (N, 4) xyxy
    visibility: np.ndarray  # (N,)


def make_frames(root: Path, per_kind: int) -> list[Frame]:
    """``per_kind`` synthetic 768x576 frames of each kind, with ground truth (cached in root)."""
    import cv2

    from cgclip.data.synthetic.generate import PRESETS, generate_dataset
    from cgclip.io.mot import read_mot

    cfg = replace(
        PRESETS["test"],
        width=SIZE[0],
        height=SIZE[1],
        kinds=KINDS,
        splits=("val",),
        seqs_per_split=1,
        walkers=(10, 10),
        frames=per_kind,
        fps=2.0,
        write_video=False,
    )
    generate_dataset(root, cfg, progress=False)
    frames = []
    for seq in sorted((root / "val").iterdir()):
        gt = read_mot(seq / "gt" / "gt.txt", kind="gt")
        for path in sorted((seq / "img1").glob("*.jpg")):
            rows = gt[gt[:, 0] == int(path.stem)]
            boxes = np.concatenate([rows[:, 2:4], rows[:, 2:4] + rows[:, 4:6]], axis=1)
            frames.append(Frame(seq.name.split("-")[0], cv2.imread(str(path)), boxes, rows[:, 8]))
    return frames


def opencv4_hog():
    import cv2

    if not hasattr(cv2, "HOGDescriptor"):
        raise SystemExit(
            f"OpenCV {cv2.__version__} has no HOGDescriptor (OpenCV 5 moved it to contrib): run "
            "this with .venv-bench/bin/python (bash benchmarks/setup_bench_env.sh)"
        )
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return hog


def opencv_windows(hog, image: np.ndarray, scale: float, group: int = 0):
    rects, weights = hog.detectMultiScale(
        image, hitThreshold=0.0, winStride=(8, 8), padding=(0, 0), scale=scale,
        groupThreshold=group,
    )  # fmt: skip
    rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
    return boxes, np.asarray(weights, dtype=np.float64).reshape(-1)


def match(gt: np.ndarray, det: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching at IoU >= 0.5 -> (gt matched (N,), det matched (M,)) booleans."""
    from scipy.optimize import linear_sum_assignment

    from tracker.matching import box_iou

    gt_hit, det_hit = np.zeros(len(gt), bool), np.zeros(len(det), bool)
    if len(gt) and len(det):
        iou = box_iou(gt, det)
        rows, cols = linear_sum_assignment(-iou)
        ok = iou[rows, cols] >= IOU
        gt_hit[rows[ok]], det_hit[cols[ok]] = True, True
    return gt_hit, det_hit


def score(frames: list[Frame], dets: list[np.ndarray]) -> dict[str, Any]:
    """Recall (people at least half visible), precision and detections per frame, overall and
    per scene kind."""

    def tally(pairs):
        found = people = hits = n = 0
        for f, d in pairs:
            gt_hit, det_hit = match(f.gt, d)
            keep = f.visibility >= MIN_VISIBILITY
            found += int(gt_hit[keep].sum())
            people += int(keep.sum())
            hits += int(det_hit.sum())
            n += len(d)
        return {
            "recall": found / max(people, 1),
            "precision": hits / max(n, 1),
            "people": people,
            "detections": n,
            "per_frame": n / max(len(pairs), 1),
        }

    pairs = list(zip(frames, dets, strict=True))
    out = tally(pairs)
    out["kinds"] = {k: tally([p for p in pairs if p[0].kind == k]) for k in KINDS}
    return out


def post_process(windows: np.ndarray, margins: np.ndarray, upscale: float) -> np.ndarray:
    """What :class:`tracker.detectors.HogDetector` does to raw windows: person boxes + NMS."""
    import supervision as sv

    from tracker.detectors import HogDetector

    conf = 1.0 - np.exp(-np.clip(margins, 0, None))
    det = sv.Detections(
        xyxy=HogDetector.body_boxes(windows / upscale).astype(np.float32),
        confidence=conf.astype(np.float32),
        class_id=np.zeros(len(conf), dtype=np.int64),
    )
    if len(det) > 1:
        det = det.with_nms(threshold=0.45, class_agnostic=True)
    return det.xyxy.astype(np.float64)


def accuracy(frames: list[Frame], hog, upscale: float, scale: float) -> dict[str, Any]:
    """Raw-window parity and recall/precision of both at one setting (CPU s/frame too)."""
    import cv2

    from tracker.hog import HogPeopleDetector

    ours = HogPeopleDetector(scale=scale)
    raw = {"ours": [], "opencv4": [], "opencv4_default": []}
    cpu = dict.fromkeys(raw, 0.0)
    same = total_ours = total_cv = 0
    worst = 0.0
    for f in tqdm(frames, desc=f"accuracy upscale {upscale:g}", unit="frame", leave=False):
        img = f.image
        if upscale != 1.0:
            img = cv2.resize(img, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_LINEAR)
        t = time.process_time()
        ob, om = ours.detect(img)
        cpu["ours"] += time.process_time() - t
        t = time.process_time()
        cb, cm = opencv_windows(hog, img, scale)
        cpu["opencv4"] += time.process_time() - t
        if upscale == 1.0 and scale == DEFAULT_SCALE:  # OpenCV as most code calls it
            t = time.process_time()
            gb, _ = opencv_windows(hog, img, 1.05, group=2)
            cpu["opencv4_default"] += time.process_time() - t
            raw["opencv4_default"].append(gb)
        a = {tuple(b): m for b, m in zip(ob.astype(int).tolist(), om, strict=True)}
        b = {tuple(b): m for b, m in zip(cb.astype(int).tolist(), cm, strict=True)}
        shared = a.keys() & b.keys()
        same += len(shared)
        total_ours += len(a)
        total_cv += len(b)
        worst = max([worst, *(abs(a[k] - b[k]) for k in shared)])
        raw["ours"].append(post_process(ob, om, upscale))
        raw["opencv4"].append(post_process(cb, cm, upscale))
    n = len(frames)
    return {
        "upscale": upscale,
        "scale": scale,
        "windows": {"ours": total_ours, "opencv4": total_cv, "shared": same},
        "max_margin_diff": worst,
        "cpu_s_per_frame": {k: v / n for k, v in cpu.items() if raw[k]},
        "scores": {k: score(frames, v) for k, v in raw.items() if v},
    }


def speed(frames: list[Frame], hog, rounds: int, scales: list[float]) -> dict[str, Any]:
    """Rotated rounds: CPU and wall seconds per frame of both detectors at each pyramid step;
    median per-round ratio of CPU times at each."""
    from tracker.hog import HogPeopleDetector

    runners = {}
    for scale in scales:
        ours = HogPeopleDetector(scale=scale)
        runners[f"ours@{scale:g}"] = lambda img, d=ours: d.detect(img)
        runners[f"opencv4@{scale:g}"] = lambda img, s=scale: opencv_windows(hog, img, s)
    names = list(runners)
    per_round: list[dict[str, Any]] = []
    for r in tqdm(range(rounds), desc="speed rounds", unit="round"):
        order = names[r % len(names) :] + names[: r % len(names)]
        rec: dict[str, Any] = {"order": order, "load_before": round(os.getloadavg()[0], 2)}
        for name in order:
            run = runners[name]
            run(frames[0].image)  # warm
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for f in frames:
                run(f.image)
            rec[name] = {
                "cpu_s_per_frame": (time.process_time() - cpu0) / len(frames),
                "wall_s_per_frame": (time.perf_counter() - wall0) / len(frames),
            }
        rec["ratio_cpu"] = {
            f"{s:g}": rec[f"ours@{s:g}"]["cpu_s_per_frame"]
            / rec[f"opencv4@{s:g}"]["cpu_s_per_frame"]
            for s in scales
        }
        per_round.append(rec)
    med = {name: statistics.median(r[name]["cpu_s_per_frame"] for r in per_round) for name in names}
    return {
        "scales": scales,
        "frames_per_round": len(frames),
        "rounds": per_round,
        "cpu_s_per_frame_median": med,
        "fps_one_core": {name: 1.0 / s for name, s in med.items()},
        "ratio_cpu_median": {
            f"{s:g}": statistics.median(r["ratio_cpu"][f"{s:g}"] for r in per_round) for s in scales
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=12, help="frames per scene kind")
    p.add_argument("--rounds", type=int, default=5, help="speed rounds")
    p.add_argument("--upscales", default="1,2", help="comma list for the accuracy comparison")
    p.add_argument("--data", type=Path, default=Path("data/hog-bench"))
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "hog_detector.json")
    args = p.parse_args(argv)
    import cv2

    from cgclip.threads import configure_threads

    plan = configure_threads(1)
    hog = opencv4_hog()
    frames = make_frames(args.data, args.frames)
    heights = np.concatenate([f.gt[:, 3] - f.gt[:, 1] for f in frames])
    cpu0 = time.process_time()
    start = machine_info()
    result: dict[str, Any] = {
        "machine": start,
        "opencv": cv2.__version__,
        "threads": {"opencv": cv2.getNumThreads(), "plan": plan.describe()},
        "frames": {
            "what": "synthetic cartoon people (cgclip.data.synthetic), JPEG, one sequence per "
            "kind at 2 frames per second",
            "size": list(SIZE),
            "per_kind": args.frames,
            "kinds": list(KINDS),
            "people_per_frame": float(np.mean([len(f.gt) for f in frames])),
            "person_height_px": [float(np.percentile(heights, q)) for q in (10, 50, 90)],
        },
        "params": {"win_stride": 8, "padding": 0, "hit_threshold": 0.0},
        "default_scale": DEFAULT_SCALE,
        "speed": speed(frames, hog, args.rounds, [DEFAULT_SCALE, 1.05]),
        "accuracy": [
            *(accuracy(frames, hog, float(u), DEFAULT_SCALE) for u in args.upscales.split(",")),
            accuracy(frames, hog, 1.0, 1.05),
        ],
    }
    result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["cpu_s_total"] = time.process_time() - cpu0
    atomic_write_json(args.out, result)
    s = result["speed"]
    for scale, ratio in s["ratio_cpu_median"].items():
        print(
            f"scale {scale}, one core: ours {s['fps_one_core'][f'ours@{scale}']:.1f} FPS, OpenCV 4 "
            f"{s['fps_one_core'][f'opencv4@{scale}']:.1f} FPS (ours/OpenCV CPU time {ratio:.2f})"
        )
    for acc in result["accuracy"]:
        sc = acc["scores"]
        print(
            f"scale {acc['scale']:g} upscale {acc['upscale']:g}: recall ours "
            f"{sc['ours']['recall']:.3f} OpenCV 4 {sc['opencv4']['recall']:.3f}; precision "
            f"{sc['ours']['precision']:.3f} / {sc['opencv4']['precision']:.3f}"
        )
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def render(result: dict[str, Any]) -> str:
    """Markdown: one-core speed at each pyramid step, then recall/precision of both."""
    s = result["speed"]
    fps, cpu = s["fps_one_core"], s["cpu_s_per_frame_median"]
    loads = [r["load_before"] for r in s["rounds"]]
    lines = [
        "| 768x576, one core | scale | CPU ms/frame | FPS (one core) | ours / OpenCV CPU time |",
        "|---|---|---|---|---|",
    ]
    for scale in s["scales"]:
        key = f"{scale:g}"
        ratio = s["ratio_cpu_median"][key]
        default = " (`--detector hog`)" if scale == result["default_scale"] else ""
        lines += [
            f"| numpy HOG{default} | {key} | {cpu['ours@' + key] * 1e3:.0f} | "
            f"{fps['ours@' + key]:.1f} | {ratio:.2f} |",
            f"| OpenCV {result['opencv']} `detectMultiScale` | {key} | "
            f"{cpu['opencv4@' + key] * 1e3:.0f} | {fps['opencv4@' + key]:.1f} | |",
        ]
    lines += [
        "",
        f"Medians of {len(s['rounds'])} rounds of {s['frames_per_round']} frames, contenders "
        f"rotated each round; winStride 8, padding 0, hit threshold 0, every raw window. Load "
        f"average {min(loads):.1f}-{max(loads):.1f} on {result['machine']['cores']} cores; "
        f"{result['threads']['plan']}.",
        "",
        "| scale | upscale | detector | recall | precision | boxes/frame | recall street / "
        "dance / sports | raw windows: same / ours / OpenCV |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = {
        "ours": "numpy HOG",
        "opencv4": "OpenCV 4, same post-processing",
        "opencv4_default": "OpenCV 4 as usually called (scale 1.05, grouped windows)",
    }
    for acc in result["accuracy"]:
        w = acc["windows"]
        parity = f"{w['shared']} / {w['ours']} / {w['opencv4']}"
        for key, label in names.items():
            if key not in acc["scores"]:
                continue
            sc = acc["scores"][key]
            kinds = " / ".join(f"{sc['kinds'][k]['recall']:.2f}" for k in KINDS)
            scale = 1.05 if key == "opencv4_default" else acc["scale"]
            lines.append(
                f"| {scale:g} | {acc['upscale']:g} | {label} | {sc['recall']:.3f} | "
                f"{sc['precision']:.3f} | {sc['per_frame']:.1f} | {kinds} | "
                f"{parity if key == 'ours' else ''} |"
            )
    fr = result["frames"]
    lines += [
        "",
        f"{fr['per_kind'] * len(fr['kinds'])} frames of {fr['size'][0]}x{fr['size'][1]}: "
        f"{fr['what']}; {fr['people_per_frame']:.1f} people per frame, 10/50/90 % heights "
        + "/".join(f"{h:.0f}" for h in fr["person_height_px"])
        + f" px. Matching one-to-one at IoU >= {IOU}; recall over people at least half visible.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
