"""Render the tables of measured numbers in the docs from the committed benchmark JSON.

    python -m benchmarks.render_docs            # rewrite every table in README.md and docs/*.md
    python -m benchmarks.render_docs --check    # exit 1 (naming the tables) when a doc is stale

A table lives between two markers, and everything between them is generated::

    <!-- table:tracker_speed -->
    ...
    <!-- /table:tracker_speed -->

Adding a table: write a function ``(results: Path) -> str`` that reads its JSON with
:func:`read_result` and returns markdown (:func:`md_table` helps), register it with
``@renderer("name")``, and put the markers into a doc. Numbers never get typed into a doc by hand.
Every table read through :func:`read_result` ends with a line naming each result's run date,
thread settings and load average (:func:`run_line`, from the JSON's ``machine`` block).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import describe_threads, on_basis, run_line
from cgclip.errors import UserError, cli
from cgclip.io.atomic import atomic_write_text
from cgclip.io.config import read_json

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
MARKER = re.compile(
    r"(?P<open><!-- table:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(?P<close><!-- /table:(?P=name) -->)",
    re.DOTALL,
)
OPENING = re.compile(r"<!-- table:([\w.-]+) -->")

Renderer = Callable[[Path], str]
RENDERERS: dict[str, Renderer] = {}


def renderer(name: str) -> Callable[[Renderer], Renderer]:
    """Register ``fn`` as the renderer of the table called ``name``."""

    def register(fn: Renderer) -> Renderer:
        if name in RENDERERS:
            raise ValueError(f"two renderers for table {name!r}")
        RENDERERS[name] = fn
        return fn

    return register


_READ: list[tuple[str, dict[str, Any]]] = []  # results read by the renderer running now


def read_result(results: Path, name: str) -> dict[str, Any]:
    """``results/<name>.json``, the committed output of one benchmark."""
    data = read_json(results / f"{name}.json")
    _READ.append((name, data))
    return data


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """A markdown table; ``align`` has one letter per column, ``l`` or ``r`` (default: ``l`` then
    ``r``)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_ms(v: float) -> str:
    """Milliseconds and rates with about three significant digits."""
    if v == 0:
        return "0"
    return f"{v:.2f}" if v < 100 else f"{v:.1f}" if v < 1000 else f"{v:.0f}"


def fmt_rate(v: float) -> str:
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


# ----------------------------------------------------------------------------- renderers


@renderer("machines")
def machines(results: Path) -> str:
    """Where, when and with what each committed result was measured (its ``machine`` block)."""
    rows = []
    for path in sorted(results.glob("*.json")):
        data = read_json(path)
        m = data.get("machine")
        if not m:
            continue
        load = m.get("load_avg")
        rows.append(
            [
                f"`{path.name}`",
                m.get("date", "-"),
                m.get("cpu", "?"),
                m.get("cores", "?"),
                m.get("gpu") or "none",
                m.get("torch", "?"),
                m.get("numpy", "-"),
                describe_threads(data),
                f"{load[0]:g}" if isinstance(load, list) else "-",
            ]
        )
    header = ["result", "run", "CPU", "cores", "GPU", "torch", "numpy", "threads", "load"]
    return md_table(header, rows, "lllllllll")


@renderer("reid_ablation")
def reid_ablation(results: Path) -> str:
    from benchmarks.reid_ablation import markdown_tables, summarize

    return markdown_tables(summarize(read_result(results, "reid_ablation")["runs"]))


QUALITY_COLUMNS = ("HOTA", "IDF1", "IDSW", "MOTA", "DetA", "AssA")
PEER_NAMES = {"bytetrack": "BoxMOT ByteTrack", "ocsort": "BoxMOT OC-SORT"}


def metrics_table(title: str, rows: dict[str, dict[str, Any]], columns: Sequence[str]) -> str:
    """``{label: metrics}`` as a table, the best value of each column in bold (IDSW: the fewest)."""
    best = {c: (min if c == "IDSW" else max)(r[c] for r in rows.values()) for c in columns}
    lines = []
    for label, r in rows.items():
        cells = []
        for c in columns:
            text = f"{r[c]:d}" if c == "IDSW" else f"{r[c]:.2f}"
            cells.append(f"**{text}**" if r[c] == best[c] else text)
        lines.append([label, *cells])
    return md_table([title, *columns], lines)


def _peer_label(key: str) -> str:
    name, _, how = key.partition(" ")
    return f"{PEER_NAMES.get(name, name)}, {how.strip('()')}"


def tracker_quality(kind: str, results: Path) -> str:
    runs = read_result(results, "tracker_quality")["kinds"][kind]
    rows = {
        f"ours (`{kind}` preset)" if k == "ours" else _peer_label(k): run["combined"]
        for k, run in runs.items()
    }
    return metrics_table(kind, rows, QUALITY_COLUMNS)


APPEARANCE_COLUMNS = ("HOTA", "IDF1", "IDSW", "MOTA", "AssA")


def tracker_appearance(kind: str, results: Path) -> str:
    rows = read_result(results, "tracker_appearance")["kinds"][kind]["rows"]
    labelled = {
        f"{k} ({r['embedded_fraction']:.0%} of crops embedded)"
        if "embedded_fraction" in r
        else k: r
        for k, r in rows.items()
    }
    return metrics_table(kind, labelled, APPEARANCE_COLUMNS)


for _kind in ("dance", "sports"):
    renderer(f"tracker_quality.{_kind}")(lambda results, k=_kind: tracker_quality(k, results))
    renderer(f"tracker_appearance.{_kind}")(lambda results, k=_kind: tracker_appearance(k, results))


@renderer("tracker_speed")
def tracker_speed(results: Path) -> str:
    """ms per frame (wall, and CPU where recorded) per crowd size and tracker, the ratio of ours
    to ByteTrack (median of rotated rounds) and ours' growth exponents."""
    data = read_result(results, "tracker_speed")
    trackers = {
        "ours": "ours",
        "ours+app": "ours + appearance",
        "bytetrack": "BoxMOT ByteTrack",
        "ocsort": "BoxMOT OC-SORT",
    }
    trackers = {k: v for k, v in trackers.items() if any(k in row for row in data["rows"])}

    def cell(c: dict[str, Any] | None) -> str:
        if c is None:
            return "-"
        second = c.get("cpu_median_ms", c.get("p90_ms"))
        return f"{fmt_ms(c['median_ms'])} ({fmt_ms(second)})"

    has_ratio = any("vs_bytetrack" in row for row in data["rows"])
    rows = []
    for row in data["rows"]:
        line = [row["people"], *(cell(row.get(k)) for k in trackers)]
        if has_ratio:
            r = row.get("vs_bytetrack", {}).get("ours")
            line.append(f"{r['ratio']:.3f} ({r['basis']})" if r else "-")
        rows.append(line)
    header = ["people", *trackers.values()] + (["ours / ByteTrack"] if has_ratio else [])
    cpu = any("cpu_median_ms" in row.get("ours", {}) for row in data["rows"])
    table = md_table(header, rows)
    table += (
        "\n\nms per frame: median wall (median CPU)" if cpu else "\n\nms per frame: median (p90)"
    )
    if has_ratio:
        table += (
            f", medians over {data.get('rounds', '?')} rotated rounds; the ratio is the median"
            " of per-round ratios, on CPU time when the load exceeded the cores"
        )
    table += "."
    ratio = data.get("ratio_ours_over_bytetrack_at_30")
    if ratio is not None:
        table += f" At 30 people ours takes {ratio:.2f}x ByteTrack's time in the same run."
    for kind in ("cpu", "wall"):
        grow = data.get(f"scaling_{kind}", {}).get("ours")
        if grow:
            spans = ", ".join(f"{k} people {v:.2f}" for k, v in grow.items())
            table += f" Growth exponent of ours ({kind} time): {spans}."
    return table


@renderer("tracker_pipeline")
def tracker_pipeline(results: Path) -> str:
    runs = read_result(results, "tracker_pipeline")["runs"]
    stages = ("decode", "detect", "embed", "associate", "draw", "write")
    rows = []
    for run in runs.values():
        ms = run["ms_per_frame"]
        total = f"{fmt_ms(run['total_ms_per_frame'])} ({fmt_rate(run['fps'])} FPS)"
        rows.append(
            [f"{run['note']}, {run['frames']} frames", *(fmt_ms(ms[s]) for s in stages), total]
        )
    return md_table(["set-up", *stages, "total"], rows)


@renderer("encoder_throughput")
def encoder_throughput(results: Path) -> str:
    """One table per model: crops/s per batch (speed-up over eager fp32), build time, parity."""
    data = read_result(results, "encoder_throughput_cpu")
    tables = []
    for variant, v in data["variants"].items():
        batches = sorted({row["batch"] for run in v["runs"] for row in run["rows"]})
        rows = []
        for run in v["runs"]:
            cells = {row["batch"]: row for row in run["rows"]}

            def rate(row: dict[str, Any]) -> str:
                value = on_basis(row, "crops_per_s", "cpu_crops_per_s")
                return f"{fmt_rate(value)} (x{row['speedup_vs_eager_fp32']:.2f})"

            rows.append(
                [f"{run['backend']} {run['precision']}"]
                + [rate(cells[b]) if b in cells else "-" for b in batches]
                + [
                    f"{run['build_seconds']:.1f}",
                    f"{run['parity']['token_rel_error']:.1e}",
                    f"{run['parity']['min_cosine']:.5f}",
                ]
            )
        header = [variant, *(f"batch {b}" for b in batches), "build s", "token error", "min cosine"]
        tables.append(md_table(header, rows))
    bases = {
        row.get("basis") for v in data["variants"].values() for r in v["runs"] for row in r["rows"]
    }
    if bases == {None}:
        note = "crops/s by wall clock, backends timed one after another (no rotation recorded)."
    else:
        note = (
            "crops/s and speed-up over eager fp32 on "
            + " / ".join(sorted(b for b in bases if b))
            + " time (CPU when the load exceeded the cores); speed-ups are medians of per-round"
            " ratios over rotated rounds."
        )
    return "\n\n".join(tables) + "\n\n" + note


@renderer("parity")
def parity(results: Path) -> str:
    """Tolerances per precision and the parity each measured backend reached against eager fp32."""
    from cgclip.runtime.parity import TOLERANCES

    data = read_result(results, "encoder_throughput_cpu")
    by_precision: dict[str, list[dict[str, Any]]] = {}
    for v in data["variants"].values():
        for run in v["runs"]:
            if (run["backend"], run["precision"]) != ("eager", "fp32"):
                by_precision.setdefault(run["precision"], []).append(run["parity"])
    rows = []
    for precision, tol in TOLERANCES.items():
        checks = by_precision.get(precision, [])
        errors = [c["token_rel_error"] for c in checks]
        measured = (
            [
                f"{min(errors):.1e} to {max(errors):.1e}",
                f"{min(c['min_cosine'] for c in checks):.5f}",
                f"{sum(c['passed'] for c in checks)} of {len(checks)}",
            ]
            if checks
            else ["not measured (no CUDA GPU in this run)", "-", "-"]
        )
        rows.append([precision, f"< {tol.token_rel:g}", f"> {tol.cosine:g}", *measured])
    header = [
        "precision",
        "token error",
        "cosine",
        "measured token error",
        "lowest cosine",
        "passed",
    ]
    return md_table(header, rows)


@renderer("model_cost")
def model_cost(results: Path) -> str:
    """Image-encoder crops/s per batch size and one training step, per model variant."""
    variants = read_result(results, "model_cost")["variants"]
    batches = sorted({row["batch"] for v in variants.values() for row in v["encoder"]})
    rows = []
    for name, v in variants.items():
        cells = {row["batch"]: fmt_rate(row["crops_per_s"]) for row in v["encoder"]}
        step = v.get("train_step")
        rows.append(
            [f"`{name}`", *(cells.get(b, "-") for b in batches)]
            + [f"{step['clips_per_s']:.1f}" if step else "-"]
        )
    header = ["variant", *(f"crops/s, batch {b}" for b in batches), "training clips/s"]
    return md_table(header, rows)


@renderer("gpu")
def gpu(results: Path) -> str:
    """The GPU suite's runs (``results/gpu/*.json``), as ``python -m benchmarks.gpu_suite
    --render-docs`` writes them."""
    from benchmarks.gpu_report import render_markdown

    return render_markdown(results / "gpu")


# Results whose benchmark module renders its own table: ``benchmarks.<module>.render(result)``,
# the module named like the result, or as given here for another run of the same benchmark
# (another draw of embedders, another clip).
MODULE_RENDERED: dict[str, str | None] = {
    "demo_latency": None,
    "demo_search": None,
    "tracker_crossdomain": None,
    "tracker_robustness": None,
    "tracker_robustness_seed1": "tracker_robustness",
    "tracker_robustness_seed2": "tracker_robustness",
    "tfe_cost": None,
    "thread_policy": None,
    "batch_throughput": None,
    "hog_detector": None,
    "real_clip": None,
    "real_clip_720p": "real_clip",
    "real_clip_judged": None,
    "tracker_real": None,
    "default_choice": None,
}


def _module_renderer(name: str, module: str) -> Renderer:
    def render(results: Path) -> str:
        return importlib.import_module(f"benchmarks.{module}").render(read_result(results, name))

    render.__name__ = name
    return render


for _name, _module in MODULE_RENDERED.items():
    renderer(_name)(_module_renderer(_name, _module or _name))


# ----------------------------------------------------------------------------- docs


def doc_paths(repo: Path = REPO) -> list[Path]:
    """Every doc that may hold tables: README.md and docs/**/*.md."""
    return [repo / "README.md", *sorted((repo / "docs").rglob("*.md"))]


def render_text(text: str, results: Path, where: str = "doc") -> str:
    """``text`` with every marked table regenerated from ``results``."""
    unknown = sorted(set(OPENING.findall(text)) - set(RENDERERS))
    if unknown:
        raise UserError(
            f"{where}: no renderer for table(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(RENDERERS))} (benchmarks/render_docs.py)"
        )
    if len(MARKER.findall(text)) != len(OPENING.findall(text)):
        raise UserError(f"{where}: a '<!-- table:NAME -->' marker has no matching close marker")

    def fill(m: re.Match[str]) -> str:
        _READ.clear()
        body = RENDERERS[m["name"]](results).rstrip("\n")
        lines = list(dict.fromkeys(run_line(name, data) for name, data in _READ))
        if lines:
            body += "\n\n" + "<br>\n".join(lines)
        return f"{m['open']}{body}\n{m['close']}"

    return MARKER.sub(fill, text)


def render_docs(paths: Iterable[Path], results: Path, check: bool) -> list[Path]:
    """Re-render ``paths``; returns the stale ones (written unless ``check``)."""
    stale = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        new = render_text(text, results, where=str(path))
        if new != text:
            stale.append(path)
            if not check:
                atomic_write_text(path, new)
    return stale


@cli
def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.render_docs", description=__doc__.split("\n")[0]
    )
    p.add_argument("--check", action="store_true", help="fail when a doc is stale; write nothing")
    p.add_argument("--results", type=Path, default=RESULTS, help="benchmark JSON folder")
    p.add_argument("docs", nargs="*", type=Path, help="docs to render (default: README + docs/)")
    args = p.parse_args(argv)
    stale = render_docs(args.docs or doc_paths(), args.results, args.check)
    for path in stale:
        verb = "stale" if args.check else "rendered"
        print(f"{verb}: {path}")
    if args.check and stale:
        print("error: tables differ from benchmarks/results; run python -m benchmarks.render_docs")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
