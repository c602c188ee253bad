"""Image-encoder throughput (crops/s) per backend x precision x batch, with parity, in one run.

    python -m benchmarks.encoder_throughput                    # this machine's device, all variants
    python -m benchmarks.encoder_throughput --variants test-tiny --quick
    python -m benchmarks.encoder_plots                         # PNG from the JSON

Backends come from :func:`cgclip.runtime.make_backend` (eager, compile, onnx, tensorrt) at each
precision (fp32, bf16, fp16); combinations that cannot run here (fp16 or TensorRT without a GPU)
are recorded with their one-line reason. Models are random-init (weights do not change the cost).
``test-tiny`` and ``cpu-small`` run every batch size; ``ViT-B-16`` runs ``--big-batches``
(default: batch 8 on a CPU, every batch on a GPU) with fewer repeats. The numbers to report are
the ratios to eager fp32 of the same variant and batch, measured in the same run. Each backend is
also checked for parity with eager fp32 (``cgclip.runtime.check_parity``), and the build time
(ONNX export, torch.compile, TensorRT engine) is recorded. TFE cost versus T reuses
``benchmarks.model_cost.tfe_cost`` on the same device.

Results: ``benchmarks/results/encoder_throughput_<cpu|cuda>.json`` with the machine (CPU, cores,
GPU, torch/onnxruntime/torch-tensorrt versions). Runs unchanged on a CUDA machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from benchmarks.model_cost import machine, tfe_cost, timed
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


def bench_backend(
    model: Any, kind: str, precision: str, batches: Sequence[int], repeat: int, cache_dir: str
) -> dict[str, Any]:
    """Build one backend, time it at each batch size, check its parity."""
    from cgclip.runtime import check_parity, make_backend

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
    build = time.perf_counter() - start
    h, w = model.preprocess.size
    rows = []
    for b in batches:
        x = torch.randn(b, 3, h, w, device=model.device)
        backend.encode_frames(x)  # first-call costs (ORT arena, CUDA context, lazy graphs)
        seconds = timed(lambda x=x, be=backend: be.encode_frames(x), repeat)
        rows.append({"batch": b, "seconds": seconds, "crops_per_s": b / seconds})
    parity = check_parity(backend, n=8).to_dict()
    result = {
        "backend": kind,
        "precision": precision,
        "describe": backend.describe(),
        "build_seconds": build,
        "rows": rows,
        "parity": parity,
    }
    del backend
    gc.collect()
    return result


def add_ratios(runs: list[dict[str, Any]]) -> None:
    """crops/s of every run relative to eager fp32 at the same batch (same variant, same run)."""
    ref = next((r for r in runs if (r["backend"], r["precision"]) == ("eager", "fp32")), None)
    if ref is None:
        return
    base = {row["batch"]: row["crops_per_s"] for row in ref["rows"]}
    for run in runs:
        for row in run["rows"]:
            if row["batch"] in base:
                row["speedup_vs_eager_fp32"] = row["crops_per_s"] / base[row["batch"]]


def print_table(name: str, runs: list[dict[str, Any]], skipped: dict[str, str]) -> None:
    batches = sorted({row["batch"] for run in runs for row in run["rows"]})
    head = f"{'backend':<9} {'prec':<5}" + "".join(f" {'b=' + str(b):>16}" for b in batches)
    print(f"\n{name}: crops/s (x eager fp32 at the same batch)")
    print(head + f" {'build s':>8} {'parity':>26}")
    for run in runs:
        cells = {row["batch"]: row for row in run["rows"]}
        line = f"{run['backend']:<9} {run['precision']:<5}"
        for b in batches:
            row = cells.get(b)
            cell = (
                f"{row['crops_per_s']:.1f} (x{row.get('speedup_vs_eager_fp32', 0):.2f})"
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
    p.add_argument("--repeat", type=int, default=7, help="timed calls per point (median)")
    p.add_argument("--big-repeat", type=int, default=3, help="timed calls per ViT-* point")
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
        torch.set_num_threads(args.threads)
    if args.quick:
        args.repeat, args.big_repeat, args.batches, args.tfe_ts = 3, 2, [1, 8], []
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
            runs, skipped = [], {}
            for kind, precision in combos:
                print(f"{name}: {kind} {precision} ...", flush=True)
                try:
                    with torch.inference_mode():
                        runs.append(
                            bench_backend(model, kind, precision, batches, repeat, cache_dir)
                        )
                except UserError as err:  # BackendUnavailable and friends: one line, recorded
                    skipped[f"{kind} {precision}"] = str(err)
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
