"""``python -m tracker.batch SOURCES... --out DIR``: track a whole archive, resumably.

    python -m tracker.batch season/ --out runs/season --preset sports --workers 2
    python -m tracker.batch data/DanceTrack/val --out runs/dt --detections auto --no-video
    python -m tracker.batch matches.txt --out /shared/runs --device cuda --ray auto

Sources are video files, MOT sequence folders, folders (scanned recursively), glob patterns or
``.txt`` lists (:mod:`tracker.batch_jobs`). Every video is tracked exactly as
``python -m tracker.run VIDEO --output-dir DIR/<name>`` would track it, with the same options
(any ``tracker.run`` option but the output paths), into ``DIR/<name>/``. ``--detections auto``
replays each video's own MOT ``det/det.txt``; ``--save-crops CROPS`` writes each video's person
crops to ``CROPS/<name>/``.

``DIR/manifest.jsonl`` records each video as pending, done (with its outputs' sha256) or
failed (with a one-line reason); running the same command again skips what is done and retries
what failed. At the end ``DIR/summary.csv`` and ``DIR/summary.json`` give per video frames, ids,
FPS, wall time and, where ground truth sits beside the video, HOTA/IDF1. The exit status is the
number of videos that failed (at most 125). Engines: :mod:`tracker.batch_engines`; docs:
docs/batch.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cgclip.errors import ArgumentParser, UserError, cli
from cgclip.io.atomic import atomic_write_json, atomic_write_text
from cgclip.io.runs import claim_outputs
from cgclip.threads import DECODER_SHARE, ThreadPlan, plan_threads, threads_arg, usable_cores
from tracker import run as run_cli
from tracker.batch_engines import LocalEngine, RayEngine, Work, crops_folder, output_paths
from tracker.batch_jobs import MANIFEST, Job, Manifest, assign_names, expand_sources
from tracker.config import load_preset, read_config_yaml

# tracker.run options that name one video's files: the batch chooses those itself. (--save-crops
# DIR is kept: in a batch it names the folder of every video's crops folder, DIR/<name>/.)
PER_VIDEO = ("video", "output_dir", "out_video", "out_mot", "out_json", "detections", "help")
CROPS_HELP = (
    "write each video's person crops per id to DIR/<name>/<id>/<frame>.jpg, <name> being its "
    "output folder's name under --out (a ReID training set: cgclip dataset 'crops')"
)
# Options that change how fast a video is tracked, not what is written: not part of a manifest's
# record of how its videos were tracked.
NOT_RECORDED = ("threads", "quiet", "overwrite")
OVERWRITE_HINT = (
    "it was not written by this batch (no manifest entry); pass --overwrite to replace it, or "
    "choose another --out"
)
LOCK = ".batch.lock"
MAX_EXIT = 125  # exit statuses above are the shell's (126+, 128+signal)
SUMMARY_COLUMNS = (
    "video",
    "name",
    "state",
    "frames",
    "complete",
    "ids",
    "fps",
    "wall_s",
    "HOTA",
    "IDF1",
)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="python -m tracker.batch",
        description="Track many videos (files, folders, globs, .txt lists) into one folder, "
        "on local worker processes or a Ray cluster; rerun to resume.",
        epilog="Outputs: DIR/<name>/ per video (as tracker.run), DIR/manifest.jsonl, "
        "DIR/summary.csv and DIR/summary.json. Exit status: the number of failed videos.",
    )
    p.add_argument(
        "sources",
        nargs="+",
        help="video files, MOT sequence folders, folders, "
        "glob patterns, or .txt lists (one path or URL per line)",
    )
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--workers",
        type=threads_arg,  # any whole number >= 1
        metavar="N",
        help="local: worker processes (default 1); --ray without ADDRESS: tasks at once "
        "(default: all cores)",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run each video as a Ray task: on the cluster at ADDRESS ('auto', 'HOST:6379', "
        "'ray://HOST:10001'), or on a local Ray instance without ADDRESS; write it after the "
        "sources",
    )
    p.add_argument(
        "--gpus-per-task",
        type=float,
        metavar="F",
        default=1.0,
        help="with --ray and a cuda --device: GPUs each video's task requests (0.5: two per GPU)",
    )
    p.add_argument(
        "--detections",
        choices=["auto"],
        help="replay each video's own MOT det.txt (seq/det/det.txt) instead of detecting",
    )
    tracking = p.add_argument_group("tracking options, as python -m tracker.run")
    for action in run_cli.build_parser()._actions:  # one definition of tracker.run's options
        if action.dest not in PER_VIDEO:
            if action.dest == "save_crops":
                action.help = CROPS_HELP  # a fresh parser's action: tracker.run's is untouched
            tracking._add_action(action)
    return p


def tracking_options(args: argparse.Namespace, *, out: Path) -> argparse.Namespace:
    """The options every video is tracked with (tracker.run's, without the per-video paths),
    for a batch writing into ``out``."""
    names = [a.dest for a in run_cli.build_parser()._actions if a.dest not in PER_VIDEO]
    options = argparse.Namespace(**{n: getattr(args, n) for n in names}, detections=args.detections)
    if options.save_crops is not None:  # the same folder for every worker, whatever its cwd
        options.save_crops = Path(options.save_crops).resolve()
        if options.save_crops == Path(out).resolve():  # DIR/<name> would be OUT/<name> itself
            raise UserError(
                f"--save-crops {args.save_crops}: that is the --out folder, where each video's "
                "other outputs go; give a folder inside it (e.g. OUT/crops) or elsewhere"
            )
    return options


def recorded_options(options: argparse.Namespace) -> dict[str, Any]:
    """What the manifest keeps of ``options``: those that change the outputs, as JSON."""
    return {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in sorted(vars(options).items())
        if k not in NOT_RECORDED
    }


@dataclass
class BatchReport:
    """What one batch run did, for the summary files and the exit status."""

    jobs: list[Job]
    tracked: int = 0
    skipped: int = 0
    failed: int = 0
    frames: int = 0
    wall_s: float = 0.0


def _check_same_options(manifest: Manifest, jobs: Sequence[Job], record: dict[str, Any]) -> None:
    """Refuse to mix outputs of different options in one folder (a rerun must resume, not
    silently keep videos tracked another way). An option a manifest written before it existed
    lacks counts as its default."""
    defaults = {a.dest: a.default for a in run_cli.build_parser()._actions}
    for job in jobs:
        entry = manifest.get(job.key)
        if entry and entry["state"] == "done":
            old = {**{k: defaults.get(k) for k in record}, **(entry.get("options") or {})}
            diff = [
                f"--{k.replace('_', '-')} {old.get(k)!r} -> {record.get(k)!r}"
                for k in sorted(set(old) | set(record))
                if old.get(k) != record.get(k)
            ]
            if not diff:
                continue
            raise UserError(
                f"{manifest.path}: {job.source} was tracked with other options "
                f"({'; '.join(diff[:3])}); use another --out folder to track with these"
            )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_batch(
    jobs: Sequence[Job],
    options: argparse.Namespace,
    out_dir: Path,
    engine: LocalEngine | RayEngine,
    plan: ThreadPlan,
    *,
    progress: bool = True,
) -> BatchReport:
    """Track ``jobs`` not yet done into ``out_dir`` with ``engine``, keeping the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(out_dir):
        return _run_batch(jobs, options, out_dir, engine, plan, progress=progress)


@contextlib.contextmanager
def exclusive(out_dir: Path) -> Iterator[None]:
    """One batch at a time per output folder: two would overwrite each other's manifest."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; documented as one batch per folder
        yield
        return
    with open(out_dir / LOCK, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(
                f"{out_dir}: another batch is running into this folder; wait for it to end or "
                "choose another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run_batch(
    jobs: Sequence[Job],
    options: argparse.Namespace,
    out_dir: Path,
    engine: LocalEngine | RayEngine,
    plan: ThreadPlan,
    *,
    progress: bool,
) -> BatchReport:
    start = time.perf_counter()
    manifest = Manifest(out_dir / MANIFEST)
    record = recorded_options(options)
    _check_same_options(manifest, jobs, record)
    jobs = assign_names(jobs, manifest.names())
    report = BatchReport(jobs=list(jobs))
    todo: list[Job] = []
    for job in jobs:
        entry = manifest.get(job.key)
        if entry and entry["state"] == "done" and manifest.outputs_intact(job.key, out_dir):
            report.skipped += 1
            continue
        if entry is None and not job.error:  # a folder the batch has not written yet
            outputs = output_paths(job, out_dir, no_video=options.no_video).values()
            claim_outputs(outputs, overwrite=options.overwrite, hint=OVERWRITE_HINT)
            crops = crops_folder(job, options)
            if crops is not None:
                from tracker.crops import claim_folder

                claim_folder(crops, overwrite=options.overwrite)
        todo.append(job)
        attempts = (entry or {}).get("attempts", 0)  # a failed or lost try is still counted
        manifest.entries[job.key] = {
            "video": job.key,
            "source": job.source,
            "name": job.name,
            "state": "pending",
            "options": record,
            "attempts": attempts,
        }
    manifest.save()

    videos = tqdm(
        total=len(jobs), initial=report.skipped, unit="video", desc="videos", disable=not progress
    )
    frames = tqdm(unit="frame", desc="frames", disable=not progress, position=1)

    def on_frames(n: int) -> None:
        frames.update(n)

    def on_result(job: Job, result: dict[str, Any]) -> None:
        attempts = int(manifest.get(job.key).get("attempts") or 0) + 1
        manifest.update(job.key, **result, attempts=attempts, finished=_now())
        report.tracked += 1
        report.failed += result["state"] == "failed"
        report.frames += int(result.get("frames") or 0)
        videos.update(1)

    try:
        ready = [j for j in todo if not j.error]
        for job in todo:
            if job.error:  # known before tracking: nothing to send to a worker
                on_result(job, {"state": "failed", "error": job.error})
        if ready:
            engine.run(ready, Work(options, out_dir, plan, on_result, on_frames))
    finally:
        frames.close()
        videos.close()
    report.wall_s = time.perf_counter() - start
    write_summary(out_dir, report, manifest, engine.name, engine.start_s)
    return report


def summary_rows(report: BatchReport, manifest: Manifest) -> list[dict[str, Any]]:
    rows = []
    for job in report.jobs:
        entry = manifest.get(job.key) or {}
        metrics = entry.get("metrics") or {}
        rows.append(
            {
                "video": job.source,
                "name": job.name,
                "state": entry.get("state", "pending"),
                "frames": entry.get("frames"),
                "complete": entry.get("complete"),
                "ids": entry.get("ids"),
                "fps": entry.get("fps"),
                "wall_s": entry.get("wall_s"),
                "HOTA": metrics.get("HOTA"),
                "IDF1": metrics.get("IDF1"),
                "metrics": entry.get("metrics"),
                "error": entry.get("error"),
            }
        )
    return rows


def write_summary(
    out_dir: Path,
    report: BatchReport,
    manifest: Manifest,
    engine_name: str = "",
    engine_start: float | None = None,
) -> None:
    """``summary.csv`` (one row per video of this batch) and ``summary.json`` (rows + totals)."""
    rows = summary_rows(report, manifest)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, [*SUMMARY_COLUMNS, "error"], extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    atomic_write_text(out_dir / "summary.csv", buf.getvalue())
    states = Counter(r["state"] for r in rows)
    totals = {
        "videos": len(rows),
        "done": states["done"],
        "failed": states["failed"],
        "pending": states["pending"],
        "tracked_now": report.tracked,
        "skipped_done": report.skipped,
        "frames_now": report.frames,
        "wall_s": round(report.wall_s, 3),
        "engine": engine_name,
        "engine_start_s": None if engine_start is None else round(engine_start, 3),
    }
    atomic_write_json(out_dir / "summary.json", {"totals": totals, "videos": rows})


def _engine(args: argparse.Namespace) -> tuple[LocalEngine | RayEngine, ThreadPlan]:
    """The engine the options ask for, and the thread plan of each of its workers."""
    if args.ray is None:
        workers = args.workers or 1
        # Each worker gets its share of the cores; its decoder runs beside its compute pool.
        cores = max(1, usable_cores() // workers)
        return LocalEngine(workers), plan_threads(
            args.threads, concurrent=DECODER_SHARE, cores=cores
        )
    if args.ray and Path(args.ray).exists():
        raise UserError(
            f"--ray {args.ray}: that is a file, not a Ray address; write the sources before "
            "--ray, or --ray=ADDRESS"
        )
    cpus = args.threads or 1
    gpus = args.gpus_per_task if str(args.device).startswith("cuda") else 0.0
    engine = RayEngine(
        args.ray or None, workers=args.workers, cpus_per_task=cpus, gpus_per_task=gpus
    )
    return engine, plan_threads(args.threads, concurrent=DECODER_SHARE, cores=cpus)


@cli
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.crops != "best" and args.save_crops is None:
        raise UserError("--crops chooses what --save-crops writes; give --save-crops DIR too")
    options = tracking_options(args, out=args.out)
    run_cli.check_detector_options(args.detector, args.detections, run_cli.detector_options(args))
    # Fail here, once, on a preset or config the workers could not load.
    load_preset(args.preset, **(read_config_yaml(args.config) if args.config else {}))
    jobs = expand_sources(args.sources, exclude=args.out)
    if args.workers:  # no more workers than videos, so each gets more of the cores
        args.workers = min(args.workers, len(jobs))
    engine, plan = _engine(args)
    if not args.quiet:
        where = f"ray {args.ray or '(local instance)'}" if args.ray is not None else "local"
        print(f"{len(jobs)} videos -> {args.out} on {where}; per worker {plan.describe()}")
    report = run_batch(jobs, options, args.out, engine, plan, progress=not args.quiet)
    if not args.quiet:
        print(
            f"tracked {report.tracked} videos ({report.frames} frames) in {report.wall_s:.1f} s, "
            f"{report.skipped} already done; summary: {args.out / 'summary.csv'}"
        )
    manifest = Manifest(args.out / MANIFEST)
    cut = [j.source for j in report.jobs if (manifest.get(j.key) or {}).get("complete") is False]
    if cut:  # shown even with --quiet, as tracker.run does: these results cover part of a video
        print(
            f"warning: {len(cut)} video(s) ended before the frames their container announces "
            f'(truncated or damaged; "complete": false in the summary), first: {cut[0]}',
            file=sys.stderr,
        )
    if report.failed:
        first = next(
            manifest.get(j.key) for j in report.jobs if manifest.get(j.key)["state"] == "failed"
        )
        print(
            f"error: {report.failed} of {len(report.jobs)} videos failed (first: "
            f"{first['error']}); rerun the same command to retry them, "
            f"reasons in {manifest.path}",
            file=sys.stderr,
        )
    return min(report.failed, MAX_EXIT)


if __name__ == "__main__":
    raise SystemExit(main())
