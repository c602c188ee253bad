"""Association cost per frame, one CPU thread: our tracker vs BoxMOT's ByteTrack and OC-SORT.

    python -m benchmarks.tracker_speed            # writes benchmarks/results/tracker_speed.json

A synthetic crowd of N people (default N in 10, 30, 60, 100) random-walks on a 1920x1080 field
with jittered boxes, misses, low-confidence and false-positive detections. Every tracker gets the
same per-frame ``(x1, y1, x2, y2, conf, cls)`` detections and only ``update()`` is timed (our
``sv.Detections`` are built outside the timer, as BoxMOT's numpy rows are). The target is the
ratio at 30 tracks: median ms/frame of ours vs ByteTrack's, measured in the same run.

``ours+app`` is our tracker with appearance: an embedder hands every detection a 512-d embedding
(one vector per person plus noise, random for false positives) and mean-pools each track's
window (W=8). As in ``tracker.run``'s stage table, the embedder's own time (here the pooling; the
image encoder and TFE in a real run) is the "embed" stage and is reported apart
(``embed_median_ms``); "associate" is the rest of ``update()``: fused costs, the
re-identification stages and the window bookkeeping.
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
from tracker.embedding import FrameFeatures, MeanPoolEmbedder  # noqa: E402
from tracker.tracker import Tracker  # noqa: E402


def crowd_scene(
    people: int, frames: int, seed: int = 0, ids: list[np.ndarray] | None = None
) -> list[np.ndarray]:
    """Per-frame ``(M, 6)`` float32 detections of a random-walking crowd; with ``ids`` (a list),
    each frame's person index per row (-1 for a false positive) is appended to it."""
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
        if ids is not None:
            ids.append(np.r_[np.flatnonzero(keep), np.full(fp_n, -1)])
    return out


def scene_embeddings(ids: list[np.ndarray], people: int, dim: int = 512, seed: int = 1):
    """Per-frame ``(M, dim)`` unit embeddings: a fixed vector per person plus noise."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (people, dim))
    out = []
    for frame_ids in ids:
        e = np.where(
            (frame_ids >= 0)[:, None], base[np.maximum(frame_ids, 0)], rng.normal(0, 1, (1, dim))
        )
        e = e + rng.normal(0, 0.5, e.shape)
        out.append((e / np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float32))
    return out


class GivenEmbeddings:
    """An :class:`tracker.embedding.Embedder` serving precomputed per-detection vectors (set
    :attr:`current` before each update) and mean-pooling windows; it times itself."""

    def __init__(self) -> None:
        self.current = np.zeros((0, 0), np.float32)
        self.pool = MeanPoolEmbedder()
        self.seconds = 0.0

    def embed_frame(self, frame: np.ndarray, boxes: np.ndarray) -> FrameFeatures:
        t0 = time.perf_counter()
        out = FrameFeatures(self.current, self.current)
        self.seconds += time.perf_counter() - t0
        return out

    def embed_tracklets(self, windows):
        t0 = time.perf_counter()
        out = self.pool.embed_tracklets(windows)
        self.seconds += time.perf_counter() - t0
        return out


def time_ours(
    scene: list[np.ndarray], repeats: int, embeddings: list[np.ndarray] | None = None
) -> dict[str, float]:
    dets = [
        sv.Detections(
            xyxy=r[:, :4].copy(),
            confidence=r[:, 4].copy(),
            class_id=np.zeros(len(r), dtype=np.int64),
        )
        for r in scene
    ]
    frame = np.zeros((1, 1, 3), np.uint8)
    times, embed = [], []
    for _ in range(repeats):
        given = GivenEmbeddings() if embeddings is not None else None
        tracker = Tracker(load_preset("default"), embedder=given)
        for i, d in enumerate(dets):
            if given is not None:  # every detection passes low_thresh in the default preset
                keep = d.confidence >= tracker.config.low_thresh
                given.current = embeddings[i][keep]
                before = given.seconds
            t0 = time.perf_counter()
            tracker.update(d, frame)
            spent = time.perf_counter() - t0
            if given is not None:
                embed.append(given.seconds - before)
                spent -= embed[-1]
            times.append(spent)
    t = np.asarray(times) * 1000
    out = {
        "median_ms": float(np.median(t)),
        "p90_ms": float(np.percentile(t, 90)),
        "frames": len(t),
        "active_tracks_end": len(tracker.active_tracks),
    }
    if embed:
        out["embed_median_ms"] = float(np.median(embed) * 1000)
    return out


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
            ids: list[np.ndarray] = []
            scene = crowd_scene(n, args.frames, ids=ids)
            path = Path(tmp) / f"scene_{n}.npz"
            np.savez(path, **{f"frame_{i}": a for i, a in enumerate(scene)})
            row = {"people": n, "ours": time_ours(scene, args.repeats)}
            row["ours+app"] = time_ours(scene, args.repeats, scene_embeddings(ids, n))
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
        result["ratio_ours_app_over_bytetrack_at_30"] = (
            at30["ours+app"]["median_ms"] / at30["bytetrack"]["median_ms"]
        )
        print(
            f"30 people: ours / ByteTrack median = {result['ratio_ours_over_bytetrack_at_30']:.2f}"
        )
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
