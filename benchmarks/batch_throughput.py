"""Videos per minute of ``python -m tracker.batch`` against a shell loop of ``tracker.run``.

    python -m benchmarks.batch_throughput            # writes benchmarks/results/batch_throughput.json

An archive of synthetic MP4 clips (dance and sports, ``--frames`` each, public detections in the
MOT layout beside them) is tracked five ways, each a fresh command as a user would type it:

- ``shell_loop``: ``for v in videos; do python -m tracker.run $v ...; done`` (one process per
  video, so every video pays Python, torch and model start-up);
- ``local_1``, ``local_2``: ``python -m tracker.batch ... --workers N``;
- ``ray_1``, ``ray_2``: ``python -m tracker.batch ... --ray --workers N`` (a local Ray instance
  with N CPUs, started and stopped by the command).

Every run writes the annotated MP4, MOT txt and JSON (motion only by default; ``--appearance``
adds a random-init ``cpu-small`` CG-CLIP model, whose cost does not depend on its weights).
Each batch run's seconds not spent tracking (``other_s`` = wall - summed per-video tracking
seconds / N - Ray's start-up) hold process and model start-up, scheduling and the manifest;
Ray's overhead per video is ``(other_s of ray_N - other_s of local_N) / videos``, and the start-up
of its local instance (``ray.init``, from the batch's summary) is reported apart. Settings are
rotated over ``--rounds`` (:func:`benchmarks.common.rotation`); the median wall time is kept and
speed-ups are medians of per-round ratios. Each run records its CPU seconds (the commands it
started) and the load average before it, since this machine is shared. Wall time stays the
measure even under load: more workers buy wall time with CPU time, which is what is compared.
Every setting runs with the thread variables unset (``benchmarks.common.THREAD_VARS``), so the
thread policy decides alike for all.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.common import THREAD_VARS, cpu_seconds, load_average, median_ratio, rotation
from benchmarks.tracker_common import REPO_ROOT, RESULTS_DIR, machine_info
from cgclip.io.atomic import atomic_write_json
from cgclip.threads import usable_cores

SETTINGS = ("shell_loop", "local_1", "local_2", "ray_1", "ray_2")


def prepare(folder: Path, videos: int, frames: int, appearance: bool) -> tuple[list[Path], list]:
    """``videos`` synthetic MP4s (each in its MOT sequence folder) and the tracking options."""
    from cgclip.data.synthetic import PRESETS, generate_dataset

    cfg = replace(
        PRESETS["test"], frames=frames, splits=("train",), seqs_per_split=(videos + 1) // 2
    )
    generate_dataset(folder / "data", cfg, progress=False)
    seqs = sorted(p for p in (folder / "data" / "train").iterdir() if p.is_dir())[:videos]
    options = ["--preset", "dance"]
    if appearance:
        import torch

        import cgclip

        torch.manual_seed(0)
        ckpt = folder / "cpu-small-random.safetensors"
        cgclip.save_checkpoint(cgclip.create_model("cpu-small"), ckpt, meta={"note": "random"})
        options += ["--reid", str(ckpt)]
    # Each MP4 with its det.txt but not its gt.txt: the batch would score a video with ground
    # truth beside it, which the shell loop does not do.
    videos = []
    for seq in seqs:
        clip = folder / "videos" / seq.name
        (clip / "det").mkdir(parents=True, exist_ok=True)
        (clip / f"{seq.name}.mp4").symlink_to(seq / f"{seq.name}.mp4")
        (clip / "det" / "det.txt").symlink_to(seq / "det" / "det.txt")
        videos.append(clip / f"{seq.name}.mp4")
    return videos, options


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_setting(setting: str, videos: list[Path], options: list[str], out: Path) -> dict:
    """One setting: its wall seconds (first command's start to last one's end) and, for the
    batch, the seconds spent tracking (the manifest's ``wall_s``) and starting Ray."""
    shutil.rmtree(out, ignore_errors=True)
    py = [sys.executable, "-m"]
    start = time.perf_counter()
    if setting == "shell_loop":
        for video in videos:
            det = video.parent / "det" / "det.txt"
            cmd = [*py, "tracker.run", str(video), "--detections", str(det), *options]
            subprocess.run(
                [*cmd, "--output-dir", str(out / video.stem), "--quiet"], env=_env(), check=True
            )
        return {"wall_s": time.perf_counter() - start}
    engine, workers = setting.split("_")
    cmd = [*py, "tracker.batch", *map(str, videos), "--out", str(out), "--detections", "auto"]
    cmd += [*options, "--workers", workers, "--quiet"] + (["--ray"] if engine == "ray" else [])
    subprocess.run(cmd, env=_env(), check=True)
    wall = time.perf_counter() - start
    entries = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [e["state"] for e in entries] == ["done"] * len(videos), entries
    totals = json.loads((out / "summary.json").read_text())["totals"]
    return {
        "wall_s": wall,
        "tracking_s": sum(e["wall_s"] for e in entries),
        "engine_start_s": totals["engine_start_s"] or 0.0,
    }


LABELS = {
    "shell_loop": "shell loop of `tracker.run`",
    "local_1": "`tracker.batch --workers 1`",
    "local_2": "`tracker.batch --workers 2`",
    "ray_1": "`tracker.batch --ray --workers 1`",
    "ray_2": "`tracker.batch --ray --workers 2`",
}


def render(result: dict[str, Any]) -> str:
    """Markdown: wall time and videos per minute per setting, then Ray's start-up and overhead."""
    lines = [
        "| how | wall time | videos/min | vs shell loop | tracking (summed) | Ray start-up "
        "| the rest | load before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    speedup = result["speedup_vs_shell_loop"]
    for setting, r in result["runs"].items():
        ratio = f"{speedup[setting]:.2f}x" if setting in speedup else "-"
        load = ", ".join(f"{x:.1f}" for x in r["load_before"])
        parts = [
            "-"
            if r.get(k) is None or (k == "engine_start_s" and setting.startswith("local"))
            else f"{r[k]:.1f} s"
            for k in ("tracking_s", "engine_start_s", "other_s")
        ]
        lines.append(
            f"| {LABELS[setting]} | {r['wall_s']:.1f} s | {r['videos_per_min']:.1f} | {ratio} "
            f"| {' | '.join(parts)} | {load} |"
        )
    w = result["workload"]
    overhead = result["ray_overhead_s_per_video"]
    lines += [
        "",
        f"{w['videos']} videos of {w['frames_per_video']} frames ({w['size']}), appearance: "
        f"{w['appearance']}; {result['usable_cores']} usable cores; median of {w['rounds']} "
        f"round(s). Starting a local Ray instance took {result['ray_start_s']} s; beyond that, Ray's "
        "time outside tracking differed from the local engine's by "
        + ", ".join(f"{v:+.2f} s per video with {k} worker(s)" for k, v in overhead.items())
        + ". The rest: wall time minus tracking (per worker) and Ray's start-up, i.e. "
        "starting Python, torch and the models in each process, scheduling and the manifest.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=int, default=6)
    p.add_argument("--frames", type=int, default=100, help="frames per video")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--appearance", action="store_true", help="CG-CLIP cpu-small (random init)")
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "batch_throughput.json")
    args = p.parse_args(argv)
    ray_settings = [s for s in args.settings if s.startswith("ray")]
    if ray_settings and importlib.util.find_spec("ray") is None:  # before any video is made
        raise SystemExit(
            f"error: {' and '.join(ray_settings)} need Ray: pip install 'cgclip-track[cluster]', "
            "or leave them out with --settings shell_loop local_1 local_2"
        )
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as tmp:
        videos, options = prepare(Path(tmp), args.videos, args.frames, args.appearance)
        measured: dict[str, list[dict]] = {s: [] for s in args.settings}
        loads: dict[str, list[float]] = {s: [] for s in args.settings}
        for r in range(args.rounds):
            for setting in rotation(args.settings, r):
                loads[setting].append(load_average()[0])
                cpu0 = cpu_seconds()
                m = run_setting(setting, videos, options, Path(tmp) / "out")
                m["cpu_s"] = cpu_seconds() - cpu0
                measured[setting].append(m)
                print(f"{setting:<10} {m['wall_s']:7.1f} s", flush=True)
    n = len(videos)
    runs = {}
    for s, ms in measured.items():
        walls = [m["wall_s"] for m in ms]
        runs[s] = {
            "wall_s": round(statistics.median(walls), 2),
            "videos_per_min": round(60 * n / statistics.median(walls), 2),
            "walls_s": [round(x, 2) for x in walls],
            "cpu_s": round(statistics.median(m["cpu_s"] for m in ms), 2),
            "load_before": loads[s],
        }
        if s != "shell_loop":
            workers = int(s.split("_")[1])
            # Seconds not spent tracking: process and model start-up, scheduling, the manifest.
            fixed = [m["wall_s"] - m["tracking_s"] / workers - m["engine_start_s"] for m in ms]
            runs[s]["tracking_s"] = round(statistics.median(m["tracking_s"] for m in ms), 2)
            runs[s]["engine_start_s"] = round(statistics.median(m["engine_start_s"] for m in ms), 2)
            runs[s]["other_s"] = round(statistics.median(fixed), 2)
    overhead = {}
    for workers in ("1", "2"):
        ray, local = runs.get(f"ray_{workers}"), runs.get(f"local_{workers}")
        if ray and local:
            overhead[workers] = round((ray["other_s"] - local["other_s"]) / n, 3)
    ray_start = [r["engine_start_s"] for s, r in runs.items() if s.startswith("ray")]
    result = {
        "machine": machine_info(),
        "usable_cores": usable_cores(),
        "workload": {
            "videos": n,
            "frames_per_video": args.frames,
            "size": "640x360",
            "tracking_options": [*options, "--detections", "auto (det.txt beside each video)"],
            "outputs": "annotated MP4, MOT txt, JSON",
            "appearance": "cgclip cpu-small, random init" if args.appearance else "none",
            "rounds": args.rounds,
        },
        "runs": runs,
        "speedup_vs_shell_loop": {  # median of per-round ratios
            s: round(
                median_ratio(
                    [m["wall_s"] for m in measured["shell_loop"]], [m["wall_s"] for m in ms]
                ),
                2,
            )
            for s, ms in measured.items()
            if "shell_loop" in measured
        },
        "ray_start_s": round(statistics.median(ray_start), 2) if ray_start else None,
        "ray_overhead_s_per_video": overhead,
        "command": "python -m benchmarks.batch_throughput " + " ".join(argv or sys.argv[1:]),
    }
    atomic_write_json(args.out, result)
    print(
        json.dumps(
            {k: result[k] for k in ("runs", "ray_start_s", "ray_overhead_s_per_video")}, indent=1
        )
    )
    return result


if __name__ == "__main__":
    main()
