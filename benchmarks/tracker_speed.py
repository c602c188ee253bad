"""Association cost per frame, one CPU thread: our tracker vs BoxMOT's ByteTrack and OC-SORT.

    python -m benchmarks.tracker_speed            # writes benchmarks/results/tracker_speed.json

A synthetic crowd of N people (default N in 10, 30, 60, 100) random-walks on a 1920x1080 field
with jittered boxes, misses, low-confidence and false-positive detections. Every tracker gets the
same per-frame ``(x1, y1, x2, y2, conf, cls)`` detections and only ``update()`` is timed (our
``sv.Detections`` are built outside the timer, as BoxMOT's numpy rows are). The target is the
ratio at 30 tracks: median ms/frame of ours vs ByteTrack's, measured in the same run.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread, for us and for the BoxMOT subprocess

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import supervision as sv  # noqa: E402

from benchmarks.tracker_common import RESULTS_DIR, machine_info, run_in_bench_env  # noqa: E402
from cgclip.io.atomic import atomic_write_json  # noqa: E402
from tracker.config import load_preset  # noqa: E402
from tracker.tracker import Tracker  # noqa: E402


def crowd_scene(people: int, frames: int, seed: int = 0) -> list[np.ndarray]:
    """Per-frame ``(M, 6)`` float32 detections of a random-walking crowd."""
    rng = np.random.default_rng(seed)
    w, h = 1920.0, 1080.0
    pos = rng.uniform([50, 50], [w - 100, h - 200], (people, 2))
    vel = rng.normal(0, 3, (people, 2))
    size = np.stack([rng.uniform(35, 60, people), rng.uniform(90, 150, people)], axis=1)
    out = []
    for _ in range(frames):
        vel = 0.9 * vel + rng.normal(0, 1.0, vel.shape)
        pos = np.clip(pos + vel, [0, 0], [w - 60, h - 150])
        keep = rng.random(people) > 0.05
        boxes = np.concatenate([pos, pos + size], axis=1)[keep]
        boxes += rng.normal(0, 2, boxes.shape)
        conf = np.clip(rng.normal(0.8, 0.15, len(boxes)), 0.05, 0.99)
        fp_n = rng.poisson(1.0)
        fp_xy = rng.uniform([0, 0], [w - 60, h - 150], (fp_n, 2))
        fp = np.concatenate([fp_xy, fp_xy + [50, 120]], axis=1)
        rows = np.concatenate(
            [
                np.c_[boxes, conf, np.zeros(len(boxes))],
                np.c_[fp, rng.uniform(0.1, 0.5, fp_n), np.zeros(fp_n)],
            ]
        )
        out.append(rows.astype(np.float32))
    return out


def time_ours(scene: list[np.ndarray], repeats: int) -> dict[str, float]:
    dets = [
        sv.Detections(
            xyxy=r[:, :4].copy(),
            confidence=r[:, 4].copy(),
            class_id=np.zeros(len(r), dtype=np.int64),
        )
        for r in scene
    ]
    times = []
    for _ in range(repeats):
        tracker = Tracker(load_preset("default"))
        for d in dets:
            t0 = time.perf_counter()
            tracker.update(d)
            times.append(time.perf_counter() - t0)
    t = np.asarray(times) * 1000
    return {
        "median_ms": float(np.median(t)),
        "p90_ms": float(np.percentile(t, 90)),
        "frames": len(t),
        "active_tracks_end": len(tracker.active_tracks),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--people", default="10,30,60,100")
    p.add_argument("--frames", type=int, default=600)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--peers", default="bytetrack,ocsort", help="BoxMOT peers ('' to skip)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "tracker_speed.json")
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(x) for x in args.people.split(",")]:
            scene = crowd_scene(n, args.frames)
            path = Path(tmp) / f"scene_{n}.npz"
            np.savez(path, **{f"frame_{i}": a for i, a in enumerate(scene)})
            row = {"people": n, "ours": time_ours(scene, args.repeats)}
            for peer in filter(None, args.peers.split(",")):
                out = run_in_bench_env(
                    [
                        "benchmarks/tracker_boxmot_peers.py",
                        "--tracker",
                        peer,
                        "--speed-scene",
                        str(path),
                        "--repeats",
                        str(args.repeats),
                    ]
                )
                row[peer] = json.loads(out.strip().splitlines()[-1])
            rows.append(row)
            cells = "  ".join(
                f"{k}={v['median_ms']:.3f}ms" for k, v in row.items() if isinstance(v, dict)
            )
            print(f"{n:4d} people: {cells}")
    result = {
        "machine": machine_info(),
        "threads": 1,
        "frames": args.frames,
        "repeats": args.repeats,
        "rows": rows,
    }
    at30 = next((r for r in rows if r["people"] == 30), None)
    if at30 is not None and "bytetrack" in at30:
        result["ratio_ours_over_bytetrack_at_30"] = (
            at30["ours"]["median_ms"] / at30["bytetrack"]["median_ms"]
        )
        print(
            f"30 people: ours / ByteTrack median = {result['ratio_ours_over_bytetrack_at_30']:.2f}"
        )
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
