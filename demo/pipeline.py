"""What the demo does with one clip, without any Gradio: check, track, build the gallery.

:func:`process_clip` is the whole request. It copies the upload (and det.txt) into the request's
own folder under fixed names, checks size, type and duration before any heavy work, then makes
**one pass** over the clip: :func:`tracker.run.track_video` writes the MOT txt, the JSON and the
annotated video, and two more sinks ride along: :class:`demo.collect.TrackCollector` keeps each
identity's best crop, frame runs, attention-strip crops and text-search feature (CLS tokens
reused from the tracker's encoder call), and :class:`demo.jobs.PhaseSink` reports progress and
checks the cancel flag. The video is re-encoded as H.264 only where the tracker could not write
it. User mistakes raise ``UserError``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cgclip.errors import UserError
from cgclip.io.video import open_video
from demo.collect import FeatureTap, TrackCollector, TrackResult
from demo.gallery import STRIP_FRAMES, Identity, caption, cut, render_tile, track_color
from demo.jobs import Job, PhaseSink, ProgressFn
from demo.media import is_browser_playable, transcode_h264
from demo.reid import ReidRegistry, text_aligned
from tracker.config import load_preset, preset_names
from tracker.run import RunSummary, track_video

log = logging.getLogger(__name__)

VIDEO_EXTS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg")
YOLO, HOG, PUBLIC = "yolo11n.pt", "hog", "public"
DETECTORS: dict[str, str] = {
    YOLO: "YOLO11n (yolo11n.pt, downloads about 5 MB once)",
    HOG: "HOG people detector (offline, slow)",
    PUBLIC: "public detections (upload a MOTChallenge det.txt)",
}


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; checked before any tracking starts."""

    max_upload_mb: float = 200.0
    max_seconds: float = 120.0

    def check_size(self, path: Path, what: str) -> None:
        size_mb = path.stat().st_size / 2**20
        if size_mb > self.max_upload_mb:
            raise UserError(
                f"the {what} is {size_mb:.1f} MB; this demo takes files up to "
                f"{self.max_upload_mb:g} MB: trim or compress it, or run python -m tracker.run locally"
            )


@dataclass
class DemoResult:
    """Everything the UI shows for one clip. Paths live in the request folder."""

    video: Path  # H.264 MP4 that browsers play
    mot: Path
    json: Path
    identities: list[Identity]
    summary: RunSummary
    fps: float
    reid: str
    track_ids: list[int] = field(default_factory=list)
    embeddings: np.ndarray | None = None  # (K, E) text-aligned, L2-normalised, rows = track_ids
    seconds: dict[str, float] = field(default_factory=dict)  # demo stages (track, video, gallery)
    tracks: TrackResult | None = None  # what the tracking pass collected (crops, features, spans)

    @property
    def files(self) -> list[Path]:
        return [self.video, self.mot, self.json]

    def status(self) -> str:
        s = self.summary
        took = sum(self.seconds.values())
        lines = [
            f"Tracked **{s.frames} frames** and found **{len(self.identities)} identities** "
            f"in {took:.1f} s (tracking {s.frames / max(self.seconds.get('track', 0), 1e-9):.1f} FPS).",
        ]
        if not s.complete:
            lines.append(
                f"**Warning:** the clip ends after {s.frames} of the {s.frames_expected} frames "
                "its file announces (cut short or damaged); the results cover those frames."
            )
        if self.embeddings is None:
            lines.append("Text search needs a ReID model; this run used none (motion only).")
        lines.append("```\n" + s.stage_table() + "\n```")
        return "\n\n".join(lines)


def process_clip(
    video: str | os.PathLike[str] | None,
    *,
    work_dir: str | os.PathLike[str],
    registry: ReidRegistry,
    detector: str = YOLO,
    detections: str | os.PathLike[str] | None = None,
    reid: str = "none",
    preset: str = "default",
    limits: Limits = Limits(),
    device: str = "cpu",
    search_crops: int = 4,
    progress: ProgressFn | None = None,
    job: Job | None = None,
) -> DemoResult:
    """Track one uploaded clip into ``work_dir`` (which must exist and belong to this request).

    video / detections: the uploaded files (copied before use, never opened in place).
    search_crops: best-quality crops per track averaged into its text-search embedding.
    progress: ``progress(fraction, phase)``, called as each phase starts and during tracking
    (frames done, time left). job: its cancel flag is checked on every frame; a cancelled job
    raises :class:`demo.jobs.Cancelled` and leaves no result file behind.
    """
    work = Path(work_dir)
    report = progress or (lambda fraction, desc: None)
    with _hide_folder(work):
        report(0.0, "checking the clip")
        src = _stage_video(video, work, limits)
        with open_video(src) as reader:  # UserError for a corrupt or non-video file
            info = reader.info
        if info.frame_count and info.frame_count / info.fps > limits.max_seconds:
            raise UserError(
                f"the clip is {info.frame_count / info.fps:.1f} s long; this demo takes clips up to "
                f"{limits.max_seconds:g} s: trim it, or run python -m tracker.run locally"
            )
        max_frames = math.ceil(limits.max_seconds * info.fps)  # also bounds clips of unknown length
        if preset not in preset_names():
            raise UserError(f"unknown scene preset {preset!r}; pick one of {preset_names()}")
        config = load_preset(preset)
        report(0.01, "loading the detector")
        det = _make_detector(detector, detections, work, limits, device)
        if job is not None:
            job.check()
        report(0.02, "loading the ReID model" if reid != "none" else "starting")
        model = registry.model(reid)
        tap = None
        if model is not None:
            from tracker.embedding import CgclipEmbedder

            tap = FeatureTap(CgclipEmbedder(model, device=device))
        if job is not None:
            job.check()

        stem = src.stem
        out = {
            "video": work / f"{stem}.tracked.mp4",
            "mot": work / f"{stem}.mot.txt",
            "json": work / f"{stem}.tracks.json",
        }
        total = min(info.frame_count or max_frames, max_frames)
        collector = TrackCollector(
            cut=cut,
            tap=tap,
            project=(lambda mean: text_aligned(model, mean)) if model is not None else None,
            per_track=search_crops,
            image_size=info.size,
            fps=info.fps,
            strip_frames=STRIP_FRAMES,  # the attention strip, cut in this same pass
        )
        phases = PhaseSink(job, report, total=total, start=0.05, end=0.9)
        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        summary = track_video(
            src,
            detector=det,
            config=config,
            embedder=tap,
            out_mot=out["mot"],
            out_json=out["json"],
            out_video=out["video"],
            max_frames=max_frames,
            progress=False,  # PhaseSink reports frames and time left
            sinks=[collector, phases],  # one pass: gallery crops and search features too
        )
        seconds["track"] = time.perf_counter() - t0
        if not is_browser_playable(out["video"]):  # no libx264 in this PyAV: OpenCV's mp4v
            report(0.92, "encoding video (H.264 for the browser)")
            t0 = time.perf_counter()
            raw = out["video"].with_name(f".{stem}.mp4v.mp4")
            out["video"].replace(raw)
            transcode_h264(raw, out["video"])
            raw.unlink()
            seconds["video"] = time.perf_counter() - t0

        report(0.95, "building the identity gallery")
        t0 = time.perf_counter()
        tracks = collector.result
        assert tracks is not None  # the pass ended without an error
        identities = build_identities(tracks)
        ids, embeddings = tracks.feature_matrix()
        if model is None:
            ids = [i.track_id for i in identities]
        elif embeddings is None:
            embeddings = np.zeros((0, 0), np.float32)
        seconds["gallery"] = time.perf_counter() - t0
        report(1.0, "done")
        return DemoResult(
            video=out["video"],
            mot=out["mot"],
            json=out["json"],
            identities=identities,
            summary=summary,
            fps=info.fps,
            reid=reid,
            track_ids=ids,
            embeddings=embeddings,
            seconds=seconds,
            tracks=tracks,
        )


@contextlib.contextmanager
def _hide_folder(work: Path) -> Iterator[None]:
    """Error messages name files by their upload name, not by the server's request folder."""
    try:
        yield
    except UserError as err:
        raise UserError(str(err).replace(f"{work}{os.sep}", "")) from None


def build_identities(tracks: TrackResult) -> list[Identity]:
    """One gallery entry per id with a best crop, in id order (tile, caption, span, frame runs
    and the attention strip's crops, all from the tracking pass)."""
    identities = []
    for tid in tracks.ids:
        crop = tracks.best_crops.get(tid)
        if crop is None:  # reported only through backfill (cannot happen for a whole track)
            continue
        first, last = tracks.first_frame(tid), tracks.last_frame(tid)
        tile = render_tile(crop, tracks.presence(tid), track_color(tid))
        identities.append(
            Identity(
                tid,
                first,
                last,
                tracks.frames(tid),
                tile,
                caption(tid, first, last),
                segments=list(tracks.spans[tid]),
                strip=tracks.strips.get(tid, []),
            )
        )
    return identities


def _stage_video(video: str | os.PathLike[str] | None, work: Path, limits: Limits) -> Path:
    """Copy the upload into ``work`` under a sanitised name; size and type checked first."""
    if not video:
        raise UserError("no clip: upload a video, or press 'Use the sample clip'")
    path = Path(video)
    if not path.is_file():
        raise UserError("the uploaded clip is no longer on the server; upload it again")
    suffix = path.suffix.lower()
    if suffix not in VIDEO_EXTS:
        raise UserError(
            f"'{path.name}' is not a video file this demo takes ({', '.join(VIDEO_EXTS)})"
        )
    limits.check_size(path, "clip")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem).strip("_")[:60] or "clip"
    dst = work / f"{stem}{suffix}"
    shutil.copyfile(path, dst)
    return dst


def _make_detector(
    detector: str,
    detections: str | os.PathLike[str] | None,
    work: Path,
    limits: Limits,
    device: str,
):
    from tracker.detectors import make_detector

    if detector == PUBLIC:
        if not detections or not Path(detections).is_file():
            raise UserError(
                "public detections need a det.txt: upload one (MOTChallenge rows "
                "frame,-1,x,y,w,h,conf,...) or pick the YOLO or HOG detector"
            )
        limits.check_size(Path(detections), "det.txt")
        dst = work / "det.txt"
        shutil.copyfile(detections, dst)
        return make_detector(detections=dst)
    if detector == HOG:
        return make_detector(HOG)
    if detector == YOLO:
        from cgclip.io.net import reachable

        if yolo_weights_local() is None and not reachable(YOLO_HOST):  # no minutes of retries
            raise UserError(YOLO_OFFLINE)
        try:
            return make_detector(YOLO, device=device)
        except UserError as err:  # offline: the CLI's hint names --detector, the page does not
            log.warning("YOLO detector unavailable: %s", err)
            raise UserError(YOLO_OFFLINE) from None
    raise UserError(f"unknown detector {detector!r}; pick one of {list(DETECTORS)}")


YOLO_OFFLINE = (
    "the YOLO11n detector's weights are not on this server and cannot be downloaded now: pick "
    "'HOG people detector' as the Detector, or upload a det.txt and pick 'public detections'"
)
YOLO_HOST = "github.com"  # ultralytics downloads yolo11n.pt from its GitHub release assets


def yolo_weights_local(weights: str = YOLO) -> Path | None:
    """Where ultralytics would find ``weights`` without downloading (the working folder or its
    ``weights_dir`` setting), or None."""
    if Path(weights).is_file():
        return Path(weights)
    try:
        from ultralytics.utils import SETTINGS

        path = Path(SETTINGS.get("weights_dir", "")) / weights
    except Exception:  # an unreadable settings file: treat as no weights dir
        return None
    return path if path.is_file() else None


def default_detector() -> str:
    """YOLO11n where it works (weights on disk, or the download host reachable), else HOG, so a
    visitor who changes nothing gets a detector that runs."""
    from cgclip.io.net import reachable

    if yolo_weights_local() is not None or reachable(YOLO_HOST):
        return YOLO
    log.info("no %s and %s unreachable: the demo's default detector is HOG", YOLO, YOLO_HOST)
    return HOG


def default_sample_dir() -> Path:
    """Where the sample clip is cached: ``$XDG_CACHE_HOME/cgclip-track/demo-sample``."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "cgclip-track" / "demo-sample"


def prepare_sample(folder: str | os.PathLike[str], frames: int = 250) -> tuple[Path, Path]:
    """The synthetic dance sample (generated once, then reused) as ``(H.264 video, det.txt)``.

    The H.264 copy is what the upload box previews (browsers do not play OpenCV's mp4v); its
    frames are those of ``sample.mp4``, so the det.txt still matches frame for frame."""
    from cgclip.data.synthetic import generate_sample

    folder = Path(folder)
    generate_sample(folder, frames=frames, progress=False)  # no-op when already there
    video = folder / "dance_sample.mp4"
    raw = folder / "sample.mp4"
    if not video.is_file() or video.stat().st_mtime < raw.stat().st_mtime:
        transcode_h264(raw, video)
    return video, folder / "det.txt"
