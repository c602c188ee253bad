"""Render ``benchmarks/results/encoder_throughput_<device>.json`` as PNG bar charts.

    python -m benchmarks.encoder_plots [--input results/encoder_throughput_cpu.json]

One panel per model variant: crops/s per backend+precision, grouped by batch size (log scale),
each bar labelled with its ratio to eager fp32 at the same batch. Without ``--input`` every
``encoder_throughput_*.json`` in the results folder is rendered next to it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from cgclip.errors import UserError, cli
from cgclip.io.atomic import atomic_path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def plot(data: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(data["variants"])
    fig, axes = plt.subplots(1, len(variants), figsize=(6 * len(variants), 4.5), squeeze=False)
    for ax, name in zip(axes[0], variants, strict=True):
        runs = data["variants"][name]["runs"]
        batches = sorted({row["batch"] for run in runs for row in run["rows"]})
        width = 0.8 / max(1, len(runs))
        for k, run in enumerate(runs):
            cells = {row["batch"]: row for row in run["rows"]}
            xs = [
                i + (k - (len(runs) - 1) / 2) * width for i, b in enumerate(batches) if b in cells
            ]
            rows = [cells[b] for b in batches if b in cells]
            bars = ax.bar(
                xs,
                [r["crops_per_s"] for r in rows],
                width=width,
                label=f"{run['backend']} {run['precision']}",
                color=f"C{k}",
            )
            for bar, r in zip(bars, rows, strict=True):
                ratio = r.get("speedup_vs_eager_fp32")
                if ratio is not None:
                    ax.annotate(
                        f"x{ratio:.1f}",
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center",
                        va="bottom",
                        fontsize=6,
                        rotation=90,
                    )
        ax.set_xticks(range(len(batches)))
        ax.set_xticklabels([f"batch {b}" for b in batches])
        ax.set_yscale("log")
        ax.set_ylabel("crops / s")
        ax.set_title(name)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    m = data["machine"]
    where = m.get("gpu") or f"{m.get('cpu')}, {m.get('threads')} thread(s)"
    fig.suptitle(f"Image-encoder throughput ({where}; labels: x eager fp32)", fontsize=10)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(fig)
    print(f"wrote {out}")


@cli
def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.encoder_plots", description=__doc__.split("\n")[0]
    )
    p.add_argument("--input", nargs="+", help="result JSON(s); default: all in results/")
    args = p.parse_args(argv)
    inputs = (
        [Path(x) for x in args.input]
        if args.input
        else sorted(RESULTS_DIR.glob("encoder_throughput_*.json"))
    )
    if not inputs:
        raise UserError(
            f"no encoder_throughput_*.json in {RESULTS_DIR}; run python -m "
            "benchmarks.encoder_throughput first"
        )
    for path in inputs:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"result file not found: {path}") from None
        except json.JSONDecodeError as err:
            raise UserError(f"{path} is not valid JSON ({err})") from None
        if "variants" not in data or "machine" not in data:
            raise UserError(f"{path} is not an encoder_throughput result (no variants/machine)")
        plot(data, path.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
