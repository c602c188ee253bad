"""Run BoxMOT peer trackers on MOT sequences' public detections (benchmark venv only).

    .venv-bench/bin/python benchmarks/tracker_boxmot_peers.py --split data/synth/val \
        --tracker bytetrack --out runs/peers/bytetrack [--params '{"track_thresh": 0.5}']
    .venv-bench/bin/python benchmarks/tracker_boxmot_peers.py --speed --tracks 30 --frames 600

BoxMOT is AGPL and heavy, so it is installed only in ``.venv-bench`` (see
``benchmarks/setup_bench_env.sh``) and never imported by the package. Each peer gets exactly the
detections our tracker gets, frame by frame, as ``(x1, y1, x2, y2, conf, cls)`` rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

PEERS = {
    "bytetrack": "ByteTrack",
    "ocsort": "OcSort",
    "botsort": "BotSort",
    "deepocsort": "DeepOcSort",
}


def make_peer(name: str, params: dict, frame_rate: float):
    import logging

    import boxmot

    logging.getLogger("boxmot").setLevel(logging.WARNING)
    cls = getattr(boxmot, PEERS[name])
    kwargs = dict(params)
    if name in ("bytetrack", "botsort"):  # their track buffers are given at 30 FPS
        kwargs.setdefault("frame_rate", int(round(frame_rate)))
    return cls(**kwargs)


def read_rows(path: Path) -> np.ndarray:
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    return rows[np.argsort(rows[:, 0], kind="stable")]


def seq_length(seq_dir: Path) -> tuple[int, float]:
    info = dict(
        line.split("=", 1)
        for line in (seq_dir / "seqinfo.ini").read_text().splitlines()
        if "=" in line
    )
    return int(info["seqLength"]), float(info.get("frameRate", 30))


APPEARANCE_PEERS = ("botsort", "deepocsort")


def run_sequence(seq_dir: Path, name: str, params: dict, emb_dir: Path | None = None) -> np.ndarray:
    """One peer on one sequence's public detections -> MOT result rows ``(N, 10)``.

    With ``emb_dir``, every detection carries its cached CG-CLIP embedding
    (``emb_dir/<seq>.npz``, rows in det.txt order, the same vectors our tracker gets) through
    BoxMOT's ``Detections(embeddings=...)``, and appearance peers get the real frames for their
    camera-motion compensation. Without it, motion-only peers see a blank image.
    """
    length, fps = seq_length(seq_dir)
    det = read_rows(seq_dir / "det" / "det.txt")
    tracker = make_peer(name, params, fps)
    starts = np.searchsorted(det[:, 0], np.arange(1, length + 2))
    xyxy = np.concatenate([det[:, 2:4], det[:, 2:4] + det[:, 4:6]], axis=1).astype(np.float32)
    embs = None
    if emb_dir is not None:
        cache = np.load(emb_dir / f"{seq_dir.name}.npz")
        if len(cache["box"]) != len(det) or not np.allclose(cache["box"], xyxy, atol=0.05):
            raise SystemExit(f"{emb_dir}: cached boxes do not match {seq_dir}/det/det.txt")
        embs = cache["embedding"].astype(np.float32)
    images = sorted((seq_dir / "img1").glob("*.jpg")) if name in APPEARANCE_PEERS else None
    blank = np.zeros((8, 8, 3), dtype=np.uint8)  # motion-only peers ignore pixels
    out = []
    for fid in range(1, length + 1):
        lo, hi = starts[fid - 1], starts[fid]
        img = blank if images is None else _read_image(images[fid - 1])
        if embs is not None:
            ids, boxes, confs = _update_with_embeddings(
                tracker, xyxy[lo:hi], det[lo:hi, 6], embs[lo:hi], img, f"{seq_dir.name}-{fid}"
            )
        else:
            arr = np.zeros((hi - lo, 6), dtype=np.float32)
            arr[:, :4] = xyxy[lo:hi]
            arr[:, 4] = det[lo:hi, 6]
            res = np.asarray(tracker.update(arr, img)).reshape(-1, 8)
            ids, boxes, confs = res[:, 4], res[:, :4], res[:, 5]
        for (x1, y1, x2, y2), tid, conf in zip(boxes, ids, confs, strict=True):
            out.append([fid, int(tid) + 1, x1, y1, x2 - x1, y2 - y1, conf, -1, -1, -1])
    return np.asarray(out, dtype=np.float64).reshape(-1, 10)


def _read_image(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"cannot read {path}")
    return img


def _update_with_embeddings(tracker, xyxy, conf, embs, img, sample_id):
    """BoxMOT 25's typed API: ``update(Detections(..., embeddings=E), frame) -> Tracks``."""
    import torch
    from boxmot.structures import Boxes, Detections

    dets = Detections(
        geometry=Boxes(torch.from_numpy(np.ascontiguousarray(xyxy, dtype=np.float32))),
        scores=torch.from_numpy(np.ascontiguousarray(conf, dtype=np.float32)),
        class_ids=torch.zeros(len(xyxy), dtype=torch.int64),
        sample_id=sample_id,
        embeddings=torch.from_numpy(np.ascontiguousarray(embs, dtype=np.float32)),
    )
    tracks = tracker.update(dets, img)
    return (
        tracks.track_ids.numpy(),
        tracks.geometry.values.numpy(),
        tracks.scores.numpy(),
    )


def write_rows(path: Path, rows: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))] if len(rows) else rows
    lines = [
        f"{int(r[0])},{int(r[1])},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},{r[6]:.4f},-1,-1,-1"
        for r in rows
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + ("\n" if lines else ""))
    os.replace(tmp, path)


def speed(name: str, scene_path: Path, repeats: int) -> dict:
    """Median ms per frame (wall and thread CPU) of ``tracker.update`` on a pre-generated scene
    (npz of frames)."""
    scene = np.load(scene_path, allow_pickle=False)
    frames = [scene[k] for k in sorted(scene.files, key=lambda s: int(s.split("_")[1]))]
    frame_img = np.zeros((8, 8, 3), dtype=np.uint8)
    times, cpu = [], []
    for _ in range(repeats):
        tracker = make_peer(name, {}, 30.0)
        for arr in frames:
            c0, t0 = time.thread_time(), time.perf_counter()
            tracker.update(arr.astype(np.float32), frame_img)
            times.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
    t = np.asarray(times) * 1000
    return {
        "median_ms": float(np.median(t)),
        "cpu_median_ms": float(np.median(cpu) * 1000),
        "p90_ms": float(np.percentile(t, 90)),
        "frames": len(t),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tracker", choices=sorted(PEERS), required=True)
    p.add_argument("--split", type=Path, help="folder of MOT sequences with det/det.txt")
    p.add_argument("--out", type=Path, help="results folder (<seq>.txt)")
    p.add_argument("--params", default="{}", help="JSON of constructor arguments")
    p.add_argument(
        "--batch", type=Path, help='JSON list of {"params": {...}, "out": DIR} runs (one process)'
    )
    p.add_argument("--seqs", default="", help="comma list restricting the sequences (default: all)")
    p.add_argument(
        "--embeddings", type=Path, help="folder of <seq>.npz cached detection embeddings"
    )
    p.add_argument(
        "--speed-scene", type=Path, help="npz of per-frame (N, 6) detections: time update()"
    )
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    if args.speed_scene:
        import boxmot

        print(
            json.dumps(
                {
                    "boxmot": boxmot.__version__,
                    **speed(args.tracker, args.speed_scene, args.repeats),
                }
            )
        )
        return 0
    seqs = sorted(d for d in args.split.iterdir() if (d / "det" / "det.txt").is_file())
    if args.seqs:
        seqs = [d for d in seqs if d.name in args.seqs.split(",")]
    runs = (
        json.loads(args.batch.read_text())
        if args.batch
        else [{"params": json.loads(args.params), "out": str(args.out)}]
    )
    for run in runs:
        for seq in seqs:
            write_rows(
                Path(run["out"]) / f"{seq.name}.txt",
                run_sequence(seq, args.tracker, run["params"], args.embeddings),
            )
    print(json.dumps({"sequences": [s.name for s in seqs], "runs": len(runs)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
