"""Render the tracker benchmark JSONs under ``benchmarks/results/`` as PNG plots.

    python -m benchmarks.tracker_plots

- ``tracker_speed.png``: median association ms/frame vs number of people, ours vs BoxMOT peers.
- ``tracker_quality.png``: HOTA / IDF1 per scene kind on the validation split.
- ``tracker_pipeline.png``: per-stage ms/frame for each detector set-up.
- ``tracker_appearance.png``: HOTA / IDF1 with CG-CLIP appearance vs BoT-SORT / Deep OC-SORT.
Missing JSON files are skipped.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.tracker_common import RESULTS_DIR
from cgclip.io.atomic import atomic_path


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    print(f"wrote {path}")


def plot_speed(data: dict, out: Path, plt) -> None:
    rows = data["rows"]
    key = "cpu_median_ms" if "cpu_median_ms" in rows[0].get("ours", {}) else "median_ms"
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in [k for k, v in rows[0].items() if isinstance(v, dict) and key in v]:
        have = [r for r in rows if name in r]
        ax.plot([r["people"] for r in have], [r[name][key] for r in have], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("people in the scene")
    what = "CPU" if key == "cpu_median_ms" else "wall"
    ax.set_ylabel(f"median {what} ms / frame (update only, 1 thread)")
    ax.set_title("Association cost per frame")
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, out)


def plot_quality(data: dict, out: Path, plt, *, title: str = "motion only") -> None:
    kinds = list(data["kinds"])
    fig, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 4), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        rows = data["kinds"][kind]
        rows = rows.get("rows", rows)  # the appearance JSON nests them
        names = list(rows)
        x = range(len(names))
        for k, (metric, off) in enumerate((("HOTA", -0.2), ("IDF1", 0.2))):
            vals = [rows[n].get("combined", rows[n])[metric] for n in names]
            ax.bar([i + off for i in x], vals, width=0.4, label=metric, color=f"C{k}")
        ax.set_xticks(list(x))
        ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
        ax.set_title(f"{kind} (val split, {title})")
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
        ax.legend()
    _save(fig, out)


def plot_pipeline(data: dict, out: Path, plt) -> None:
    runs = data["runs"]
    names = list(runs)
    stages = list(next(iter(runs.values()))["ms_per_frame"])
    fig, ax = plt.subplots(figsize=(7, 4))
    bottom = [0.0] * len(names)
    for k, stage in enumerate(stages):
        vals = [runs[n]["ms_per_frame"][stage] for n in names]
        ax.bar(names, vals, bottom=bottom, label=stage, color=f"C{k}")
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    ax.set_yscale("log")
    ax.set_ylabel("ms / frame (log)")
    ax.set_title("Pipeline time per stage (sample clip, CPU)")
    ax.legend(fontsize=8)
    _save(fig, out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for stem, fn in (
        ("tracker_speed", plot_speed),
        ("tracker_quality", plot_quality),
        ("tracker_pipeline", plot_pipeline),
        ("tracker_appearance", lambda d, o, p: plot_quality(d, o, p, title="with appearance")),
    ):
        src = args.results / f"{stem}.json"
        if src.is_file():
            fn(json.loads(src.read_text()), args.results / f"{stem}.png", plt)
            plt.close("all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
