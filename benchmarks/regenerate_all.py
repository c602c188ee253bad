"""Rerun every benchmark behind a docs table, in a fixed order, then render the docs.

    python -m benchmarks.regenerate_all --list           # the plan with time estimates
    python -m benchmarks.regenerate_all                  # everything (hours: use an idle machine)
    python -m benchmarks.regenerate_all --only tracker_speed tfe_cost
    python -m benchmarks.regenerate_all --skip reid_ablation --from tracker_pipeline
    bash benchmarks/regenerate_all.sh                    # the same, from a shell

Run it on an idle machine: every result records the load average it was measured under, and
the tables name it. Each step is one fresh process with the repository's Python; a failed step
stops the run (``--keep-going`` carries on and lists the failures at the end). Estimates are
minutes on the project's idle 2-core CPU machine; the plan prints them and their sum, and each
step's measured minutes are printed as it ends. The order: data and environments first, then
tracker quality (long), speed and pipeline timings, model and encoder timings, the demo, plots,
and the docs last.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cgclip.errors import ArgumentParser, UserError, cli

REPO = Path(__file__).resolve().parents[1]
# The real pedestrian clip of benchmarks.real_clip: OpenCV's vtest.avi, not in the repository
# (8 MB); the real_clip step fetches it with benchmarks/fetch_vtest.sh when missing.
REAL_CLIP = "data/clips/opencv-vtest.avi"
# The earlier 1280x720 clip of real_clip_720p.json (sha256 in it): not here, and its source was
# not recorded; the step runs only where the file has been put back.
REAL_CLIP_720P = "data/clips/clip-720p.avi"
# MOTChallenge training sets for benchmarks.tracker_real (MOT15 with its public detections;
# MOT17 ground truth): not in the repository (CC BY-NC-SA).
MOT15_TRAIN, MOT17_TRAIN = "data/MOT15/train", "data/MOT17/train"


@dataclass(frozen=True)
class Step:
    name: str
    command: tuple[str, ...]  # argv after the Python executable ("bash" steps run bash)
    minutes: float  # estimate on the idle 2-core CPU machine
    outputs: tuple[str, ...] = ()  # files under benchmarks/results/ this step writes
    note: str = ""

    def argv(self, python: str) -> list[str]:
        if self.command[0] == "bash":
            return ["bash", *self.command[1:], python]
        return [python, *self.command]


# Other draws of embedders for tracker_robustness (training and random-init seeds), checked with
# the guards as shipped.
EMBEDDER_DRAWS = (1, 2)


def _embedder_draw(seed: int) -> Step:
    name = f"tracker_robustness_seed{seed}"
    return Step(
        name,
        (
            "-m",
            "benchmarks.tracker_robustness",
            "--runs",
            f"runs/robust-seed{seed}",
            "--embedder-seed",
            str(seed),
            "--out",
            f"benchmarks/results/{name}.json",
        ),
        40,
        (f"{name}.json",),
        "another draw of embedders, checked with the shipped guards; trains them when missing",
    )


STEPS: tuple[Step, ...] = (
    Step(
        "bench_env",
        ("bash", "benchmarks/setup_bench_env.sh"),
        3,
        note="BoxMOT in .venv-bench (skipped when it exists)",
    ),
    Step(
        "synth_full",
        (
            "-m",
            "cgclip.data.synthetic",
            "generate",
            "--out",
            "data/synth-full",
            "--preset",
            "full",
            "--no-video",
        ),
        4,
        note="the synthetic full set (skipped when it exists)",
    ),
    Step(
        "tracker_quality",
        ("-m", "benchmarks.tracker_quality", "--data", "data/synth-full"),
        60,
        ("tracker_quality.json",),
        "tunes the BoxMOT peers on the training split",
    ),
    Step(
        "tracker_appearance",
        ("-m", "benchmarks.tracker_appearance", "--data", "data/synth-full"),
        60,
        ("tracker_appearance.json",),
        "trains the CG-CLIP checkpoint when missing",
    ),
    Step(
        "tracker_robustness",
        ("-m", "benchmarks.tracker_robustness", "--choose-guards"),
        45,
        ("tracker_robustness.json",),
    ),
    *(_embedder_draw(seed) for seed in EMBEDDER_DRAWS),
    Step(
        "tracker_crossdomain",
        ("-m", "benchmarks.tracker_crossdomain", "--data", "data/crossdomain"),
        30,
        ("tracker_crossdomain.json",),
    ),
    Step("tracker_speed", ("-m", "benchmarks.tracker_speed"), 25, ("tracker_speed.json",)),
    Step("tracker_pipeline", ("-m", "benchmarks.tracker_pipeline"), 10, ("tracker_pipeline.json",)),
    Step("thread_policy", ("-m", "benchmarks.thread_policy"), 10, ("thread_policy.json",)),
    Step(
        "batch_throughput",
        ("-m", "benchmarks.batch_throughput", "--rounds", "3"),
        20,
        ("batch_throughput.json",),
        "its Ray rows need the cluster extra: pip install -e '.[cluster]'",
    ),
    Step(
        "encoder_throughput",
        ("-m", "benchmarks.encoder_throughput", "--threads", "1"),
        25,
        ("encoder_throughput_cpu.json",),
    ),
    Step("encoder_plots", ("-m", "benchmarks.encoder_plots"), 0.5),
    Step("model_cost", ("-m", "benchmarks.model_cost", "--threads", "1"), 10, ("model_cost.json",)),
    Step("tfe_cost", ("-m", "benchmarks.tfe_cost"), 5, ("tfe_cost.json",)),
    Step(
        "reid_ablation",
        ("-m", "benchmarks.reid_ablation"),
        120,
        ("reid_ablation.json",),
        "trains every ablation row, 3 seeds",
    ),
    Step(
        "real_clip",
        (
            "bash",
            "-c",
            f"test -f {REAL_CLIP} || bash benchmarks/fetch_vtest.sh {REAL_CLIP}; "
            f'"$0" -m benchmarks.real_clip --video {REAL_CLIP}',
        ),
        12,
        ("real_clip.json",),
        f"fetches the clip to {REAL_CLIP} when missing; trains its checkpoint when missing",
    ),
    Step(
        "real_clip_judged",
        ("-m", "benchmarks.real_clip_judged", "--video", REAL_CLIP),
        1,
        ("real_clip_judged.json",),
        "the by-eye verdicts of benchmarks/real_clip_verdicts.json on real_clip's moves",
    ),
    Step(
        "real_clip_720p",
        (
            "-m",
            "benchmarks.real_clip",
            "--video",
            REAL_CLIP_720P,
            "--out",
            "benchmarks/results/real_clip_720p.json",
        ),
        12,
        ("real_clip_720p.json",),
        f"needs the earlier clip at {REAL_CLIP_720P} (skipped without it)",
    ),
    Step(
        "default_choice",
        ("-m", "benchmarks.default_choice", "--mot17", MOT17_TRAIN),
        20,
        ("default_choice.json",),
        f"needs {MOT17_TRAIN} (skipped without it); BoxMOT peers; report only: the preset "
        "file is written by hand from its choice",
    ),
    Step(
        "tracker_real",
        ("-m", "benchmarks.tracker_real", "--mot15", MOT15_TRAIN, "--mot17", MOT17_TRAIN),
        12,
        ("tracker_real.json",),
        f"needs {MOT15_TRAIN} and {MOT17_TRAIN} (skipped without them); BoxMOT peers",
    ),
    Step(
        "hog_detector",
        ("bash", "-c", ".venv-bench/bin/python -m benchmarks.hog_detector"),
        10,
        ("hog_detector.json",),
        "against OpenCV 4, which only the bench venv has",
    ),
    Step("demo_latency", ("-m", "benchmarks.demo_latency"), 5, ("demo_latency.json",)),
    Step("demo_search", ("-m", "benchmarks.demo_search"), 10, ("demo_search.json",)),
    Step("tracker_plots", ("-m", "benchmarks.tracker_plots"), 0.5),
    Step("render_docs", ("-m", "benchmarks.render_docs"), 0.2),
)


def _skip_reason(step: Step) -> str | None:
    """Why a step has nothing to do (a set-up step done, or data not here), or ``None``."""
    if step.name == "bench_env" and (REPO / ".venv-bench" / "bin" / "python").exists():
        return ".venv-bench exists"
    if step.name == "synth_full" and (REPO / "data" / "synth-full" / "val").is_dir():
        return "data/synth-full exists"
    if step.name == "real_clip_720p" and not (REPO / REAL_CLIP_720P).is_file():
        return f"no clip at {REAL_CLIP_720P}; it is not in the repository"
    if step.name == "default_choice" and not (REPO / MOT17_TRAIN).is_dir():
        return f"no {MOT17_TRAIN}; it is not in the repository"
    if step.name == "tracker_real" and not all(
        (REPO / d).is_dir() for d in (MOT15_TRAIN, MOT17_TRAIN)
    ):
        return f"no {MOT15_TRAIN} or {MOT17_TRAIN}; they are not in the repository"
    return None


def select(
    steps: Sequence[Step],
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    start: str | None = None,
) -> list[Step]:
    """The steps to run, in the fixed order: ``only`` (all when empty) minus ``skip``, from
    ``start`` on."""
    names = [s.name for s in steps]
    unknown = sorted(set(only) | set(skip) | ({start} if start else set()))
    unknown = [n for n in unknown if n not in names]
    if unknown:
        raise UserError(f"unknown step(s) {', '.join(unknown)}; steps: {', '.join(names)}")
    chosen = [s for s in steps if (not only or s.name in only) and s.name not in skip]
    if start:
        first = names.index(start)
        chosen = [s for s in chosen if names.index(s.name) >= first]
    return chosen


def plan_text(steps: Sequence[Step]) -> str:
    """One line per step (estimate, outputs, note) and the total estimate."""
    lines, total = [], 0.0
    for i, s in enumerate(steps, 1):
        total += s.minutes
        what = ", ".join(s.outputs) or "-"
        note = f"  ({s.note})" if s.note else ""
        lines.append(f"{i:2d}. {s.name:<20} ~{s.minutes:>5.1f} min  -> {what}{note}")
    lines.append(f"    total estimate ~{total:.0f} min ({total / 60:.1f} h) on an idle 2-core CPU")
    return "\n".join(lines)


@cli
def main(argv: Sequence[str] | None = None) -> int:
    p = ArgumentParser(
        prog="python -m benchmarks.regenerate_all", description=__doc__.split("\n")[0]
    )
    p.add_argument("--list", action="store_true", help="print the plan and exit")
    p.add_argument("--only", nargs="+", default=[], metavar="STEP")
    p.add_argument("--skip", nargs="+", default=[], metavar="STEP")
    p.add_argument("--from", dest="start", metavar="STEP", help="start at this step")
    p.add_argument("--keep-going", action="store_true", help="run the rest after a failure")
    args = p.parse_args(argv)
    steps = select(STEPS, args.only, args.skip, args.start)
    print(plan_text(steps), flush=True)
    if args.list:
        return 0
    env = dict(os.environ, PYTHONPATH=str(REPO))
    failed, left = [], sum(s.minutes for s in steps)
    for i, step in enumerate(steps, 1):
        reason = _skip_reason(step)
        left -= step.minutes
        if reason:
            print(f"[{i}/{len(steps)}] {step.name}: skipped ({reason})", flush=True)
            continue
        print(f"[{i}/{len(steps)}] {step.name} (~{step.minutes:g} min) ...", flush=True)
        start = time.perf_counter()
        code = subprocess.run(step.argv(sys.executable), cwd=REPO, env=env, check=False).returncode
        minutes = (time.perf_counter() - start) / 60
        print(
            f"[{i}/{len(steps)}] {step.name}: {'ok' if code == 0 else f'FAILED ({code})'} "
            f"in {minutes:.1f} min; ~{left:.0f} min estimated for the rest",
            flush=True,
        )
        if code != 0:
            failed.append(step.name)
            if not args.keep_going:
                break
    if failed:
        raise UserError(f"failed step(s): {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
