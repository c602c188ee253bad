"""Association cost per frame, one CPU thread: our tracker vs BoxMOT's ByteTrack and OC-SORT.

    python -m benchmarks.tracker_speed            # writes benchmarks/results/tracker_speed.json

A synthetic crowd of N people (default N in 10, 30, 60, 100, 300, 1000) random-walks on a
1920x1080 field with jittered boxes, misses, low-confidence and false-positive detections. Every
tracker gets the same per-frame ``(x1, y1, x2, y2, conf, cls)`` detections and only ``update()``
is timed, by wall clock and by thread CPU time (our ``sv.Detections`` are built outside the
timer, as BoxMOT's numpy rows are). Contenders are rotated round by round
(:func:`benchmarks.common.rotated_rounds`); each reports its median ms/frame per round, a row
holds the median over rounds, and ratios to ByteTrack are the median of per-round ratios, on CPU
time when the machine's load exceeds its cores. ``scaling`` holds each tracker's growth exponent
between consecutive sizes (``log(t2 / t1) / log(n2 / n1)``; the goal for ours from 100 to 300
people: below 1.1).

``ours+app`` is our tracker with appearance: an embedder hands every detection a 512-d embedding
(one vector per person plus noise, random for false positives) and mean-pools each track's
window (W=8). As in ``tracker.run``'s stage table, the embedder's own time (here the pooling; the
image encoder and TFE in a real run) is the "embed" stage and is reported apart
(``embed_median_ms``); "associate" is the rest of ``update()``: fused costs, the
re-identification stages and the window bookkeeping.
"""

from __future__ import annotations

import benchmarks.common

benchmarks.common.pin_threads(
    1
)  # before numpy loads: one thread, for us and for the BoxMOT subprocess

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import supervision as sv  # noqa: E402

from benchmarks.common import compare, median_of, pin_threads, rotated_rounds  # noqa: E402
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
    times, cpu, embed = [], [], []
    for _ in range(repeats):
        given = GivenEmbeddings() if embeddings is not None else None
        tracker = Tracker(load_preset("default"), embedder=given)
        for i, d in enumerate(dets):
            if given is not None:  # every detection passes low_thresh in the default preset
                keep = d.confidence >= tracker.config.low_thresh
                given.current = embeddings[i][keep]
                before = given.seconds
            c0, t0 = time.thread_time(), time.perf_counter()
            tracker.update(d, frame)
            spent, spent_cpu = time.perf_counter() - t0, time.thread_time() - c0
            if given is not None:
                embed.append(given.seconds - before)
                spent -= embed[-1]
                spent_cpu -= embed[-1]  # the pooling is pure CPU on this thread
            times.append(spent)
            cpu.append(spent_cpu)
    t = np.asarray(times) * 1000
    out = {
        "median_ms": float(np.median(t)),
        "cpu_median_ms": float(np.median(cpu) * 1000),
        "p90_ms": float(np.percentile(t, 90)),
        "frames": len(t),
        "active_tracks_end": len(tracker.active_tracks),
    }
    if embed:
        out["embed_median_ms"] = float(np.median(embed) * 1000)
    return out


def _peer(name: str, scene_path: Path):
    def run() -> dict:
        args = ["benchmarks/tracker_boxmot_peers.py", "--tracker", name]
        out = run_in_bench_env([*args, "--speed-scene", str(scene_path), "--repeats", "1"])
        return json.loads(out.strip().splitlines()[-1])

    return run


def summarize(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """One row cell per tracker: medians over rounds of its per-round medians, and the rounds."""
    cells = {}
    for name, entries in runs.items():
        cell = {k: median_of(entries, k) for k in ("median_ms", "cpu_median_ms", "p90_ms")}
        cell.update({k: v for k, v in entries[0].items() if isinstance(v, str)})  # versions
        if "embed_median_ms" in entries[0]:
            cell["embed_median_ms"] = median_of(entries, "embed_median_ms")
        cell["frames_per_round"] = entries[0]["frames"]
        cell["rounds"] = [
            {k: e[k] for k in ("median_ms", "cpu_median_ms", "load") if k in e} for e in entries
        ]
        cells[name] = cell
    return cells


def scaling(rows: list[dict], key: str) -> dict[str, dict[str, float]]:
    """Growth exponent of each tracker's ``key`` between consecutive sizes."""
    out: dict[str, dict[str, float]] = {}
    for a, b in zip(rows, rows[1:], strict=False):
        for name in a:
            if isinstance(a[name], dict) and isinstance(b.get(name), dict) and key in a[name]:
                span = f"{a['people']}->{b['people']}"
                ratio = b[name][key] / a[name][key]
                out.setdefault(name, {})[span] = math.log(ratio) / math.log(
                    b["people"] / a["people"]
                )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--people", default="10,30,60,100,300,1000")
    p.add_argument("--frames", type=int, default=600)
    p.add_argument("--rounds", type=int, default=3, help="rotated rounds per size")
    p.add_argument("--peers", default="bytetrack,ocsort", help="BoxMOT peers ('' to skip)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "tracker_speed.json")
    args = p.parse_args(argv)
    pin_threads(1)  # again: torch and OpenCV pools, now that they are imported
    machine = machine_info()
    peers = list(filter(None, args.peers.split(",")))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(x) for x in args.people.split(",")]:
            ids: list[np.ndarray] = []
            scene = crowd_scene(n, args.frames, ids=ids)
            embs = scene_embeddings(ids, n)
            path = Path(tmp) / f"scene_{n}.npz"
            np.savez(path, **{f"frame_{i}": a for i, a in enumerate(scene)})
            contenders = {
                "ours": lambda s=scene: time_ours(s, 1),
                "ours+app": lambda s=scene, e=embs: time_ours(s, 1, e),
                **{peer: _peer(peer, path) for peer in peers},
            }
            runs = rotated_rounds(contenders, args.rounds, desc=f"{n} people")
            row = {"people": n, **summarize(runs)}
            if "bytetrack" in runs:
                row["vs_bytetrack"] = compare(
                    runs, "bytetrack", wall="median_ms", cpu="cpu_median_ms"
                )
            rows.append(row)
            cells = "  ".join(
                f"{k}={v['median_ms']:.3f}ms (cpu {v['cpu_median_ms']:.3f})"
                for k, v in row.items()
                if isinstance(v, dict) and "median_ms" in v
            )
            print(f"{n:4d} people: {cells}", flush=True)
    result = {
        "machine": machine,
        "threads": 1,
        "frames": args.frames,
        "rounds": args.rounds,
        "rows": rows,
        "scaling_wall": scaling(rows, "median_ms"),
        "scaling_cpu": scaling(rows, "cpu_median_ms"),
    }
    at30 = next((r for r in rows if r["people"] == 30), None)
    if at30 is not None and "vs_bytetrack" in at30:
        result["ratio_ours_over_bytetrack_at_30"] = at30["vs_bytetrack"]["ours"]["ratio"]
        result["ratio_ours_app_over_bytetrack_at_30"] = at30["vs_bytetrack"]["ours+app"]["ratio"]
        print(
            f"30 people: ours / ByteTrack = {result['ratio_ours_over_bytetrack_at_30']:.2f} "
            f"({at30['vs_bytetrack']['ours']['basis']} time)"
        )
    for kind in ("wall", "cpu"):
        ours = result[f"scaling_{kind}"].get("ours", {})
        print(
            f"ours growth exponents ({kind}): " + ", ".join(f"{k} {v:.2f}" for k, v in ours.items())
        )
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
