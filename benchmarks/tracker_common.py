"""Shared pieces of the tracker benchmarks: running our tracker on MOT sequences, the BoxMOT
venv. The machine block and rotated timing are :mod:`benchmarks.common`'s (re-exported here)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import machine_info  # noqa: F401  (re-exported)
from cgclip.io.mot import DET_TXT, find_sequences, write_mot
from tracker.config import TrackerConfig, load_preset
from tracker.detectors import ReplayDetector
from tracker.outputs import MotRows
from tracker.pipeline import iter_tracked, open_source
from tracker.tracker import Tracker

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
BENCH_PYTHON = REPO_ROOT / ".venv-bench" / "bin" / "python"


def preset_for(seq_name: str) -> str:
    """The scene preset for a synthetic sequence name (``dance-03`` -> ``dance``)."""
    kind = seq_name.split("-")[0]
    return kind if kind in ("dance", "sports", "street") else "default"


def sequences(split_dir: Path) -> list[Path]:
    """Sequence folders of a split that have public detections (``det/det.txt``)."""
    return find_sequences(split_dir, DET_TXT)


def track_sequence(seq_dir: Path, config: TrackerConfig) -> np.ndarray:
    """Run our tracker on a sequence's public detections -> MOT result rows ``(N, 10)``, with
    the tentative frames of confirmed tracks (as ``tracker.run`` writes them).

    Frames are decoded only when the config needs them (camera-motion compensation).
    """
    source = open_source(seq_dir, decode=config.cmc)
    tracker = Tracker(config, frame_rate=source.fps, image_size=source.info.size)
    rows = MotRows()
    for _ in iter_tracked(source, ReplayDetector(seq_dir / DET_TXT), tracker, sinks=[rows]):
        pass
    return rows.rows


def run_ours(
    split_dir: Path, out_dir: Path, overrides: dict[str, dict[str, Any]] | None = None
) -> Path:
    """Track every sequence of a split with its kind's preset; write ``out_dir/<seq>.txt``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for seq in sequences(split_dir):
        kind = preset_for(seq.name)
        cfg = load_preset(kind, **((overrides or {}).get(kind, {})))
        write_mot(out_dir / f"{seq.name}.txt", track_sequence(seq, cfg))
    return out_dir


# The BoxMOT version benchmarks/setup_bench_env.sh installs; peer tunings recorded before the
# version was are taken to be from it.
PINNED_BOXMOT = "25.0.0"


def boxmot_version() -> str:
    """BoxMOT's version in the benchmark venv: a peer's tuning is reused only from the same."""
    return run_in_bench_env(["-c", "import boxmot; print(boxmot.__version__)"]).strip()


def run_in_bench_env(args: list[str]) -> str:
    """Run a script with the benchmark venv (BoxMOT lives there, never in the runtime env)."""
    if not BENCH_PYTHON.exists():
        raise SystemExit(f"{BENCH_PYTHON} missing: run `bash benchmarks/setup_bench_env.sh` first")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run(
        [str(BENCH_PYTHON), *args], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark env command failed: {' '.join(args)}\n{proc.stderr[-2000:]}")
    return proc.stdout


def at_least(mine: dict[str, Any], theirs: dict[str, Any], metrics=("HOTA", "IDF1")) -> bool:
    """Whether report ``mine`` scores at least ``theirs`` on every one of ``metrics`` (a tie
    within float noise counts)."""
    return all(mine[m] >= theirs[m] - 1e-9 for m in metrics)


def loss_table(
    ours: dict[str, dict[str, Any]], peers: dict[str, dict[str, dict[str, Any]]], unit: str
) -> list[str]:
    """Markdown: every (``unit``, peer) where ``ours`` is below the peer on HOTA or IDF1, with
    the differences (ours minus the peer) that say why. HOTA is the geometric mean of DetA
    (finding the boxes) and AssA (keeping each box's identity), so the larger deficit of the two
    is where it loses; IDF1 below with both at least the peer's means identities split into more
    pieces. ``ours``: ``{unit: report}``; ``peers``: ``{peer: {unit: report}}``; reports hold
    HOTA, IDF1, DetA, AssA and IDSW."""
    lines = [
        "Where `default` is below a peer (ours minus the peer; *loses on* is the larger of the "
        "DetA and AssA deficits):",
        "",
        f"| {unit} | peer | HOTA | IDF1 | DetA | AssA | ID switches (ours / peer) | loses on |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, mine in ours.items():
        for peer, rows in peers.items():
            theirs = rows[name]
            if at_least(mine, theirs):
                continue
            d = {k: mine[k] - theirs[k] for k in ("HOTA", "IDF1", "DetA", "AssA")}
            if min(d["DetA"], d["AssA"]) >= 0:
                why = "IDF1 only (identities in more pieces)"
            else:
                why = "detection" if d["DetA"] < d["AssA"] else "association"
            cols = [name, peer, *(f"{d[k]:+.1f}" for k in d)]
            cols += [f"{mine['IDSW']} / {theirs['IDSW']}", why]
            lines.append("| " + " | ".join(cols) + " |")
    return lines
