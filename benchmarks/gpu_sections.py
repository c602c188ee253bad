"""The GPU suite's sections after the encoder: TFE cost, the tracking pipeline, training, DDP.

Each section is ``fn(suite, state) -> dict`` (see ``benchmarks/gpu_suite.py``): ``suite`` has
``sizes``, ``device`` and the ``result`` so far; ``state`` carries the model, the built backends,
their parity and the scratch folder (``cache``) from the encoder section.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.model_cost import tfe_cost, train_step
from cgclip.io.atomic import atomic_write_json

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------- 3. TFE


def tfe(suite: Any, state: dict[str, Any]) -> dict[str, Any]:
    """TFE cost against T with keys over every token and over CLS tokens, TFE itself timed
    (``benchmarks.model_cost.tfe_cost``; the default ``f`` embedding never runs it)."""
    from cgclip.model import create_model

    sizes = suite.sizes
    out: dict[str, Any] = {"batch": sizes.tfe_batch, "embedding": "f+s"}
    for keys in ("all", "cls"):
        torch.manual_seed(0)
        model = create_model(
            sizes.variant, device=suite.device, embedding=["f", "s"], tfe_keys=keys
        )
        out[f"keys_{keys}"] = tfe_cost(model, sizes.tfe_ts, sizes.tfe_batch, 5)
    return out


# ---------------------------------------------------------------------- 4. pipeline


class TimedYoloReplay:
    """The detector of the pipeline runs: the real ultralytics YOLO path on every batch (its
    time is the detect stage), while the tracker gets the clip's replayed detections, because
    a random-init YOLO's boxes are noise. Counts the boxes YOLO found, for the record."""

    def __init__(self, yolo: Any, replay: Any) -> None:
        self.yolo, self.replay = yolo, replay
        self.batch_size = yolo.batch_size
        self.yolo_boxes = 0

    def detect(self, frames: Sequence[np.ndarray], frame_ids: Sequence[int]) -> list[Any]:
        self.yolo_boxes += sum(len(d) for d in self.yolo.detect(frames, frame_ids))
        return self.replay.detect(frames, frame_ids)


def synthetic_clip(sizes: Any, folder: Path) -> tuple[Path, Path, int]:
    """A sports clip of two teams at ``sizes.width`` x ``sizes.height``: (mp4, det.txt, people)."""
    from cgclip.data.synthetic.generate import PRESETS, plan_dataset, render_sequence
    from cgclip.io.mot import write_mot

    cfg = dataclasses.replace(
        PRESETS["test"],
        width=sizes.width,
        height=sizes.height,
        frames=sizes.frames,
        kinds=("sports",),
        splits=("gpu",),
        seqs_per_split=1,
        team_size=sizes.team_size,
        teams_per_split=2,
    )
    _, specs = plan_dataset(cfg)
    video = folder / "clip.mp4"
    res = render_sequence(specs[0], cfg, None, video_path=video)
    return video, write_mot(folder / "det.txt", res.det), len(specs[0].people)


def pipeline(suite: Any, state: dict[str, Any]) -> dict[str, Any]:
    from tracker.config import load_preset
    from tracker.detectors import ReplayDetector, YoloDetector
    from tracker.embedding import CgclipEmbedder
    from tracker.pipeline import STAGES
    from tracker.run import track_video

    sizes, device = suite.sizes, suite.device
    folder = Path(state["cache"]) / "clip"
    folder.mkdir(exist_ok=True)
    video, det, people = synthetic_clip(sizes, folder)
    yolo = YoloDetector(
        "yolo11n.yaml", batch_size=sizes.yolo_batch, imgsz=sizes.imgsz, device=str(device)
    )
    backends = state["backends"]
    runs = {"eager bf16": backends.get("eager bf16")}
    best = fastest(suite.result["encoder"], state["parity"], batch=min(32, max(sizes.batches)))
    if best is not None:
        runs[best] = backends[best]
    rows: dict[str, Any] = {}
    for label, backend in runs.items():
        if backend is None:
            rows[label] = {"skipped": "backend unavailable"}
            continue
        embedder = CgclipEmbedder(backend, device=str(device), name=f"{sizes.variant} {label}")
        kwargs = {"config": load_preset("sports"), "embedder": embedder, "progress": False}
        warm = TimedYoloReplay(yolo, ReplayDetector(det))  # CUDA set-up, first calls: untimed
        track_video(video, detector=warm, max_frames=2 * sizes.yolo_batch, **kwargs)
        detector = TimedYoloReplay(yolo, ReplayDetector(det))
        summary = track_video(
            video, detector=detector, out_mot=folder / "r.txt", out_json=folder / "r.json", **kwargs
        )
        n, total = max(summary.frames, 1), sum(summary.seconds.values())
        rows[label] = {
            "frames": summary.frames,
            "ms_per_frame": {s: 1e3 * summary.seconds[s] / n for s in STAGES},
            "total_ms_per_frame": 1e3 * total / n,
            "fps": summary.frames / total if total else None,
            "ids": summary.ids,
            "yolo_boxes_per_frame": detector.yolo_boxes / n,
        }
    return {
        "clip": f"synthetic sports, {sizes.width}x{sizes.height}, {people} people, {sizes.frames} "
        f"frames, {int(np.loadtxt(det, delimiter=',', ndmin=2).shape[0]) / sizes.frames:.1f} "
        "replayed detections per frame",
        "detector": f"ultralytics YOLO from yolo11n.yaml (random init), imgsz {sizes.imgsz}, "
        f"batch {sizes.yolo_batch}, timed; the tracker gets the replayed detections",
        "outputs": "MOT txt + JSON (no annotated video)",
        "fastest_backend": best,
        "runs": rows,
    }


def fastest(encoder_result: dict[str, Any], parity: dict[str, Any], batch: int) -> str | None:
    """The contender with the most crops/s at ``batch`` whose parity passed (eager fp32 is the
    reference and passes by definition)."""
    best, rate = None, 0.0
    for label, rows in encoder_result["rows"].items():
        ok = label == "eager fp32" or parity.get(label, {}).get("passed", False)
        row = next((r for r in rows if r["batch"] == batch), None)
        if ok and row is not None and row["crops_per_s"] > rate:
            best, rate = label, row["crops_per_s"]
    return best


# ---------------------------------------------------------------------- 5-6. training


def train(suite: Any, state: dict[str, Any]) -> dict[str, Any]:
    state.pop("backends", None)  # free the inference copies before the training memory
    gc.collect()
    sizes = suite.sizes
    row = train_step(
        sizes.variant,
        sizes.train_batch,
        sizes.clip_len,
        sizes.train_repeat,
        device=suite.device,
        amp_dtype=torch.bfloat16,
    )
    row["tracklets_per_s"] = row.pop("clips_per_s")
    row["crops_per_s"] = row["tracklets_per_s"] * sizes.clip_len
    return row


def ddp(suite: Any, state: dict[str, Any]) -> dict[str, Any]:
    count = torch.cuda.device_count() if suite.device.type == "cuda" else 0
    out = Path(state["cache"]) / "ddp.json"
    if count > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        cmd += [f"--nproc_per_node={count}", "-m", "benchmarks.gpu_suite", "--ddp-worker", str(out)]
        cmd += ["--variant", suite.sizes.variant, "--clip-len", str(suite.sizes.clip_len)]
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            return {"passed": False, "error": proc.stderr[-2000:]}
        return json.loads(out.read_text())
    if suite.device.type == "cuda":
        return {"skipped": f"{count} GPU: DDP needs more than one"}
    # the dry run: the same worker, one gloo process in this one
    init = f"file://{Path(state['cache']) / 'ddp-rendezvous'}"
    return ddp_worker(
        out, suite.sizes.variant, suite.sizes.clip_len, init_method=init, world=1, rank=0
    )


def ddp_worker(
    out: Path,
    variant: str,
    clip_len: int,
    *,
    init_method: str = "env://",
    world: int = -1,
    rank: int = -1,
) -> dict[str, Any]:
    """Two DDP training steps on every rank; the replicas' parameters must agree after them."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    cuda = torch.cuda.is_available()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    backend = "nccl" if cuda else "gloo"
    dist.init_process_group(backend, init_method=init_method, world_size=world, rank=rank)
    try:
        models: list[torch.nn.Module] = []

        def wrap(model: torch.nn.Module) -> torch.nn.Module:
            models.append(model)
            ids = [device.index] if cuda else None
            return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)

        amp = torch.bfloat16 if cuda else None
        row = train_step(variant, 4, clip_len, 1, device=device, amp_dtype=amp, wrap=wrap)
        flat = torch.cat([p.detach().float().flatten() for p in models[0].parameters()])
        spread = torch.stack([flat.sum(), -flat.sum()])
        dist.all_reduce(spread, op=dist.ReduceOp.MAX)  # max and -min of the checksums
        result = {
            "backend": backend,
            "world": dist.get_world_size(),
            "steps": 2,  # call_times' warm-up step and one timed step
            "step_seconds": row["seconds"],
            "checksum_spread": float(spread[0] + spread[1]),
        }
        result["passed"] = result["checksum_spread"] <= 1e-3 * float(flat.abs().sum())
        if dist.get_rank() == 0:
            atomic_write_json(out, result)
        return result
    finally:
        dist.destroy_process_group()
