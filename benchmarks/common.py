"""What every benchmark shares: the machine and run block, thread settings, and rotated timing.

A benchmark that compares contenders (backends, trackers, thread settings, ...) on a shared
machine follows four rules, and this module is how:

- **Rotate.** :func:`rotated_rounds` runs every contender once per round, the order shifted by
  one each round (A B C, B C A, C A B, ...), so a load spike hits them all alike; ratios are the
  median of the per-round ratios (:func:`compare`).
- **CPU time.** Each call records the process's CPU time (its own plus finished children's)
  beside the wall time (:func:`measure`). When the load average exceeds the usable cores, wall
  time mostly measures waiting for a core, so the ratio is taken from CPU time (:func:`basis`).
- **Record the load.** :func:`run_info` (in every result's ``machine`` block via
  :func:`machine_info`) holds the run date, the load average at the start, and each round's
  load is stored beside its timings.
- **Threads.** :func:`pin_threads` sets the same count in every thread variable (BLAS, OpenMP,
  OpenCV's FFmpeg decoder) for this process and the contenders it starts, and torch/OpenCV
  pools when already imported; :func:`thread_settings` records what was in force.

A benchmark that tunes before it measures can reuse an earlier run's tuning when that run had the
same settings (:func:`earlier_same_run`), so a rerun that adds rows does not tune again.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

# Thread pools set by environment: BLAS/OpenMP builds, numexpr, and the FFmpeg decoder inside
# OpenCV's VideoCapture (the tracker's decode stage); BLAS reads them when numpy first loads.
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "OPENCV_FFMPEG_THREADS",
)


def pin_threads(threads: int = 1) -> dict[str, Any]:
    """Set every thread variable to ``threads`` (inherited by subprocesses), and torch's and
    OpenCV's pools when they are already imported; returns :func:`thread_settings`."""
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "cv2" in sys.modules:
        sys.modules["cv2"].setNumThreads(threads)
    return thread_settings()


def thread_settings() -> dict[str, Any]:
    """The thread variables as set now (``None``: unset) and torch's/OpenCV's pool sizes."""
    out: dict[str, Any] = {var: os.environ.get(var) for var in THREAD_VARS}
    if "torch" in sys.modules:
        out["torch_threads"] = sys.modules["torch"].get_num_threads()
    if "cv2" in sys.modules:
        out["opencv_threads"] = sys.modules["cv2"].getNumThreads()
    return out


def load_average() -> list[float]:
    """1-, 5- and 15-minute load averages (zeros where the platform has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return [0.0, 0.0, 0.0]


def run_info() -> dict[str, Any]:
    """When and under what load and threads a result was measured."""
    from cgclip.threads import usable_cores

    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_avg": load_average(),
        "usable_cores": usable_cores(),
        "thread_env": thread_settings(),
    }


def machine_info() -> dict[str, Any]:
    """CPU, core count and library versions plus :func:`run_info`, stored with every result."""
    import numpy as np

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import scipy
    import supervision
    import torch

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "supervision": supervision.__version__,
        "torch_threads": torch.get_num_threads(),
        **run_info(),
    }


def cpu_seconds() -> float:
    """CPU seconds of this process (all its threads) and of its finished (waited-for)
    children, at microsecond resolution."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``(fn(), wall seconds, CPU seconds)`` of one call (:func:`cpu_seconds`)."""
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - wall0, cpu_seconds() - cpu0


def rotation(names: Sequence[str], round_index: int) -> list[str]:
    """``names`` shifted by ``round_index``: A B C, B C A, C A B, ..."""
    k = round_index % len(names) if names else 0
    return list(names[k:]) + list(names[:k])


def rotated_rounds(
    contenders: Mapping[str, Callable[[], Mapping[str, Any] | None]],
    rounds: int,
    *,
    desc: str = "rounds",
    progress: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """Run each contender once per round in :func:`rotation` order.

    A contender returns its own metrics (a mapping, or ``None``); each round's entry adds
    ``wall_s`` and ``cpu_s`` of the call (:func:`measure`) and ``load`` (the 1-minute load
    average before it). Returns ``{name: [entry per round]}``.
    """
    from tqdm import tqdm

    names = list(contenders)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    bar = tqdm(total=rounds * len(names), desc=desc, unit="run", disable=not progress)
    for r in range(rounds):
        for name in rotation(names, r):
            load = load_average()[0]
            metrics, wall, cpu = measure(contenders[name])
            out[name].append({**(metrics or {}), "wall_s": wall, "cpu_s": cpu, "load": load})
            bar.update(1)
    bar.close()
    return out


def basis(load: float, cores: int | None = None) -> str:
    """``"cpu"`` when the load average exceeds the usable cores (wall time would mostly measure
    waiting for a core), else ``"wall"``."""
    if cores is None:
        from cgclip.threads import usable_cores

        cores = usable_cores()
    return "cpu" if load > cores else "wall"


def on_basis(row: Mapping[str, Any], wall_key: str, cpu_key: str) -> Any:
    """``row[cpu_key]`` when the row was compared on CPU time (``row["basis"] == "cpu"``) and
    has it, else ``row[wall_key]``: the number that goes with the row's ratio."""
    return row[cpu_key] if row.get("basis") == "cpu" and cpu_key in row else row[wall_key]


def median_ratio(values: Sequence[float], reference: Sequence[float]) -> float:
    """Median over rounds of ``values[i] / reference[i]`` (both measured in round ``i``)."""
    return statistics.median(v / r for v, r in zip(values, reference, strict=True))


def compare(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    reference: str,
    *,
    wall: str = "wall_s",
    cpu: str = "cpu_s",
    cores: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Time ratios ``contender / reference`` (below 1: faster) from :func:`rotated_rounds`.

    ``wall`` and ``cpu`` name the per-round metrics to compare (e.g. a contender's own median
    ms per frame). Each contender gets ``wall_ratio``, ``cpu_ratio`` (where both have ``cpu``),
    ``basis`` (:func:`basis` at the highest load of the rounds) and ``ratio`` on that basis.
    """
    ref = runs[reference]
    out = {}
    for name, entries in runs.items():
        entry: dict[str, Any] = {
            "wall_ratio": median_ratio([e[wall] for e in entries], [e[wall] for e in ref])
        }
        if all(cpu in e for e in (*entries, *ref)):
            entry["cpu_ratio"] = median_ratio([e[cpu] for e in entries], [e[cpu] for e in ref])
        load = max(e["load"] for e in (*entries, *ref) if "load" in e) if entries else 0.0
        entry["basis"] = basis(load, cores) if "cpu_ratio" in entry else "wall"
        entry["ratio"] = entry[f"{entry['basis']}_ratio"]
        out[name] = entry
    return out


def median_of(entries: Sequence[Mapping[str, Any]], key: str) -> float:
    """Median over rounds of one metric."""
    return statistics.median(e[key] for e in entries)


THREAD_LABELS = {
    "OMP_NUM_THREADS": "OMP",
    "MKL_NUM_THREADS": "MKL",
    "OPENBLAS_NUM_THREADS": "OpenBLAS",
    "OPENCV_FFMPEG_THREADS": "FFmpeg decode",
    "torch_threads": "torch",
    "opencv_threads": "OpenCV",
}


def describe_threads(data: dict[str, Any]) -> str:
    """The thread settings a result recorded, e.g. ``OMP 1, MKL 1, torch 1``."""
    m = data.get("machine") or {}
    env = m.get("thread_env") or {}
    parts = [f"{label} {env[k]}" for k, label in THREAD_LABELS.items() if env.get(k) is not None]
    if not parts:  # results from before benchmarks.common recorded them
        torch = m.get("torch_threads", m.get("threads", data.get("torch_threads")))
        parts = [f"torch {torch}"] if torch is not None else []
        threads = data.get("threads")
        if isinstance(threads, str):  # a policy's own description: it names torch itself
            return threads.removeprefix("threads: ")
        if threads is not None and not isinstance(threads, dict):
            parts.append(f"benchmark threads {threads}")
    return ", ".join(parts) or "not recorded"


def run_line(name: str, data: dict[str, Any]) -> str:
    """``name.json``: run date, thread settings and load average, as the result recorded them."""
    m = data.get("machine") or {}
    load = m.get("load_avg")
    load_text = (
        f"load average {', '.join(f'{x:g}' for x in load)} (1/5/15 min)"
        if isinstance(load, list)
        else "load not recorded"
    )
    cores = m.get("usable_cores", m.get("cores"))
    where = f" ({cores} usable cores)" if cores else ""
    return (
        f"`{name}.json`: run {m.get('date', 'date not recorded')}; threads: "
        f"{describe_threads(data)}; {load_text}{where}."
    )


def earlier_same_run(
    out: Path, result: Mapping[str, Any], keys: Sequence[str], missing: Mapping[str, Any] = {}
) -> dict[str, Any] | None:
    """The JSON already at ``out`` when it agrees with ``result`` on every key (``a.b`` reads a
    nested key; ``missing`` stands in for keys a run written before they were recorded lacks),
    else None: an unreadable file or any difference means the earlier run is not reused."""
    try:
        old = json.loads(out.read_text())
    except (OSError, ValueError):
        return None

    def get(data: Mapping[str, Any], key: str, default: Any) -> Any:
        for part in key.split("."):
            if not isinstance(data, Mapping) or part not in data:
                return default
            data = data[part]
        return data

    absent = object()
    for key in keys:
        if get(old, key, missing.get(key, absent)) != get(result, key, absent):
            return None
    return old
