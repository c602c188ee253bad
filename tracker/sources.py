"""What ``python -m tracker.run SOURCE`` was given, and where its outputs go.

==================================  ===========  ==========================================
SOURCE                              kind         outputs (without ``--output-dir``)
==================================  ===========  ==========================================
``clip.mp4``                        ``file``     next to the input: ``clip.tracked.mp4`` ...
``seq/img1``, a folder of images    ``frames``   the sequence folder: ``seq.tracked.mp4`` ...
``0`` (a webcam index)              ``webcam``   ``runs/camera0-<UTC start>.tracked.mp4`` ...
``rtsp://...``, ``http(s)://...``   ``url``      ``runs/<name>-<UTC start>.tracked.mp4`` ...
a folder of videos, ``'*.mp4'``     ``many``     ``runs/<folder>/<video>/`` (tracker.batch)
==================================  ===========  ==========================================

A stream has no file to sit beside and may give other frames each time it is read, so its
outputs are named after the source and the time the run started: two runs never collide. Many
videos are tracked one after another by :mod:`tracker.batch`'s machinery (manifest, summary,
resume), into the folder ``--output-dir`` names. Opening the frames stays in
:mod:`cgclip.io.video` (through :func:`tracker.pipeline.open_source`).
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from cgclip.errors import UserError
from cgclip.io.video import IMAGE_EXTS, stream_kind

DEFAULT_RUNS = Path("runs")  # where outputs go when there is no input file to put them beside
KINDS = ("file", "frames", "webcam", "url", "many")


@dataclass(frozen=True)
class Source:
    """One command-line source: ``text`` as given, and its ``kind`` (see the module doc)."""

    text: str
    kind: str

    @property
    def live(self) -> bool:
        """A webcam or URL: no file beside which outputs could go."""
        return self.kind in ("webcam", "url")


def _holds_images(folder: Path) -> bool:
    if folder.name == "img1" or (folder / "img1").is_dir():
        return True
    return any(p.suffix.lower() in IMAGE_EXTS for p in folder.iterdir() if p.is_file())


def classify(text: str) -> Source:
    """The kind of ``text``; :class:`UserError` for a path that is not there."""
    kind = stream_kind(text)
    if kind is not None:
        return Source(text, kind)
    path = Path(text).expanduser()
    if path.is_file():
        return Source(text, "file")
    if path.is_dir():
        return Source(text, "frames" if _holds_images(path) else "many")
    if glob.has_magic(text):
        return Source(text, "many")
    raise UserError(f"{text}: no such video file or image folder")


def stream_stem(source: Source, started: datetime | None = None) -> str:
    """``camera0-20261202-142900`` / ``<url file or host>-<UTC start>``: a stream's output name."""
    started = started or datetime.now(timezone.utc)
    if source.kind == "webcam":
        name = f"camera{int(source.text)}"
    else:
        url = urlsplit(source.text)
        last = Path(url.path).stem if url.path.strip("/") else ""
        name = last or url.hostname or "stream"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "stream"
    return f"{name}-{started.strftime('%Y%m%d-%H%M%S')}"


def many_output_dir(source: Source) -> Path:
    """``runs/<name>`` for a folder or glob of videos: the folder's name, or for a pattern the
    last folder before its first wildcard (``runs/videos`` for ``videos/*.mp4``)."""
    plain = []
    for part in Path(source.text).expanduser().parts:
        if glob.has_magic(part):
            break
        plain.append(part)
    name = Path(*plain).resolve().name if plain else Path.cwd().name
    return DEFAULT_RUNS / (name or "videos")


# --- the checkpoint's domain -----------------------------------------------------------------

SYNTHETIC_DATASETS = ("synthetic",)
# What the synthetic generator (cgclip.data.synthetic) leaves beside its output: the sample
# clip's folder holds .sample.json; a generated dataset's root holds .synthetic.json, two or
# three levels above each sequence's video or frames (ROOT/split/seq/seq.mp4, .../seq/img1).
SAMPLE_STAMP, DATASET_STAMP = ".sample.json", ".synthetic.json"


def checkpoint_datasets(reid: str) -> list[str] | None:
    """The datasets a ``--reid`` cgclip checkpoint was trained on, from its sidecar's ``meta``
    (``dataset``, or a ``datasets`` list); ``None`` for anything else or a sidecar that says
    nothing."""
    import json

    path = Path(reid).expanduser()
    if path.suffix not in (".safetensors", ".json") or not path.with_suffix(".json").is_file():
        return None
    try:
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8")).get("meta")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(meta, dict):
        return None
    names = meta.get("datasets") or ([meta["dataset"]] if meta.get("dataset") else [])
    return [str(n) for n in names] or None


def is_synthetic_footage(source: Source) -> bool:
    """Footage our generator made: its stamp beside the video, or at the dataset root above."""
    if source.live or source.kind == "many":
        return False
    path = Path(source.text).expanduser().resolve()
    folder = path if path.is_dir() else path.parent
    if (folder / SAMPLE_STAMP).is_file():
        return True
    return any((up / DATASET_STAMP).is_file() for up in [folder, *folder.parents][:5])


def domain_warning(reid: str, source: Source) -> str | None:
    """One line when a checkpoint trained only on synthetic data tracks other footage: it has
    never seen real people and swaps identities there."""
    datasets = checkpoint_datasets(reid)
    if not datasets or any(d.lower() not in SYNTHETIC_DATASETS for d in datasets):
        return None
    if is_synthetic_footage(source):
        return None
    return (
        f"warning: {reid} was trained only on synthetic data ({', '.join(datasets)}) and this "
        "is other footage, where it swaps identities; use --reid clip, or train on your own "
        "footage (--save-crops DIR --crops all, then dataset 'crops')"
    )


# --- many videos ---------------------------------------------------------------------------------


def track_many(args, source: Source) -> int:
    """``tracker.run FOLDER`` or ``'GLOB'``: every video tracked one after another as
    ``python -m tracker.batch SOURCE --out DIR`` with one worker would (manifest, resume,
    ``summary.csv``), into ``--output-dir`` (default ``runs/<name>``), then a summary table;
    ``--save-crops DIR`` puts each video's crops in ``DIR/<name>/``.
    Returns the number of videos that failed, as tracker.batch."""
    from tracker import batch
    from tracker.batch_engines import LocalEngine
    from tracker.batch_jobs import MANIFEST, Manifest, expand_sources

    per_video = [
        f"--{n.replace('_', '-')}"
        for n in ("out_video", "out_mot", "out_json")
        if getattr(args, n) is not None
    ]
    if per_video:
        raise UserError(
            f"{per_video[0]} names one video's output, and {source.text} is many videos; "
            "drop it (each video's outputs go to --output-dir/<name>/)"
        )
    if args.detections not in (None, "auto"):
        raise UserError(
            f"--detections {args.detections}: one det.txt cannot serve many videos; use "
            "--detections auto to replay each MOT sequence's own det/det.txt"
        )
    from cgclip.threads import DECODER_SHARE, plan_threads, usable_cores
    from tracker.config import load_preset, read_config_yaml

    load_preset(args.preset, **(read_config_yaml(args.config) if args.config else {}))
    out = args.output_dir or many_output_dir(source)
    jobs = expand_sources([source.text], exclude=out)
    options = batch.tracking_options(args, out=out)
    plan = plan_threads(args.threads, concurrent=DECODER_SHARE, cores=usable_cores())
    if not args.quiet:
        print(f"{len(jobs)} videos -> {out}, one after another; {plan.describe()}")
    report = batch.run_batch(jobs, options, out, LocalEngine(1), plan, progress=not args.quiet)
    manifest = Manifest(out / MANIFEST)
    rows = batch.summary_rows(report, manifest)
    print(f"{'video':<32} {'state':<7} {'frames':>7} {'ids':>5} {'FPS':>7}")
    for row in rows:
        state = row["state"] if row["complete"] is not False else "partial"
        fps = "" if row["fps"] is None else f"{row['fps']:.1f}"
        print(
            f"{row['name'][:32]:<32} {state:<7} {row['frames'] or 0:>7} {row['ids'] or 0:>5} "
            f"{fps:>7}" + (f"  {row['error']}" if row["error"] else "")
        )
    print(
        f"tracked {report.tracked} videos ({report.frames} frames) in {report.wall_s:.1f} s, "
        f"{report.skipped} already done; outputs in {out}/<name>/, summary: "
        f"{out / 'summary.csv'}"
    )
    return min(report.failed, batch.MAX_EXIT)
