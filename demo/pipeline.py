"""What the demo does with one clip, without any Gradio: check, track, transcode, build the gallery.

:func:`process_clip` is the whole request. It copies the upload (and det.txt) into the request's
own folder under fixed names, checks size, type and duration before any heavy work, runs
:func:`tracker.run.track_video` (MOT txt, JSON, annotated video), re-encodes the video as H.264
for the browser, then makes one pass over the input to cut each identity's best crop and, with a
ReID model, the crops for its text-search embedding. User mistakes raise ``UserError``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cgclip.errors import UserError
from cgclip.io.video import open_video
from cgclip.model.preprocess import crop_boxes
from demo.gallery import (
    Identity,
    caption,
    cut,
    plan_crops,
    plan_strip,
    presence,
    render_tile,
    segments,
    track_color,
)
from demo.media import transcode_h264
from demo.reid import ReidRegistry, cls_features, text_aligned
from tracker.config import load_preset, preset_names
from tracker.run import RunSummary, track_video

ProgressFn = Callable[[float, str], None]
ENCODE_BATCH = 32  # search crops per image-encoder call in the gallery pass

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
) -> DemoResult:
    """Track one uploaded clip into ``work_dir`` (which must exist and belong to this request).

    video / detections: the uploaded files (copied before use, never opened in place).
    search_crops: best-quality crops per track averaged into its text-search embedding.
    """
    work = Path(work_dir)
    with _hide_folder(work):
        report = progress or (lambda fraction, desc: None)
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
        det = _make_detector(detector, detections, work, limits, device)
        model = registry.model(reid)
        embedder = None
        if model is not None:
            from tracker.embedding import CgclipEmbedder

            embedder = CgclipEmbedder(model, device=device)

        stem = src.stem
        out = {
            "raw": work / f".{stem}.mp4v.mp4",
            "video": work / f"{stem}.tracked.mp4",
            "mot": work / f"{stem}.mot.txt",
            "json": work / f"{stem}.tracks.json",
        }
        seconds: dict[str, float] = {}
        report(0.02, "tracking")
        t0 = time.perf_counter()
        summary = track_video(
            src,
            detector=det,
            config=config,
            embedder=embedder,
            out_mot=out["mot"],
            out_json=out["json"],
            out_video=out["raw"],
            max_frames=max_frames,
            progress=progress is not None,  # Gradio's Progress(track_tqdm=True) follows the bar
        )
        seconds["track"] = time.perf_counter() - t0

        report(0.85, "encoding the video for the browser")
        t0 = time.perf_counter()
        transcode_h264(out["raw"], out["video"])
        out["raw"].unlink()
        seconds["video"] = time.perf_counter() - t0

        report(0.92, "building the identity gallery")
        t0 = time.perf_counter()
        result = json.loads(out["json"].read_text(encoding="utf-8"))
        identities, ids, embeddings = collect_identities(
            src, result, summary.frames, model, per_track=search_crops
        )
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
        )


@contextlib.contextmanager
def _hide_folder(work: Path) -> Iterator[None]:
    """Error messages name files by their upload name, not by the server's request folder."""
    try:
        yield
    except UserError as err:
        raise UserError(str(err).replace(f"{work}{os.sep}", "")) from None


def collect_identities(
    video: Path,
    result: dict[str, Any],
    num_frames: int,
    model: Any | None,
    per_track: int = 4,
) -> tuple[list[Identity], list[int], np.ndarray | None]:
    """One decoding pass: gallery tiles for every track and, with ``model``, each track's
    text-aligned embedding from its ``per_track`` best crops -> (identities, ids, (K, E) | None)."""
    plan = plan_crops(result, per_track if model is not None else 0)
    strip_plan = plan_strip(result)  # the attention strip's crops, cut in the same pass
    last_frame = max(plan.last_frame, max(strip_plan, default=0))
    present = presence(result, num_frames)
    best: dict[int, np.ndarray] = {}
    strips: dict[int, list[tuple[int, np.ndarray]]] = {}
    pending: list[Any] = []  # crops waiting for a full encoder batch (bounded memory)
    cls_parts: list[np.ndarray] = []
    owners: list[int] = []
    with open_video(video) as reader:
        for index, frame in enumerate(reader, start=1):
            if index > last_frame:
                break
            for tid, box in strip_plan.get(index, ()):
                strips.setdefault(tid, []).append((index, cut(frame, box, pad=0.0)))
            items = plan.by_frame.get(index)
            if not items:
                continue
            for tid, box, is_best in items:
                if is_best:
                    best[tid] = cut(frame, box)
            wanted = [(tid, box) for tid, box, is_best in items if not is_best]
            if model is not None and wanted:
                boxes = np.stack([box for _, box in wanted])
                pending.append(crop_boxes(frame, boxes, model.preprocess))  # (n, 3, H, W)
                owners += [tid for tid, _ in wanted]
                if sum(len(c) for c in pending) >= ENCODE_BATCH:
                    cls_parts.append(_encode(model, pending))
        if pending:
            cls_parts.append(_encode(model, pending))
    identities = []
    for tid_str, track in sorted(result.get("tracks", {}).items(), key=lambda kv: int(kv[0])):
        tid = int(tid_str)
        if tid not in best:  # the video ended before the JSON's frame (cannot happen normally)
            continue
        tile = render_tile(best[tid], present.get(tid, np.zeros(0, bool)), track_color(tid))
        first, last = int(track["first_frame"]), int(track["last_frame"])
        runs = segments(np.flatnonzero(present.get(tid, np.zeros(0, bool))) + 1)
        identities.append(
            Identity(
                tid,
                first,
                last,
                int(track["frames"]),
                tile,
                caption(tid, first, last),
                segments=runs,
                strip=strips.get(tid, []),
            )
        )
    if model is None:
        return identities, [i.track_id for i in identities], None
    if not owners:
        return identities, [], np.zeros((0, 0), np.float32)
    cls = np.concatenate(cls_parts)  # (n, D), row i belongs to owners[i]
    owner = np.asarray(owners)
    ids = [i.track_id for i in identities if i.track_id in set(owners)]
    mean = np.stack([cls[owner == t].mean(0) for t in ids])  # (K, D) frame-averaged CLS
    return identities, ids, text_aligned(model, mean)


def _encode(model: Any, pending: list[Any]) -> np.ndarray:
    """Encode and clear the pending crops -> their CLS tokens ``(n, D)``."""
    import torch

    cls = cls_features(model, torch.cat(pending), batch_size=ENCODE_BATCH)
    pending.clear()
    return cls


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
        return make_detector(YOLO, device=device)
    raise UserError(f"unknown detector {detector!r}; pick one of {list(DETECTORS)}")


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
