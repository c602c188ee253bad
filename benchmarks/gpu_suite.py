"""One GPU suite: every GPU figure of the project in one short run, written to one JSON.

    bash benchmarks/gpu_suite.sh                  # on a GPU machine (76-111 s on an H200 without TensorRT)
    bash benchmarks/gpu_suite.sh --dry-run        # the CPU, tiny sizes: what CI runs (under 60 s)
    python -m benchmarks.render_docs              # docs/gpu.md's tables from benchmarks/results/gpu/

Sections, in this order (the JSON is rewritten after each, so a run cut short keeps its numbers):

1. ``environment``: device name, count, driver, CUDA/cuDNN, library versions, torch threads, load
   average (at the start and the end), the peak bf16 FLOP/s of the device (from the datasheet
   table in ``benchmarks/gpu_report.py``) and a measured bf16 matrix product for scale.
2. ``encoder``: the image encoder of ViT-B/16 at 256x128 (random init: weights do not change the
   cost) per backend: eager fp32/bf16/fp16, ``torch.compile`` bf16, ONNX Runtime (CUDA, fp16) and
   TensorRT (fp16) where installed, else "unavailable" with the reason. Contenders are timed round
   by round, in a rotated order, at batch 1, 32 and 256: crops/s, p50/p95 latency, ratio to eager
   fp32 at the same batch and the fraction of the device's peak bf16 FLOP/s (22 GFLOP per crop).
   Each backend's parity with eager fp32 (``cgclip.runtime.check_parity``) on the device.
3. ``tfe``: TFE cost against T (``benchmarks.model_cost.tfe_cost``).
4. ``pipeline``: ``tracker.run.track_video`` on a synthetic 1280x720 sports clip with 20 people:
   per-stage ms and FPS with the real ultralytics YOLO path (weights built from ``yolo11n.yaml``,
   random init: its detect time is YOLO11n's; the tracker is fed the clip's replayed detections,
   since random boxes are noise) and ViT-B/16 appearance, in eager bf16 and with the fastest
   backend that passed parity. Outputs: MOT txt and JSON (no annotated video).
5. ``train``: one training step with AMP bf16 (``benchmarks.model_cost.train_step``), tracklets/s.
6. ``ddp``: a 2-step DDP smoke test when more than one GPU is present (``torchrun``, NCCL); the dry
   run checks the same code with one gloo process.

Sections 3-6 live in ``benchmarks/gpu_sections.py``; ``benchmarks/gpu_report.py`` renders the
JSON for docs/gpu.md. A section that cannot fit the time budget (``--budget``) is skipped with
that reason, and one that fails is recorded with its error while the suite goes on (the dry run
stops instead). ``--out`` names the JSON, or a folder to write ``<device>.json`` into (a dry run
goes to the temporary folder by default, never into the repository).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import os
import re
import subprocess
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.encoder_throughput import machine_info
from benchmarks.gpu_report import FLOP_PER_CROP, peak_bf16
from benchmarks.gpu_sections import ddp, ddp_worker, pipeline, tfe, train
from benchmarks.model_cost import call_times, flops
from cgclip.errors import UserError, cli
from cgclip.io.atomic import atomic_write_json

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "gpu"
FORMAT, VERSION = "cgclip-gpu-suite", 1


@dataclasses.dataclass(frozen=True)
class Sizes:
    variant: str = "ViT-B-16"
    batches: tuple[int, ...] = (1, 32, 256)
    rounds: int = 5  # rotations over the contenders
    calls: int = 4  # timed calls per contender, batch and round
    parity_crops: int = 16
    compiler: str = "inductor"
    tfe_ts: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    tfe_batch: int = 32
    width: int = 1280
    height: int = 720
    frames: int = 200
    team_size: int = 10  # two teams: 20 people
    imgsz: int = 640
    yolo_batch: int = 8
    train_batch: int = 32  # 8 identities x 4 tracklets (Table S.7)
    clip_len: int = 8
    train_repeat: int = 5


FULL = Sizes()
DRY = Sizes(
    variant="test-tiny",
    batches=(1, 4, 8),
    rounds=2,
    calls=2,
    parity_crops=4,
    compiler="aot_eager",  # traces the same graph without code generation: seconds, not minutes
    tfe_ts=(1, 2, 4),
    tfe_batch=4,
    width=320,
    height=180,
    frames=6,
    team_size=3,
    imgsz=128,
    yolo_batch=3,
    train_batch=4,
    clip_len=2,
    train_repeat=1,
)


class Suite:
    """Runs the sections in order and keeps the JSON on disk up to date."""

    def __init__(
        self, sizes: Sizes, device: torch.device, out: Path, budget: float, strict: bool
    ) -> None:
        self.sizes, self.device, self.out, self.strict = sizes, device, out, strict
        self.deadline = time.monotonic() + budget
        self.result: dict[str, Any] = {"format": FORMAT, "version": VERSION}

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def save(self) -> None:
        atomic_write_json(self.out, self.result)

    def section(self, name: str, fn: Any, *args: Any, need: float = 0.0) -> Any:
        """Run one section; its result (or why it did not run) goes into the JSON at once. A
        section that raises is recorded and the suite goes on (a GPU lease is short), unless
        ``strict`` (the dry run: CI must see the traceback)."""
        start = time.perf_counter()
        if self.left() < need:
            value: Any = {"skipped": f"time budget: {self.left():.0f} s left, needs ~{need:.0f} s"}
        else:
            try:
                value = fn(*args)
            except Exception as err:
                if self.strict:
                    raise
                tail = traceback.format_exc().strip().splitlines()[-12:]
                value = {"skipped": f"failed: {type(err).__name__}: {err}"[:500], "trace": tail}
            value["section_seconds"] = round(time.perf_counter() - start, 2)
        self.result[name] = value
        self.save()
        print(f"[gpu-suite] {name}: {short(value)}", flush=True)
        return value


def short(value: dict[str, Any]) -> str:
    if "skipped" in value:
        return "skipped (" + value["skipped"] + ")"
    return f"done in {value.get('section_seconds', 0):.1f} s"


# ---------------------------------------------------------------------- 1. environment


def environment(suite: Suite, dry_run: bool) -> dict[str, Any]:
    dev = suite.device
    info: dict[str, Any] = {
        "machine": machine_info(dev),
        "dry_run": dry_run,
        "device": str(dev),
        "sizes": dataclasses.asdict(suite.sizes),
        "weights": "random init (encoder, YOLO from yolo11n.yaml): the cost does not depend on them",
        "torch_threads": torch.get_num_threads(),
        "fp32_matmul_precision": torch.get_float32_matmul_precision(),  # "highest": no TF32
        "load_average_start": list(os.getloadavg()),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for name in ("open_clip", "ultralytics", "supervision"):
        with contextlib.suppress(Exception):
            info["machine"][name] = __import__(name).__version__
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        info.update(
            gpu=props.name,
            gpu_count=torch.cuda.device_count(),
            capability=f"{props.major}.{props.minor}",
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            driver=nvidia_smi("driver_version"),
        )
    info["peak_bf16_tflops"] = peak_bf16(info.get("gpu"))
    info["matmul_bf16_tflops"] = matmul_tflops(dev, 8192 if dev.type == "cuda" else 256)
    return info


def nvidia_smi(field: str) -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={field}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else None


def matmul_tflops(device: torch.device, n: int) -> float:
    """bf16 n x n x n matrix products per second, in TFLOP/s: what the device reaches in practice."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    times = call_times(lambda: a @ a, 10, warmup=3)
    return 2 * n**3 / float(np.median(times)) / 1e12


# ---------------------------------------------------------------------- 2. encoder


def contenders(sizes: Sizes, device: torch.device) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(label, backend, precision, options) in the order they are built."""
    onnx_precision = "fp16" if device.type == "cuda" else "fp32"
    top = max(sizes.batches)
    compiled = {"compiler": sizes.compiler, "warmup": (2, 1), "mode": None}
    # CUDA graphs replay the encoder's hundreds of kernel launches as one: what small per-frame batches
    # need (batch 1 costs about what batch 32 does in eager). CUDA only.
    graphs = [("compile bf16 graphs", "compile", "bf16", {**compiled, "mode": "reduce-overhead"})]
    return [
        ("eager fp32", "eager", "fp32", {}),
        ("eager bf16", "eager", "bf16", {}),
        ("eager fp16", "eager", "fp16", {}),
        ("compile bf16", "compile", "bf16", compiled),
        *(graphs if device.type == "cuda" else []),
        (f"onnx {onnx_precision}", "onnx", onnx_precision, {}),
        ("tensorrt fp16", "tensorrt", "fp16", {"opt_batch": top, "max_batch": top}),
    ]


def build_backends(
    model: Any, sizes: Sizes, device: torch.device, cache: str, suite: Suite
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, str]]:
    """The backends that run here, their build seconds, and why the others do not."""
    from cgclip.runtime import make_backend

    built: dict[str, Any] = {}
    builds: dict[str, dict[str, Any]] = {}
    unavailable: dict[str, str] = {}
    for label, kind, precision, options in contenders(sizes, device):
        # A TensorRT build takes minutes; when torch-tensorrt is missing, make_backend says so.
        tensorrt = kind == "tensorrt" and importlib.util.find_spec("torch_tensorrt") is not None
        if tensorrt and suite.left() < 240:
            unavailable[label] = (
                f"skipped: {suite.left():.0f} s left, a TensorRT build takes minutes"
            )
            continue
        start = time.perf_counter()
        try:
            backend = make_backend(
                model, kind, precision=precision, device=device, cache_dir=cache, **options
            )
        except UserError as err:  # BackendUnavailable: missing package, GPU or precision
            unavailable[label] = str(err)
            continue
        except Exception as err:  # a backend that breaks on this machine: recorded, suite goes on
            unavailable[label] = f"failed: {type(err).__name__}: {str(err).strip()[:300]}"
            continue
        built[label] = backend
        builds[label] = {
            "describe": backend.describe(),
            "build_seconds": round(time.perf_counter() - start, 2),
        }
    return built, builds, unavailable


def rotate(
    backends: dict[str, Any], inputs: dict[int, torch.Tensor], rounds: int, calls: int
) -> dict[str, dict[int, list[float]]]:
    """Per-call seconds of every backend at every batch. Each round times every contender once,
    starting one contender later than the round before, so drift (clocks, heat, other load)
    spreads over all of them instead of favouring whoever ran first."""
    labels = list(backends)
    samples = {label: {b: [] for b in inputs} for label in labels}
    for r in range(rounds):
        shift = r % len(labels)
        for label in labels[shift:] + labels[:shift]:
            backend = backends[label]
            for b, x in inputs.items():
                samples[label][b] += call_times(lambda be=backend, x=x: be.encode_frames(x), calls)
    return samples


def summarize(
    samples: dict[str, dict[int, list[float]]], flop_per_crop: float, peak_tflops: float | None
) -> dict[str, list[dict[str, Any]]]:
    """crops/s (batch / p50), p50/p95 ms, ratio to eager fp32 and fraction of peak per batch."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for label, per_batch in samples.items():
        rows[label] = []
        for b, times in per_batch.items():
            p50, p95 = (float(v) for v in np.percentile(times, [50, 95]))
            rate = b / p50
            row = {"batch": b, "p50_ms": p50 * 1e3, "p95_ms": p95 * 1e3, "crops_per_s": rate}
            row["calls"] = len(times)
            if peak_tflops:
                row["peak_bf16_fraction"] = rate * flop_per_crop / (peak_tflops * 1e12)
            rows[label].append(row)
    ref = {row["batch"]: row["crops_per_s"] for row in rows.get("eager fp32", [])}
    for label_rows in rows.values():
        for row in label_rows:
            if row["batch"] in ref:
                row["x_eager_fp32"] = row["crops_per_s"] / ref[row["batch"]]
    return rows


def encoder(suite: Suite, state: dict[str, Any]) -> dict[str, Any]:
    from cgclip.model import create_model
    from cgclip.runtime import check_parity

    sizes, device = suite.sizes, suite.device
    torch.manual_seed(0)
    model = create_model(sizes.variant, device=device)
    h, w = model.preprocess.size
    one = torch.randn(1, 3, h, w, device=device)
    measured = flops(lambda: model.encode_frames(one))
    # the stated 22 GFLOP for ViT-B/16 at 256x128; other variants (the dry run) use the count
    flop_per_crop = FLOP_PER_CROP if sizes.variant == "ViT-B-16" else measured
    peak = suite.result["environment"].get("peak_bf16_tflops")
    built, builds, unavailable = build_backends(model, sizes, device, state["cache"], suite)
    gen = torch.Generator(device="cpu").manual_seed(1)
    inputs = {b: torch.randn(b, 3, h, w, generator=gen).to(device) for b in sizes.batches}
    samples = rotate(built, inputs, sizes.rounds, sizes.calls)
    parity = {
        label: check_parity(backend, n=sizes.parity_crops).to_dict()
        for label, backend in built.items()
        if label != "eager fp32"
    }
    state.update(model=model, backends=built, parity=parity)
    return {
        "model": f"{sizes.variant} {h}x{w}, random init",
        "tokens_per_frame": model.tokens_per_frame,
        "flop_per_crop": flop_per_crop,
        "flop_per_crop_counted": measured,
        "rounds": sizes.rounds,
        "calls_per_round": sizes.calls,
        "builds": builds,
        "rows": summarize(samples, flop_per_crop, peak),
        "parity": parity,
        "unavailable": unavailable,
    }


# ---------------------------------------------------------------------- main


def device_slug(result: dict[str, Any]) -> str:
    env = result.get("environment", {})
    name = env.get("gpu") or ("cpu-dry-run" if env.get("dry_run") else "cpu")
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@cli
def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_suite", description=__doc__)
    p.add_argument("--dry-run", action="store_true", help="the CPU, tiny sizes (CI)")
    p.add_argument(
        "--out",
        type=Path,
        help="JSON path, or a folder for <folder>/<device>.json (default: results/gpu/)",
    )
    p.add_argument("--budget", type=float, default=450.0, help="seconds for the whole suite")
    p.add_argument("--ddp-worker", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--variant", default=FULL.variant, help=argparse.SUPPRESS)
    p.add_argument("--clip-len", type=int, default=FULL.clip_len, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.ddp_worker:
        ddp_worker(args.ddp_worker, args.variant, args.clip_len)
        return 0
    if args.dry_run:
        sizes, device = DRY, torch.device("cpu")
    elif torch.cuda.is_available():
        sizes, device = FULL, torch.device("cuda", 0)
    else:
        raise UserError("no CUDA GPU is visible to torch; run with --dry-run on a CPU")
    with tempfile.TemporaryDirectory(prefix="cgclip-gpu-suite-") as cache:
        # named after the device once it is known; a dry run stays out of the repository
        folder = args.out if args.out is not None and args.out.is_dir() else None
        if folder is None and args.out is None:
            folder = Path(tempfile.gettempdir()) if args.dry_run else RESULTS
        out = Path(cache) / "result.json" if folder is not None else args.out
        suite = Suite(sizes, device, out, args.budget, strict=args.dry_run)
        state: dict[str, Any] = {"cache": cache}
        suite.section("environment", environment, suite, args.dry_run)
        if folder is not None:
            suite.out = folder / f"{device_slug(suite.result)}.json"
        suite.section("encoder", encoder, suite, state, need=60)
        if "rows" in suite.result["encoder"]:  # TFE and the pipeline use its model and backends
            suite.section("tfe", tfe, suite, state, need=10)
            suite.section("pipeline", pipeline, suite, state, need=60)
        suite.section("train", train, suite, state, need=30)
        state.pop("model", None)
        suite.section("ddp", ddp, suite, state, need=30)
        suite.result["environment"]["load_average_end"] = list(os.getloadavg())
        suite.result["environment"]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        suite.save()
    print(f"wrote {suite.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
