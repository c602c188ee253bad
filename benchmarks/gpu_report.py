"""The GPU suite's reference numbers and its markdown: docs/gpu.md's tables from the JSON.

:func:`render_markdown` turns every ``benchmarks/results/gpu/*.json`` written by
``benchmarks/gpu_suite.py`` (dry runs left out) into the tables and the verdict on the targets;
``python -m benchmarks.render_docs`` puts that between ``<!-- table:gpu -->`` and
``<!-- /table:gpu -->`` in docs/gpu.md. With no JSON it says that no GPU run has happened yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cgclip.io.config import read_json

FLOP_PER_CROP = 22e9  # ViT-B/16 image encoder at 256x128 (128 patches + CLS), forward
TARGET_CROPS_PER_S = 10_000  # best backend at batch 256, on an H100/H200
TARGET_X_EAGER = 4.0  # ... and at least this many times eager fp32
TARGET_FPS = 100.0  # whole pipeline, 1280x720, about 20 people

# Dense (no sparsity) bf16 tensor-core TFLOP/s from NVIDIA's datasheets, by device name; the
# first pattern found in the name wins, so the specific names come first.
PEAK_BF16: list[tuple[str, float]] = [
    ("GH200", 989.0),
    ("H200 NVL", 835.0),
    ("H200", 989.0),
    ("H100 NVL", 835.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.0),
    ("H800 PCIe", 756.0),
    ("H800", 989.0),
    ("B200", 2250.0),
    ("B100", 1750.0),
    ("A100", 312.0),
    ("A800", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("RTX 6000 Ada", 364.0),
    ("RTX 4090", 165.0),
]

NO_RUN = (
    "No GPU run has happened yet: no `benchmarks/results/gpu/*.json` is committed. The suite is "
    "ready (its dry run runs in CI); the first session with a GPU runs it and commits the JSON."
)


def peak_bf16(name: str | None) -> float | None:
    """Peak dense bf16 TFLOP/s of the device called ``name`` (None when unknown or no GPU)."""
    for pattern, tflops in PEAK_BF16:
        if name and pattern.lower() in name.lower():
            return tflops
    return None


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, r)) + " |" for r in rows])


def _num(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}g}" if abs(v) < 10**digits else f"{v:.0f}"


def encoder_section(enc: dict[str, Any]) -> str:
    batches = sorted({r["batch"] for rows in enc["rows"].values() for r in rows})
    top = batches[-1]
    header = ["backend", *(f"batch {b}: crops/s (p50/p95 ms)" for b in batches)]
    header += [f"x eager fp32 @{top}", f"of peak bf16 @{top}", "parity"]
    rows = []
    for label, runs in enc["rows"].items():
        cells = {r["batch"]: r for r in runs}
        row: list[Any] = [label]
        for b in batches:
            r = cells.get(b)
            row.append(
                f"{_num(r['crops_per_s'])} ({r['p50_ms']:.2f}/{r['p95_ms']:.2f})" if r else "-"
            )
        last = cells.get(top, {})
        frac = last.get("peak_bf16_fraction")
        row.append(_num(last.get("x_eager_fp32")))
        row.append("-" if frac is None else f"{100 * frac:.1f}%")
        p = enc["parity"].get(label)
        row.append(
            "reference"
            if p is None
            else f"{'pass' if p['passed'] else 'FAIL'} (cos {p['min_cosine']:.5f})"
        )
        rows.append(row)
    text = f"Encoder: {enc['model']}, {enc['rounds']} rotated rounds x {enc['calls_per_round']} calls.\n\n"
    text += _table(header, rows)
    if enc["unavailable"]:
        text += "\n\n" + "\n".join(f"- {k}: {v}" for k, v in enc["unavailable"].items())
    return text


def pipeline_section(pipe: dict[str, Any]) -> str:
    runs = {k: v for k, v in pipe["runs"].items() if "fps" in v}
    stages = list(next(iter(runs.values()))["ms_per_frame"]) if runs else []
    rows = [
        [
            label,
            *(f"{r['ms_per_frame'][s]:.2f}" for s in stages),
            f"{r['total_ms_per_frame']:.2f} ({r['fps']:.1f} FPS)",
        ]
        for label, r in runs.items()
    ]
    text = f"Pipeline: {pipe['clip']}; {pipe['detector']}; {pipe['outputs']}.\n\n"
    return text + _table(["appearance", *stages, "total ms/frame"], rows)


def targets(result: dict[str, Any]) -> list[str]:
    """One line per target: met, or missed by how much and where the time goes."""
    lines = []
    enc = result.get("encoder", {})
    if "rows" in enc:
        top = max(r["batch"] for rows in enc["rows"].values() for r in rows)
        best = max(
            ((label, r) for label, rows in enc["rows"].items() for r in rows if r["batch"] == top),
            key=lambda item: item[1]["crops_per_s"],
        )
        label, r = best
        rate, ratio = r["crops_per_s"], r.get("x_eager_fp32", 0.0)
        ok = rate >= TARGET_CROPS_PER_S and ratio >= TARGET_X_EAGER
        verdict = (
            "met"
            if ok
            else (
                f"missed: {100 * (1 - rate / TARGET_CROPS_PER_S):.0f}% short of {TARGET_CROPS_PER_S} crops/s"
                if rate < TARGET_CROPS_PER_S
                else f"missed: x{ratio:.2f} eager fp32, target x{TARGET_X_EAGER:.0f}"
            )
        )
        lines.append(
            f"- Encoder, batch {top}: best is {label} at {rate:.0f} crops/s (x{ratio:.2f} eager fp32): {verdict}."
        )
    runs = {k: v for k, v in result.get("pipeline", {}).get("runs", {}).items() if "fps" in v}
    if runs:
        label, r = max(runs.items(), key=lambda item: item[1]["fps"])
        share = {s: ms / r["total_ms_per_frame"] for s, ms in r["ms_per_frame"].items()}
        where = ", ".join(
            f"{s} {100 * v:.0f}%" for s, v in sorted(share.items(), key=lambda kv: -kv[1])[:3]
        )
        verdict = (
            "met"
            if r["fps"] >= TARGET_FPS
            else f"missed by {TARGET_FPS - r['fps']:.1f} FPS ({100 * (1 - r['fps'] / TARGET_FPS):.0f}%)"
        )
        lines.append(
            f"- Pipeline with {label}: {r['fps']:.1f} FPS: {verdict}; time goes to {where}."
        )
    return lines


def render_one(result: dict[str, Any]) -> str:
    env = result["environment"]
    m = env["machine"]
    head = (
        f"### {env.get('gpu', 'CPU')} (driver {env.get('driver', '-')}, CUDA {env.get('cuda', '-')}, "
        f"torch {m.get('torch')}, {env['torch_threads']} torch threads, load {env['load_average_start'][0]:.1f}"
        f" -> {env.get('load_average_end', [float('nan')])[0]:.1f}), {env['started']}\n\n"
        f"Peak bf16 {_num(env.get('peak_bf16_tflops'))} TFLOP/s (datasheet, dense); a bf16 matrix "
        f"product measured {_num(env['matmul_bf16_tflops'])} TFLOP/s. {env['weights']}."
    )
    skipped = [
        f"- {name} not measured: {result[name]['skipped']}"
        for name in ("encoder", "tfe", "pipeline", "train")
        if "skipped" in result.get(name, {})
    ]
    parts = [head, "\n".join(targets(result) + skipped)]
    if "rows" in result.get("encoder", {}):
        parts.append(encoder_section(result["encoder"]))
    if "keys_all" in result.get("tfe", {}):
        t = result["tfe"]
        rows = [
            [a["T"], f"{1e3 * a['seconds']:.2f}", f"{a['flop_ratio_to_T8']:.2f}"]
            + [f"{1e3 * c['seconds']:.2f}", f"{c['flop_ratio_to_T8']:.2f}"]
            for a, c in zip(t["keys_all"], t["keys_cls"], strict=True)
        ]
        ref = next((r["T"] for r in t["keys_all"] if r["T"] == 8), t["keys_all"][0]["T"])
        header = ["T", "keys all: ms", f"FLOP / T={ref}", "keys cls: ms", f"FLOP / T={ref}"]
        parts.append(f"TFE, batch {t['batch']}:\n\n" + _table(header, rows))
    if "runs" in result.get("pipeline", {}):
        parts.append(pipeline_section(result["pipeline"]))
    tr = result.get("train", {})
    if "tracklets_per_s" in tr:
        parts.append(
            f"Training step, AMP {tr['amp']}, batch {tr['batch']} x {tr['clip_len']} frames: "
            f"{1e3 * tr['seconds']:.1f} ms, {tr['tracklets_per_s']:.1f} tracklets/s ({tr['crops_per_s']:.0f} crops/s)."
        )
    d = result.get("ddp", {})
    parts.append(
        "DDP: "
        + (d["skipped"] if "skipped" in d else f"{d.get('world')} ranks, passed {d.get('passed')}")
    )
    return "\n\n".join(p for p in parts if p)


def render_markdown(results: Path) -> str:
    """Every GPU run under ``results`` (dry runs left out), or :data:`NO_RUN`."""
    runs = [read_json(p) for p in sorted(Path(results).glob("*.json"))]
    runs = [r for r in runs if not r.get("environment", {}).get("dry_run")]
    return "\n\n".join(render_one(r) for r in runs) if runs else NO_RUN
