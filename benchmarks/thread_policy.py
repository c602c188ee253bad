"""The thread policy against every manual setting: appearance tracking FPS on this machine.

    python -m benchmarks.thread_policy            # writes benchmarks/results/thread_policy.json

Each setting tracks the synthetic sample clip (public detections, CG-CLIP ``cpu-small``
appearance, random init: the weights do not change the cost) through ``python -m tracker.run``
in a fresh process: ``auto`` (no ``--threads``: the policy of :mod:`cgclip.threads`),
``--threads N`` for N = 1 .. 2x the usable cores, and ``unmanaged`` (torch's and OpenCV's own
defaults, how the CLI ran before the policy existed). ``OMP_NUM_THREADS`` and friends are
removed from the environment so ``auto`` really chooses. Settings are rotated round by round
(:func:`benchmarks.common.rotation`) so a change in machine load hits them all alike; the
median of the rounds is reported, with the load average before each run and the CPU seconds of
each run's process. FPS (wall time) stays the measure under load: a thread count trades CPU time
for wall time, so CPU time cannot rank thread counts. The check: ``auto`` within 10 % of the
best manual setting (``auto_vs_best``, the median of per-round ratios, >= 0.9).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmarks.common import THREAD_VARS, cpu_seconds, load_average, median_ratio, rotation
from benchmarks.tracker_common import REPO_ROOT, RESULTS_DIR, machine_info
from cgclip.io.atomic import atomic_write_json
from cgclip.threads import usable_cores


def prepare(folder: Path, frames: int) -> tuple[Path, Path, Path]:
    """The sample clip, its det.txt and a random-init ``cpu-small`` checkpoint in ``folder``."""
    import torch

    import cgclip
    from cgclip.data.synthetic import generate_sample

    generate_sample(folder, frames=frames, progress=False)
    ckpt = folder / "cpu-small-random.safetensors"
    if not ckpt.is_file():
        torch.manual_seed(0)
        cgclip.save_checkpoint(cgclip.create_model("cpu-small"), ckpt, meta={"note": "random"})
    return folder / "sample.mp4", folder / "det.txt", ckpt


def worker(setting: str, video: str, det: str, ckpt: str) -> dict[str, Any]:
    """Track once with ``setting`` in this process -> frames, tracking seconds (process start
    and model loading excluded: the run's own stage clock) and the torch threads used."""
    import torch

    import cgclip.threads
    import tracker.run

    if setting == "unmanaged":
        cgclip.threads.apply_threads = lambda plan: plan  # leave every pool at its default
    summaries = []
    track_video = tracker.run.track_video

    def spy(*args: Any, **kwargs: Any):
        summaries.append(track_video(*args, **kwargs))
        return summaries[-1]

    tracker.run.track_video = spy
    args = [video, "--detections", det, "--reid", ckpt, "--no-video", "--quiet"]
    if setting not in ("auto", "unmanaged"):
        args += ["--threads", setting]
    with tempfile.TemporaryDirectory() as out:
        tracker.run.main([*args, "--output-dir", out])
    (summary,) = summaries
    seconds = sum(summary.seconds.values())
    return {"seconds": seconds, "frames": summary.frames, "torch": torch.get_num_threads()}


def run_setting(setting: str, paths: tuple[Path, Path, Path]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env["PYTHONPATH"] = str(REPO_ROOT)
    cmd = [sys.executable, "-m", "benchmarks.thread_policy", "--worker", setting]
    cmd += [str(p) for p in paths]
    load, cpu0 = load_average()[0], cpu_seconds()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    cpu = cpu_seconds() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"setting {setting} failed:\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["load_before"] = load
    out["process_cpu_s"] = cpu
    out["fps"] = out["frames"] / out["seconds"]
    return out


def _per_round(runs: dict[str, list[dict[str, Any]]], setting: str, ref: str) -> float:
    """FPS of ``setting`` over ``ref``'s: the median of the per-round ratios."""
    return median_ratio([x["fps"] for x in runs[setting]], [x["fps"] for x in runs[ref]])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", nargs=4, metavar=("SETTING", "VIDEO", "DET", "CKPT"))
    # 150 frames ran 2 s per setting, and one setting's FPS swung 58-88 between rounds
    p.add_argument("--frames", type=int, default=600, help="length of the clip")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--data", type=Path, default=Path("data/thread-policy"))
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "thread_policy.json")
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0
    paths = prepare(args.data, args.frames)
    cores = usable_cores()
    settings = ["auto", "unmanaged", *[str(n) for n in range(1, 2 * cores + 1)]]
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in settings}
    bar = tqdm(total=args.rounds * len(settings), desc="thread settings", unit="run")
    for r in range(args.rounds):
        for setting in rotation(settings, r):
            runs[setting].append(run_setting(setting, paths))
            bar.update(1)
    bar.close()
    fps = {s: statistics.median(x["fps"] for x in v) for s, v in runs.items()}
    manual = {s: v for s, v in fps.items() if s.isdigit()}
    best = max(manual, key=manual.get)
    result = {
        "machine": machine_info(),
        "usable_cores": cores,
        "clip": {"frames": args.frames, "reid": "cpu-small (random init)", "detections": "public"},
        "rounds": args.rounds,
        "fps_median": fps,
        "torch_threads": {s: v[0]["torch"] for s, v in runs.items()},
        "best_manual": best,
        "auto_vs_best": _per_round(runs, "auto", best),
        "unmanaged_vs_best": _per_round(runs, "unmanaged", best),
        "ok": _per_round(runs, "auto", best) >= 0.9,
        "runs": runs,
    }
    atomic_write_json(args.out, result)
    for s in settings:
        print(f"{s:>10}: {fps[s]:6.1f} FPS (torch threads {result['torch_threads'][s]})")
    print(f"auto / best manual ({best}): {result['auto_vs_best']:.2f}; wrote {args.out}")
    return 0


def render(result: dict[str, Any]) -> str:
    """Markdown: FPS per thread setting (median of the rounds) and auto against the best."""
    fps, runs = result["fps_median"], result["runs"]
    lines = ["| setting | torch threads | FPS | vs best manual |", "|---|---|---|---|"]
    for setting, value in fps.items():
        label = setting if not setting.isdigit() else f"--threads {setting}"
        ratio = _per_round(runs, setting, result["best_manual"])
        lines.append(
            f"| {label} | {result['torch_threads'][setting]} | {value:.1f} | {ratio:.2f} |"
        )
    m = result["machine"]
    lines.append("")
    lines.append(
        f"FPS: median of the rounds; vs best manual: the median of per-round ratios to the best "
        f"manual setting (`auto` at least 0.9: {'met' if result['ok'] else '**not met**'}). "
        f"{result['usable_cores']} usable cores, load average {m.get('load_avg', '?')} at the "
        f"start; {result['rounds']} rounds, settings rotated each round."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
