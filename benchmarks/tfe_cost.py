"""TFE (``cgclip.model.tfe``) timed by itself against the tracklet length T: linear, as designed.

    python -m benchmarks.tfe_cost                  # ViT-B/16 dims, batch 16, one thread
    python -m benchmarks.tfe_cost --variant cpu-small --ts 1 2 4 8 --rounds 3

The image encoder never runs here: random frame tokens ``(B, T, L, D)`` of the variant's width
``D`` and tokens per frame ``L`` (129 for ViT-B/16 on 256x128 crops) go straight into a
random-init :class:`~cgclip.model.tfe.TokenFeatureExtractor` built with the variant's TFE
settings, with all tokens as keys (``tfe_keys: all``) and with the CLS tokens only (``cls``).
(``encode_tracklet`` skips TFE when the embedding does not include ``s``, the default, so timing
it would time a constant.) Every (keys, T) point is a contender of
:func:`benchmarks.common.rotated_rounds`: one call each per round, rotated; the median over rounds
is kept, by wall clock and by process CPU time. A least-squares fit ``a + b * T`` per keys mode
(on relative residuals; on CPU time when the load exceeds the cores) checks linearity: ``r2`` and the largest relative
residual. FLOPs per call come from ``torch.utils.flop_counter``. Writes
``benchmarks/results/tfe_cost.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import basis, machine_info, median_of, pin_threads, rotated_rounds
from cgclip.errors import cli
from cgclip.io.atomic import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results" / "tfe_cost.json"
KEYS = ("all", "cls")


def build_tfe(variant: str, keys: str, **overrides: Any):
    """A random-init TFE with ``variant``'s settings; returns it and the config."""
    import torch

    from cgclip.model.config import get_model_config
    from cgclip.model.tfe import TokenFeatureExtractor

    cfg = get_model_config(variant, tfe_keys=keys, **overrides)
    torch.manual_seed(0)
    tfe = TokenFeatureExtractor(
        cfg.vision.width,
        num_queries=cfg.tfe_queries,
        heads=cfg.resolved_tfe_heads,
        blocks=cfg.tfe_blocks,
        keys=keys,
    ).eval()
    return tfe, cfg


def fit_linear(ts: Sequence[int], seconds: Sequence[float]) -> dict[str, Any]:
    """Least-squares ``seconds = a + b * T`` on relative residuals (weights ``1 / seconds``, since
    the times span decades and the short calls matter as much as the long ones): ``a_ms``,
    ``b_ms``, ``r2`` and the largest residual relative to the measured time."""
    t, y = np.asarray(ts, dtype=float), np.asarray(seconds, dtype=float)
    b, a = np.polyfit(t, y, 1, w=1.0 / y)
    pred = a + b * t
    ss_res = float(((y - pred) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return {
        "a_ms": float(a * 1000),
        "b_ms": float(b * 1000),
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0,
        "max_rel_residual": float(np.max(np.abs(y - pred) / y)),
    }


def tfe_timing(
    variant: str,
    ts: Sequence[int],
    batch: int,
    rounds: int,
    keys_modes: Sequence[str] = KEYS,
    device: str = "cpu",
    calls: int = 1,
) -> dict[str, Any]:
    """Rotated timing of TFE at each T for each keys mode -> rows and a linear fit per mode
    (each round times ``calls`` calls of a point and keeps the mean)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    modules, tokens, flops = {}, {}, {}
    cfg = None
    for keys in keys_modes:
        modules[keys], cfg = build_tfe(variant, keys)
        modules[keys].to(device)
    assert cfg is not None
    n, d = cfg.vision.num_tokens, cfg.vision.width
    for t in ts:
        tokens[t] = torch.randn(batch, t, n, d, device=device)
    contenders = {}
    for keys in keys_modes:
        for t in ts:

            def call(m=modules[keys], x=tokens[t]) -> None:
                with torch.inference_mode():
                    for _ in range(calls):
                        m(x)
                sync()

            call()  # warm-up: allocator, kernels
            with FlopCounterMode(display=False) as counter:  # its hooks need autograd on
                modules[keys](tokens[t])
            flops[(keys, t)] = counter.get_total_flops()
            contenders[f"{keys}/T={t}"] = call
    runs = rotated_rounds(contenders, rounds, desc=f"TFE {variant}")
    top_load = max(e["load"] for entries in runs.values() for e in entries)
    chosen = basis(top_load)
    out: dict[str, Any] = {
        "variant": variant,
        "batch": batch,
        "tokens_per_frame": n,
        "width": d,
        "queries": cfg.tfe_queries,
        "heads": cfg.resolved_tfe_heads,
        "blocks": cfg.tfe_blocks,
        "rounds": rounds,
        "calls_per_round": calls,
        "basis": chosen,
        "max_load": top_load,
    }
    for keys in keys_modes:
        rows = []
        for t in ts:
            entries = runs[f"{keys}/T={t}"]
            rows.append(
                {
                    "T": t,
                    "seconds": median_of(entries, "wall_s") / calls,
                    "cpu_seconds": median_of(entries, "cpu_s") / calls,
                    "flops": flops[(keys, t)],
                    "loads": [e["load"] for e in entries],
                }
            )
        key = "cpu_seconds" if chosen == "cpu" else "seconds"
        out[f"keys_{keys}"] = {
            "rows": rows,
            "fit": fit_linear(ts, [r[key] for r in rows]),
            "fit_wall": fit_linear(ts, [r["seconds"] for r in rows]),
        }
    return out


def render(result: dict[str, Any]) -> str:
    """Markdown: ms per call (CPU ms) and GFLOPs per T and keys mode, and the linear fits."""
    t = result["timing"]
    modes = [k for k in KEYS if f"keys_{k}" in t]
    ts = [r["T"] for r in t[f"keys_{modes[0]}"]["rows"]]
    lines = [
        "| keys | " + " | ".join(f"T={x}" for x in ts) + " | fit (ms) | r² |",
        "| --- | " + " | ".join("---:" for _ in ts) + " | --- | ---: |",
    ]
    for k in modes:
        m = t[f"keys_{k}"]
        cells = [f"{r['seconds'] * 1000:.1f} ({r['cpu_seconds'] * 1000:.1f})" for r in m["rows"]]
        fit = m["fit"]
        lines.append(
            f"| {k} | "
            + " | ".join(cells)
            + f" | {fit['a_ms']:.1f} + {fit['b_ms']:.2f}·T | {fit['r2']:.4f} |"
        )
        gflops = [f"{r['flops'] / 1e9:.2f}" for r in m["rows"]]
        lines.append(f"| {k}, GFLOP | " + " | ".join(gflops) + " | | |")
    lines.append("")
    lines.append(
        f"`{t['variant']}` dims (width {t['width']}, {t['tokens_per_frame']} tokens per frame, "
        f"{t['queries']} queries, {t['heads']} heads, {t['blocks']} block), batch {t['batch']}: "
        f"ms per call, wall (CPU); median of {t['rounds']} rotated rounds; fit on "
        f"{'CPU' if t['basis'] == 'cpu' else 'wall'} time."
    )
    return "\n".join(lines)


@cli
def main(argv: Sequence[str] | None = None) -> int:
    from cgclip.errors import ArgumentParser
    from cgclip.io.config import number_arg

    p = ArgumentParser(prog="python -m benchmarks.tfe_cost", description=__doc__.split("\n")[0])
    p.add_argument("--variant", default="ViT-B-16")
    whole = number_arg("[1, inf)", int)
    p.add_argument("--ts", nargs="+", type=whole, default=[1, 2, 4, 8, 16, 32])
    p.add_argument("--batch", type=whole, default=16)
    p.add_argument("--rounds", type=whole, default=5)
    p.add_argument("--calls", type=whole, default=1, help="calls per point and round")
    p.add_argument("--threads", type=whole, default=1)
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    import torch

    pin_threads(args.threads)
    torch.set_num_threads(args.threads)
    timing = tfe_timing(args.variant, args.ts, args.batch, args.rounds, calls=args.calls)
    result = {"machine": machine_info(), "threads": args.threads, "timing": timing}
    atomic_write_json(args.output, result)
    for k in KEYS:
        fit = timing[f"keys_{k}"]["fit"]
        print(
            f"keys {k}: {fit['a_ms']:.1f} + {fit['b_ms']:.2f}*T ms ({timing['basis']} time), "
            f"r2 {fit['r2']:.4f}, max residual {fit['max_rel_residual']:.1%}"
        )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
