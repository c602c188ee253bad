"""CG-CLIP model cost: image-encoder throughput, TFE cost versus T, and training step time.

    python -m benchmarks.model_cost                      # all variants, writes results JSON
    python -m benchmarks.model_cost --variants test-tiny cpu-small --quick

Models are random-init (weights do not change the cost). TFE cost is reported as time and FLOPs
per batch of tracklets at each T, with ratios to T=8 measured in the same run, so the linear-in-T
claim is checked on whatever machine runs it. Results: ``benchmarks/results/model_cost.json``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from cgclip.errors import cli
from cgclip.io.atomic import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results" / "model_cost.json"


def machine() -> dict[str, Any]:
    """:func:`benchmarks.tracker_common.machine_info` plus torch's thread count."""
    from benchmarks.tracker_common import machine_info

    return {**machine_info(), "threads": torch.get_num_threads()}


def call_times(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> list[float]:
    """Wall time of each of ``repeat`` calls of ``fn`` after ``warmup`` untimed ones (CUDA work
    included: the GPU is synchronised before each clock read)."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs after one warm-up (:func:`call_times`)."""
    times = sorted(call_times(fn, repeat))
    return times[len(times) // 2]


def _no_grad(fn: Callable[..., Any], *args: Any) -> Any:
    with torch.no_grad():
        return fn(*args)


def flops(fn: Callable[[], Any]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


@torch.inference_mode()
def encoder_throughput(model: Any, batches: Sequence[int], repeat: int) -> list[dict[str, Any]]:
    h, w = model.preprocess.size
    out = []
    for b in batches:
        x = torch.randn(b, 3, h, w)
        t = timed(lambda x=x: model.encode_frames(x), repeat)
        out.append({"batch": b, "seconds": t, "crops_per_s": b / t})
    return out


def tfe_cost(model: Any, ts: Sequence[int], batch: int, repeat: int) -> list[dict[str, Any]]:
    """Time and FLOPs of the model's TFE itself (``model.tfe``) on ``(batch, T, L, D)`` random
    frame tokens with every token of a frame (``L`` = patches + CLS; TFE keeps the CLS tokens
    itself with ``tfe_keys: cls``). Not ``encode_tracklet``: it skips TFE unless the embedding
    includes ``s``. Empty for a model without TFE (``pooling: mean``). The rotated, CPU-timed
    version with a linear fit is :mod:`benchmarks.tfe_cost`."""
    if getattr(model, "tfe", None) is None:
        return []
    d, n = model.config.vision.width, model.config.vision.num_tokens
    rows = []
    for t in ts:
        tokens = torch.randn(batch, t, n, d, device=model.device)
        rows.append(
            {
                "T": t,
                "seconds": timed(lambda x=tokens: _no_grad(model.tfe, x), repeat),
                # FlopCounterMode's module hooks need autograd on, so count outside no_grad
                "flops": flops(lambda x=tokens: model.tfe(x)),
            }
        )
    ref = next((r for r in rows if r["T"] == 8), rows[0])
    for r in rows:
        r["time_ratio_to_T8"] = r["seconds"] / ref["seconds"]
        r["flop_ratio_to_T8"] = r["flops"] / ref["flops"]
    return rows


def train_step(
    name: str,
    batch: int,
    clip_len: int,
    repeat: int,
    *,
    device: str | torch.device = "cpu",
    amp_dtype: torch.dtype | None = None,
    wrap: Callable[[torch.nn.Module], torch.nn.Module] | None = None,
) -> dict[str, Any]:
    """Median time of one training step (forward under autocast ``amp_dtype`` when given, loss,
    backward, Adam) on ``batch`` random tracklets of ``clip_len`` frames, as the trainer runs it.
    ``wrap``: e.g. DistributedDataParallel around the model."""
    from cgclip.model import create_model
    from cgclip.train.config import LossSection, OptimSection
    from cgclip.train.losses import CGCLIPLoss
    from cgclip.train.optim import build_optimizer

    device = torch.device(device)
    k = max(2, batch // 4)
    model = create_model(name, num_classes=k, clip_len=clip_len).to(device).train()
    model.cmr.set_memory(torch.randn(k, model.config.embed_dim, device=device))
    net = wrap(model) if wrap is not None else model
    opt = build_optimizer(model, OptimSection(lr=1e-4))
    loss_fn = CGCLIPLoss(LossSection())
    h, w = model.preprocess.size
    x = torch.randn(batch, clip_len, 3, h, w, device=device)
    y = torch.arange(batch, device=device) % k

    def step() -> None:
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            out = net(x)
        loss, _ = loss_fn(out, y)  # outside autocast, as the trainer computes it
        opt.zero_grad()
        loss.backward()
        opt.step()

    t = timed(step, repeat)
    return {
        "batch": batch,
        "clip_len": clip_len,
        "amp": str(amp_dtype).replace("torch.", "") if amp_dtype is not None else None,
        "seconds": t,
        "clips_per_s": batch / t,
    }


@cli
def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.model_cost", description=__doc__.split("\n")[0]
    )
    p.add_argument("--variants", nargs="+", default=["test-tiny", "cpu-small", "ViT-B-16"])
    p.add_argument("--quick", action="store_true", help="fewer repeats and sizes")
    p.add_argument("--output", default=str(RESULTS))
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads (0: torch's default); on a "
        "shared machine 1 avoids stalls from OpenMP threads waiting on preempted peers",
    )
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    from cgclip.model import create_model

    repeat = 3 if args.quick else 7
    result: dict[str, Any] = {"machine": machine(), "variants": {}}
    for name in args.variants:
        big = name.startswith("ViT")
        entry: dict[str, Any] = {}
        for keys in ("all", "cls"):
            model = create_model(name, tfe_keys=keys)
            entry[f"tfe_keys_{keys}"] = tfe_cost(
                model, [1, 2, 4, 8, 16] if args.quick else [1, 2, 4, 8, 16, 32], 16, repeat
            )
        model = create_model(name)
        entry["encoder"] = encoder_throughput(model, [1, 8] if big else [1, 8, 32], repeat)
        if not big:  # a ViT-B/16 training step on a CPU is minutes: measure it on a GPU
            entry["train_step"] = train_step(name, 8, 8, max(2, repeat // 2))
        result["variants"][name] = entry
        print(
            f"{name}: encoder {entry['encoder'][-1]['crops_per_s']:.1f} crops/s at batch "
            f"{entry['encoder'][-1]['batch']}; TFE T=16/T=8 time ratio "
            f"{next(r['time_ratio_to_T8'] for r in entry['tfe_keys_all'] if r['T'] == 16):.2f}"
        )
    atomic_write_json(args.output, result)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
