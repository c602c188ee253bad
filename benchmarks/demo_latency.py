"""What one web-demo request costs on the synthetic sample clip: one pass against two.

    python -m benchmarks.demo_latency        # writes benchmarks/results/demo_latency.json

A request (``demo.pipeline.process_clip``) is now **one pass**: the tracking loop writes the MOT
txt, the JSON and the H.264 video and, through its demo sinks, collects every identity's best
crop and text-search feature (reusing the tracker's encoder calls). The contender is the
previous request, rebuilt here as it was (``two_pass``): track (the annotated video written as
H.264 by the tracker), transcode that video to H.264 again, re-read the JSON, decode the clip a
second time, and re-run the image encoder on each identity's best crops for the search features.

Both run in the same process on the same clip, in rounds; the order of the two is rotated round
by round so that a change in the machine's load hits both. The target is the ratio
``one_pass / two_pass`` of wall time per round (median over rounds); CPU time (all threads),
load average and thread counts are recorded with it. Set-ups: replayed public detections with
``--reid none`` (the saving: no transcode, no second decode) and with a random-init CG-CLIP
checkpoint (whose cost does not depend on the weights; the saving adds the second encode).
Text-search latency (one query over every track) is reported for the one-pass result.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks.tracker_common import RESULTS_DIR, machine_info
from cgclip.io.atomic import atomic_write_json

CONTENDERS = ("one_pass", "two_pass")


def two_pass(video: Path, det: Path, work: Path, registry: Any, reid: str, per_track: int = 4):
    """The request as it was before the single pass (kept here as the benchmark's baseline)."""
    from demo.media import transcode_h264
    from demo.pipeline import PUBLIC, _make_detector
    from demo.pipeline import Limits as _Limits
    from tracker.config import load_preset
    from tracker.run import track_video

    seconds: dict[str, float] = {}
    model = registry.model(reid)
    embedder = None
    if model is not None:
        from tracker.embedding import CgclipEmbedder

        embedder = CgclipEmbedder(model)
    detector = _make_detector(PUBLIC, det, work, _Limits(), "cpu")
    t0 = time.perf_counter()
    raw, out_json = work / ".raw.mp4", work / "clip.tracks.json"
    summary = track_video(
        video,
        detector=detector,
        config=load_preset("dance"),
        embedder=embedder,
        out_mot=work / "clip.mot.txt",
        out_json=out_json,
        out_video=raw,
        progress=False,
    )
    seconds["track"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    transcode_h264(raw, work / "clip.tracked.mp4")
    seconds["video"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _two_pass_gallery(video, json.loads(out_json.read_text()), summary.frames, model, per_track)
    seconds["gallery"] = time.perf_counter() - t0
    return seconds


def _two_pass_gallery(video: Path, doc: dict[str, Any], frames: int, model: Any, per_track: int):
    """Best crop per id, presence timelines and, with a model, the text-aligned features of each
    id's ``per_track`` best boxes: from the JSON, a second decode and a second encode."""
    import torch

    from cgclip.io.video import open_video
    from cgclip.model.preprocess import crop_boxes
    from demo.gallery import cut, render_tile, track_color
    from demo.reid import cls_features, text_aligned
    from tracker.outputs import crop_quality

    plan: dict[int, list[tuple[int, np.ndarray, bool]]] = {}
    for tid, track in doc["tracks"].items():
        best = track["best_crop"]
        plan.setdefault(best["frame"], []).append((int(tid), np.asarray(best["box"]), True))
    present: dict[int, np.ndarray] = {}
    heaps: dict[int, list] = {}
    for entry in doc["frames"]:
        objs = entry["objects"]
        for o in objs:
            present.setdefault(o["id"], np.zeros(frames, bool))[entry["frame"] - 1] = True
        if model is None or not objs:
            continue
        xyxy = np.array([o["box"] for o in objs])
        conf = np.array([o["confidence"] for o in objs])
        for o, q in zip(objs, crop_quality(xyxy, conf, (doc["width"], doc["height"])), strict=True):
            item, heap = (float(q), -entry["frame"], o["box"]), heaps.setdefault(o["id"], [])
            if len(heap) < per_track:
                heapq.heappush(heap, item)
            elif item[:2] > heap[0][:2]:
                heapq.heapreplace(heap, item)
    for tid, heap in heaps.items():
        for _, nf, box in heap:
            plan.setdefault(-nf, []).append((tid, np.asarray(box), False))
    best, crops, owners = {}, [], []
    with open_video(video) as reader:
        for index, frame in enumerate(reader, start=1):
            for tid, box, is_best in plan.get(index, []):
                if is_best:
                    best[tid] = cut(frame, box)
                else:
                    crops.append(crop_boxes(frame, box[None], model.preprocess))
                    owners.append(tid)
    tiles = [render_tile(best[t], present[t], track_color(t)) for t in sorted(best)]
    if model is None or not crops:
        return tiles, None
    cls = cls_features(model, torch.cat(crops))
    owner = np.asarray(owners)
    ids = sorted(set(owners))
    return tiles, text_aligned(model, np.stack([cls[owner == t].mean(0) for t in ids]))


def one_pass(video: Path, det: Path, work: Path, registry: Any, reid: str):
    from demo.pipeline import PUBLIC, process_clip

    res = process_clip(
        video,
        work_dir=work,
        registry=registry,
        detector=PUBLIC,
        detections=det,
        reid=reid,
        preset="dance",
    )
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=250, help="length of the sample clip")
    p.add_argument("--models", default="test-tiny", help="random-init checkpoints")
    p.add_argument("--rounds", type=int, default=3, help="rotated rounds per set-up")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "demo_latency.json")
    args = p.parse_args(argv)
    import torch

    import cgclip
    from demo.pipeline import prepare_sample
    from demo.reid import ReidRegistry, rank_tracks

    result: dict[str, Any] = {
        "machine": machine_info(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "frames": args.frames,
        "rounds": args.rounds,
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video, det = prepare_sample(tmp / "sample", frames=args.frames)
        ckpts = tmp / "ckpts"
        for name in filter(None, args.models.split(",")):
            torch.manual_seed(0)
            cgclip.save_checkpoint(cgclip.create_model(name), ckpts / f"{name}.safetensors")
        registry = ReidRegistry(ckpts if ckpts.is_dir() else None)
        setups = ["none"] + [f"ckpt:{n}" for n in registry.checkpoints]
        bar = tqdm(total=len(setups) * args.rounds * 2, desc="demo requests", unit="request")
        for reid in setups:
            registry.model(reid)  # load outside the timing, as a running server has it cached
            rounds: list[dict[str, Any]] = []
            for r in range(args.rounds):
                order = CONTENDERS if r % 2 == 0 else CONTENDERS[::-1]
                row: dict[str, Any] = {"order": list(order)}
                for who in order:
                    work = tmp / f"work-{reid.replace(':', '-')}-{r}-{who}"
                    work.mkdir()
                    load = os.getloadavg()[0]
                    t0, c0 = time.perf_counter(), time.process_time()
                    if who == "one_pass":
                        res = one_pass(video, det, work, registry, reid)
                        stages = dict(res.seconds)
                    else:
                        stages = two_pass(video, det, work, registry, reid)
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    row[who] = {"wall_s": wall, "cpu_s": cpu, "load_1min": load, **stages}
                    if who == "one_pass":
                        row["identities"] = len(res.identities)
                        row["search_ms"] = _search_ms(registry, reid, res, rank_tracks)
                    bar.update(1)
                row["ratio"] = row["one_pass"]["wall_s"] / row["two_pass"]["wall_s"]
                row["cpu_ratio"] = row["one_pass"]["cpu_s"] / row["two_pass"]["cpu_s"]
                rounds.append(row)
            result["runs"][reid] = _summary(rounds)
            print(reid, json.dumps(result["runs"][reid]["median"]))
        bar.close()
    result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


def _search_ms(registry: Any, reid: str, res: Any, rank_tracks: Any) -> float | None:
    if res.embeddings is None:
        return None
    model = registry.model(reid)
    rank_tracks(model, "warm-up", res.track_ids, res.embeddings)
    times = []
    for _ in range(20):
        t1 = time.perf_counter()
        rank_tracks(model, "blue jersey number 10", res.track_ids, res.embeddings)
        times.append(1000 * (time.perf_counter() - t1))
    return statistics.median(times)


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    med = statistics.median

    def stage(who: str, key: str) -> float:
        return med(r[who].get(key, 0.0) for r in rounds)

    median = {
        "ratio": med(r["ratio"] for r in rounds),
        "cpu_ratio": med(r["cpu_ratio"] for r in rounds),
        "identities": rounds[0]["identities"],
        "search_ms": rounds[0]["search_ms"] and med(r["search_ms"] for r in rounds),
    }
    for who in CONTENDERS:
        median[who] = {k: stage(who, k) for k in ("wall_s", "cpu_s", "track", "video", "gallery")}
    return {"median": median, "rounds": rounds}


def render(result: dict[str, Any]) -> str:
    """The docs table of a result (``benchmarks.render_docs``)."""
    from benchmarks.render_docs import md_table

    rows = []
    for setup, run in result["runs"].items():
        r = run["median"]
        one, two = r["one_pass"], r["two_pass"]
        label = f"CG-CLIP `{setup.split(':', 1)[1]}`" if setup.startswith("ckpt:") else setup
        search = "-" if r["search_ms"] is None else f"{r['search_ms']:.1f} ms"
        loads = [x["one_pass"]["load_1min"] for x in run["rounds"]]
        loads += [x["two_pass"]["load_1min"] for x in run["rounds"]]
        rows.append(
            [
                label,
                f"{two['wall_s']:.2f} s ({two['track']:.2f} + {two['video']:.2f} + "
                f"{two['gallery']:.2f})",
                f"{one['wall_s']:.2f} s ({one['track']:.2f} + {one['video']:.2f} + "
                f"{one['gallery']:.2f})",
                f"{r['ratio']:.2f}",
                f"{r['cpu_ratio']:.2f}",
                f"{min(loads):.1f}-{max(loads):.1f}",
                search,
            ]
        )
    header = [
        "ReID",
        "two passes (track + H.264 + gallery)",
        "one pass (track + H.264 + gallery)",
        "wall one/two",
        "CPU one/two",
        "load (1 min)",
        "one search",
    ]
    return md_table(header, rows)


if __name__ == "__main__":
    raise SystemExit(main())
