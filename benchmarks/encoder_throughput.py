"""Image-encoder throughput (crops/s) per backend x precision x batch, with parity, in one run.

    python -m benchmarks.encoder_throughput                    # this machine's device, all variants
    python -m benchmarks.encoder_throughput --variants test-tiny --quick
    python -m benchmarks.encoder_plots                         # PNG from the JSON

Backends come from :func:`cgclip.runtime.make_backend` (eager, compile, onnx, tensorrt) at each
precision (fp32, bf16, fp16); combinations that cannot run here (fp16 or TensorRT without a GPU)
are recorded with their one-line reason. Models are random-init (weights do not change the cost).
``test-tiny`` and ``cpu-small`` run every batch size; ``ViT-B-16`` runs ``--big-batches``
(default: batch 8 on a CPU, every batch on a GPU) with fewer repeats. Every backend of a variant
is built first (the build time is recorded: ONNX export, torch.compile, TensorRT engine), then
they are timed round by round in rotated order (:func:`benchmarks.common.rotated_rounds`), each
round a median of ``--repeat`` calls per batch, by wall clock and by process CPU time. The numbers
to report are the speed-ups over eager fp32 of the same variant and batch: the median of the
per-round ratios, on CPU time when the load average exceeds the usable cores. Each backend is
also checked for parity with eager fp32 (``cgclip.runtime.check_parity``). TFE cost versus T
(TFE itself) reuses ``benchmarks.model_cost.tfe_cost`` on the same device; the rotated, CPU-timed
TFE benchmark with a linear fit is :mod:`benchmarks.tfe_cost`.

Results: ``benchmarks/results/encoder_throughput_<cpu|cuda>.json`` with the machine (CPU, cores,
GPU, torch/onnxruntime/torch-tensorrt versions). Runs unchanged on a CUDA machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import basis, cpu_seconds, on_basis, pin_threads, rotated_rounds
from benchmarks.model_cost import machine, tfe_cost
from cgclip.errors import UserError, cli
from cgclip.io.atomic import atomic_write_json

RESULTS_DIR = Path(__file__).resolve().parent / "results"
COMBOS = [
    ("eager", "fp32"),
    ("eager", "bf16"),
    ("eager", "fp16"),
    ("compile", "fp32"),
    ("compile", "bf16"),
    ("compile", "fp16"),
    ("onnx", "fp32"),
    ("onnx", "fp16"),
    ("tensorrt", "fp16"),
    ("tensorrt", "fp32"),
]


def machine_info(device: torch.device) -> dict[str, Any]:
    info = machine()
    info["cores"] = os.cpu_count()
    info["device"] = str(device)
    for name in ("onnxruntime", "torch_tensorrt", "tensorrt"):
        try:
            info[name] = __import__(name).__version__
        except Exception:  # not installed (or unusable) here: recorded as such
            info[name] = None
    return info


def build_backend(
    model: Any, kind: str, precision: str, batches: Sequence[int], cache_dir: str
) -> tuple[Any, float]:
    """One backend and its build seconds."""
    from cgclip.runtime import make_backend

    options: dict[str, Any] = {}
    if kind == "compile":  # compile the batch-1 graph only when batch 1 is measured
        options["warmup"] = (2, 1) if 1 in batches else (2,)
    if kind == "tensorrt":
        options["max_batch"] = max(batches)
        options["opt_batch"] = min(max(batches), 16)
    start = time.perf_counter()
    backend = make_backend(
        model, kind, precision=precision, device=model.device, cache_dir=cache_dir, **options
    )
    return backend, time.perf_counter() - start


def point_timer(
    backend: Any, inputs: dict[int, torch.Tensor], repeat: int
) -> Callable[[], dict[str, Any]]:
    """A round of one backend: median wall and CPU seconds per call at each batch size."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)

    def run() -> dict[str, Any]:
        points = {}
        for b, x in inputs.items():
            walls, cpus = [], []
            for _ in range(repeat):
                c0, w0 = cpu_seconds(), time.perf_counter()
                backend.encode_frames(x)
                sync()
                walls.append(time.perf_counter() - w0)
                cpus.append(cpu_seconds() - c0)
            points[b] = {
                "seconds": statistics.median(walls),
                "cpu_seconds": statistics.median(cpus),
            }
        return {"points": points}

    return run


def bench_variant(
    model: Any,
    combos: Sequence[tuple[str, str]],
    batches: Sequence[int],
    repeat: int,
    rounds: int,
    cache_dir: str,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Build every backend of ``combos``, time them in rotated rounds, check their parity."""
    from cgclip.runtime import check_parity

    h, w = model.preprocess.size
    inputs = {b: torch.randn(b, 3, h, w, device=model.device) for b in batches}
    built, skipped = {}, {}
    for kind, precision in combos:
        print(f"build {kind} {precision} ...", flush=True)
        try:
            backend, build = build_backend(model, kind, precision, batches, cache_dir)
            for x in inputs.values():  # first-call costs (ORT arena, CUDA context, lazy graphs)
                backend.encode_frames(x)
        except UserError as err:  # BackendUnavailable and friends: one line, recorded
            skipped[f"{kind} {precision}"] = str(err)
            continue
        built[f"{kind} {precision}"] = (kind, precision, backend, build)
    per_round = rotated_rounds(
        {name: point_timer(entry[2], inputs, repeat) for name, entry in built.items()},
        rounds,
        desc="backends",
    )
    runs = []
    for name, (kind, precision, backend, build) in built.items():
        rows = []
        for b in batches:
            pts = [e["points"][b] for e in per_round[name]]
            seconds = statistics.median(p["seconds"] for p in pts)
            rows.append(
                {
                    "batch": b,
                    "seconds": seconds,
                    "cpu_seconds": statistics.median(p["cpu_seconds"] for p in pts),
                    "crops_per_s": b / seconds,
                    "cpu_crops_per_s": b / statistics.median(p["cpu_seconds"] for p in pts),
                    "rounds": pts,
                }
            )
        runs.append(
            {
                "backend": kind,
                "precision": precision,
                "describe": backend.describe(),
                "build_seconds": build,
                "rows": rows,
                "loads": [e["load"] for e in per_round[name]],
                "parity": check_parity(backend, n=8).to_dict(),
            }
        )
    built.clear()
    gc.collect()
    return runs, skipped


def add_ratios(runs: list[dict[str, Any]], cores: int | None = None) -> None:
    """Speed-up of every run over eager fp32 at the same batch (same variant, same rounds): the
    median of per-round ratios, by wall and CPU time; ``speedup_vs_eager_fp32`` is the one on
    :func:`benchmarks.common.basis` at the highest load of the rounds."""
    ref = next((r for r in runs if (r["backend"], r["precision"]) == ("eager", "fp32")), None)
    if ref is None:
        return
    base = {row["batch"]: row for row in ref["rows"]}
    load = max((x for r in runs for x in r.get("loads", [])), default=0.0)
    chosen = basis(load, cores)
    for run in runs:
        for row in run["rows"]:
            ref_row = base.get(row["batch"])
            if ref_row is None:
                continue
            for key, out in (("seconds", "wall"), ("cpu_seconds", "cpu")):
                row[f"speedup_{out}"] = statistics.median(
                    r[key] / p[key] for r, p in zip(ref_row["rounds"], row["rounds"], strict=True)
                )
            row["basis"] = chosen
            row["speedup_vs_eager_fp32"] = row[f"speedup_{chosen}"]


def print_table(name: str, runs: list[dict[str, Any]], skipped: dict[str, str]) -> None:
    batches = sorted({row["batch"] for run in runs for row in run["rows"]})
    head = f"{'backend':<9} {'prec':<5}" + "".join(f" {'b=' + str(b):>16}" for b in batches)
    print(f"\n{name}: crops/s (x eager fp32 at the same batch; CPU time when loaded)")
    print(head + f" {'build s':>8} {'parity':>26}")
    for run in runs:
        cells = {row["batch"]: row for row in run["rows"]}
        line = f"{run['backend']:<9} {run['precision']:<5}"
        for b in batches:
            row = cells.get(b)
            cell = (
                f"{on_basis(row, 'crops_per_s', 'cpu_crops_per_s'):.1f} (x{row.get('speedup_vs_eager_fp32', 0):.2f})"
                if row
                else "-"
            )
            line += f" {cell:>16}"
        p = run["parity"]
        verdict = "ok" if p["passed"] else "FAIL"
        line += f" {run['build_seconds']:>8.1f} {verdict} tok {p['token_rel_error']:.1e} cos {p['min_cosine']:.5f}"
        print(line)
    for combo, reason in skipped.items():
        print(f"{combo:<15} unavailable: {reason}")


@cli
def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.encoder_throughput", description=__doc__.split("\n")[0]
    )
    p.add_argument("--variants", nargs="+", default=["test-tiny", "cpu-small", "ViT-B-16"])
    p.add_argument("--backends", nargs="+", default=["eager", "compile", "onnx", "tensorrt"])
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16", "fp16"])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8, 32, 64])
    p.add_argument(
        "--big-batches",
        nargs="+",
        type=int,
        help="batches for ViT-* variants (default: 8 on a CPU, --batches on a GPU)",
    )
    p.add_argument("--repeat", type=int, default=3, help="timed calls per point and round")
    p.add_argument("--big-repeat", type=int, default=1, help="timed calls per ViT-* point, round")
    p.add_argument("--rounds", type=int, default=5, help="rotated rounds over the backends")
    p.add_argument("--tfe-ts", nargs="+", type=int, default=[1, 4, 8, 16])
    p.add_argument("--device", help="default: cuda when available, else cpu")
    p.add_argument("--threads", type=int, default=0, help="torch/ORT CPU threads (0: default)")
    p.add_argument("--quick", action="store_true", help="repeat 3, batches 1 8, no TFE")
    p.add_argument("--output", help="default: benchmarks/results/encoder_throughput_<dev>.json")
    args = p.parse_args(argv)
    from cgclip.model import create_model, list_models

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for but no CUDA GPU is visible to torch")
    unknown = sorted(set(args.variants) - set(list_models()))
    if unknown:
        raise UserError(f"unknown variants {unknown}; choose from {list_models()}")
    if args.threads > 0:
        pin_threads(args.threads)  # torch, ORT (follows torch), OpenCV and BLAS alike
    if args.quick:
        args.repeat, args.big_repeat, args.rounds, args.batches, args.tfe_ts = 2, 1, 2, [1, 8], []
    big_batches = args.big_batches or (args.batches if device.type == "cuda" else [8])
    combos = [c for c in COMBOS if c[0] in args.backends and c[1] in args.precisions]
    output = Path(
        args.output
        or RESULTS_DIR / f"encoder_throughput_{'cuda' if device.type == 'cuda' else 'cpu'}.json"
    )
    result: dict[str, Any] = {"machine": machine_info(device), "variants": {}}
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="cgclip-bench-") as cache_dir:
        for name in args.variants:
            big = name.startswith("ViT")
            batches = big_batches if big else args.batches
            repeat = args.big_repeat if big else args.repeat
            model = create_model(name, device=device)
            with torch.inference_mode():
                runs, skipped = bench_variant(
                    model, combos, batches, repeat, args.rounds, cache_dir
                )
            add_ratios(runs)
            entry: dict[str, Any] = {"runs": runs, "unavailable": skipped}
            if args.tfe_ts:  # FLOP counting needs autograd on: outside inference_mode
                entry["tfe"] = tfe_cost(model, args.tfe_ts, 16, repeat)
            result["variants"][name] = entry
            print_table(name, runs, skipped)
            del model
            gc.collect()
    atomic_write_json(output, result)
    print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
