"""``python -m tracker.run VIDEO``: detect, track and write an annotated MP4, MOT txt and JSON.

    python -m tracker.run match.mp4                                   # YOLO (yolo11n.pt), motion only
    python -m tracker.run seq/img1 --detections seq/det/det.txt --no-video   # public detections
    python -m tracker.run clip.mp4 --detector hog --preset dance --output-dir out/

Frames stream from the decoder through the detector (in batches of ``--batch``) and the tracker
to the writers, so memory stays flat for any video length.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from cgclip.errors import ArgumentParser, UserError, cli
from cgclip.io.config import number_arg
from cgclip.io.runs import claim_outputs
from cgclip.io.video import open_video
from tracker.config import TrackerConfig, load_preset, preset_names, read_config_yaml
from tracker.detectors import Detector, ReplayDetector, make_detector
from tracker.embedding import Embedder, FrameFeatures, build_embedder
from tracker.outputs import JsonWriter, MotWriter, VideoAnnotator
from tracker.tracker import Tracker

STAGES = ("decode", "detect", "embed", "associate", "draw", "write")


@dataclass
class RunSummary:
    """What :func:`track_video` did: frames, ids, outputs and seconds spent per stage."""

    frames: int = 0
    ids: int = 0
    frames_expected: int | None = None  # what the container announced (up to max_frames)
    complete: bool = True  # False: the video ended before frames_expected (truncated)
    outputs: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def stage_table(self) -> str:
        total = sum(self.seconds.values()) or 1e-12
        lines = [f"{'stage':<10} {'ms/frame':>9} {'share':>6}"]
        for name in STAGES:
            s = self.seconds[name]
            lines.append(
                f"{name:<10} {1000 * s / max(self.frames, 1):9.2f} {100 * s / total:5.1f}%"
            )
        lines.append(
            f"{'total':<10} {1000 * total / max(self.frames, 1):9.2f}   ({self.frames / total:.1f} FPS)"
        )
        return "\n".join(lines)


class _TimedEmbedder:
    """Wraps an embedder so the embed time is counted apart from association."""

    def __init__(self, inner: Embedder, seconds: dict[str, float]) -> None:
        self.inner, self.seconds = inner, seconds

    def embed_frame(self, frame: np.ndarray, boxes_xyxy: np.ndarray) -> FrameFeatures:
        t0 = time.perf_counter()
        try:
            return self.inner.embed_frame(frame, boxes_xyxy)
        finally:
            self.seconds["embed"] += time.perf_counter() - t0

    def embed_tracklets(self, windows):
        t0 = time.perf_counter()
        try:
            return self.inner.embed_tracklets(windows)
        finally:
            self.seconds["embed"] += time.perf_counter() - t0


def track_video(
    video: str | Path,
    *,
    detector: Detector,
    config: TrackerConfig,
    embedder: Embedder | None = None,
    out_mot: str | Path | None = None,
    out_json: str | Path | None = None,
    out_video: str | Path | None = None,
    max_frames: int | None = None,
    progress: bool = True,
) -> RunSummary:
    """Track one video (file or image folder) and write the requested outputs."""
    summary = RunSummary()
    sec = summary.seconds
    reader = open_video(video)
    info = reader.info
    if isinstance(detector, ReplayDetector):
        detector.check_video(info)
    tracker = Tracker(
        config, embedder=_TimedEmbedder(embedder, sec) if embedder is not None else None
    )
    meta = {"video": str(video), "fps": info.fps, "width": info.width, "height": info.height}
    meta["reid"] = getattr(embedder, "name", type(embedder).__name__) if embedder else "none"
    mot = MotWriter(out_mot) if out_mot else None
    js = JsonWriter(out_json, meta={**meta, "config": config.to_dict()}) if out_json else None
    vid = VideoAnnotator(out_video, fps=info.fps, size=info.size) if out_video else None
    writers = [w for w in (mot, js, vid) if w is not None]
    total = info.frame_count or None
    if max_frames:
        total = min(total or max_frames, max_frames)
    bar = tqdm(total=total, unit="frame", desc=Path(video).name, disable=not progress, leave=False)
    with contextlib.ExitStack() as stack:
        stack.callback(reader.close)
        stack.callback(bar.close)
        for w in writers:  # an error below discards every partial output
            stack.enter_context(w)
        frames_iter = iter(reader)
        done = False
        while not done:
            batch: list[np.ndarray] = []
            t0 = time.perf_counter()
            while len(batch) < detector.batch_size:
                if max_frames and summary.frames + len(batch) >= max_frames:
                    done = True
                    break
                frame = next(frames_iter, None)
                if frame is None:
                    done = True
                    break
                batch.append(frame)
            sec["decode"] += time.perf_counter() - t0
            if not batch:
                break
            ids = list(range(summary.frames + 1, summary.frames + 1 + len(batch)))
            t0 = time.perf_counter()
            dets = detector.detect(batch, ids)
            sec["detect"] += time.perf_counter() - t0
            for fid, frame, det in zip(ids, batch, dets, strict=True):
                t0 = time.perf_counter()
                embed_before = sec["embed"]
                tracked = tracker.update(det, frame)
                sec["associate"] += time.perf_counter() - t0 - (sec["embed"] - embed_before)
                if vid is not None:
                    t0 = time.perf_counter()
                    scene = vid.annotate(frame, tracked)
                    sec["draw"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                if vid is not None:
                    vid.writer.write(scene)
                if mot is not None:
                    mot.write(fid, tracked)
                if js is not None:
                    js.write(fid, tracked, image_size=info.size)
                sec["write"] += time.perf_counter() - t0
                bar.update(1)
            summary.frames += len(batch)
        summary.ids = tracker.ids_assigned
        summary.frames_expected = total
        summary.complete = not reader.truncated
        if js is not None:
            js.footer = {
                "complete": summary.complete,
                "frames_read": summary.frames,
                "frames_expected": total,
            }
        t_close = time.perf_counter()
    sec["write"] += time.perf_counter() - t_close  # finishing and publishing the files
    for name, path in (("mot", out_mot), ("json", out_json), ("video", out_video)):
        if path:
            summary.outputs[name] = str(path)
    return summary


def default_outputs(video: Path, output_dir: Path | None) -> dict[str, Path]:
    """``<stem>.tracked.mp4``, ``<stem>.mot.txt``, ``<stem>.tracks.json`` next to the input (or
    in ``output_dir``). A MOT ``img1`` folder is named after its sequence and its outputs go in
    the sequence folder."""
    src = video.resolve()
    if src.is_dir() and src.name == "img1":
        stem, folder = src.parent.name, src.parent
    elif src.is_dir():
        stem, folder = src.name, src.parent
    else:
        stem, folder = src.stem, src.parent
    folder = output_dir if output_dir is not None else folder
    return {
        "video": folder / f"{stem}.tracked.mp4",
        "mot": folder / f"{stem}.mot.txt",
        "json": folder / f"{stem}.tracks.json",
    }


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m tracker.run",
        description="Detect people in a video, track them, and write an annotated MP4, a MOTChallenge txt and a JSON.",
    )
    p.add_argument("video", help="video file (mp4, avi, mov, mkv) or a folder of frames (MOT img1)")
    p.add_argument(
        "--detector", default="yolo11n.pt", help="ultralytics weights (name or path) or 'hog'"
    )
    p.add_argument("--detections", help="replay a MOTChallenge det.txt instead of detecting")
    p.add_argument(
        "--trust-weights",
        action="store_true",
        help="load --detector .pt files with the full unpickler. RISK: a .pt file is a pickle and "
        "can run any code on this machine when loaded; use only for files from a source you "
        "trust. Without it, .pt weights load with torch's safe (weights_only) loader",
    )
    p.add_argument(
        "--reid",
        default="none",
        help="appearance: a cgclip checkpoint (.safetensors), 'clip' (pretrained CLIP ViT-B/16, "
        "downloaded once), 'clip:PATH' (local open_clip weights), or 'none' (motion only)",
    )
    p.add_argument("--device", default="cpu", help="torch device for the detector and ReID model")
    p.add_argument(
        "--backend",
        default="eager",
        help="ReID image-encoder backend (cgclip.runtime): eager, compile, onnx or tensorrt",
    )
    p.add_argument(
        "--precision", help="ReID encoder precision: fp32, bf16 or fp16 (default: the backend's)"
    )
    p.add_argument(
        "--preset", default="default", help=f"tracker preset: {', '.join(preset_names())}"
    )
    p.add_argument("--config", help="YAML of tracker settings applied over the preset")
    p.add_argument(
        "--conf", type=number_arg("[0, 1]"), default=0.1, help="detector confidence floor (YOLO)"
    )
    p.add_argument(
        "--batch",
        type=number_arg("[1, inf)", int),
        default=8,
        help="frames per detector call (YOLO)",
    )
    p.add_argument(
        "--imgsz", type=number_arg("[32, 16384]", int), default=640, help="YOLO inference size"
    )
    p.add_argument(
        "--output-dir", type=Path, help="folder for the outputs (default: next to the input)"
    )
    p.add_argument("--out-video", type=Path, help="annotated MP4 path")
    p.add_argument("--out-mot", type=Path, help="MOTChallenge results txt path")
    p.add_argument("--out-json", type=Path, help="JSON results path")
    p.add_argument("--no-video", action="store_true", help="skip the annotated video")
    p.add_argument(
        "--overwrite", action="store_true", help="replace outputs left by an earlier run"
    )
    p.add_argument(
        "--max-frames", type=number_arg("[1, inf)", int), help="stop after this many frames"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return p


@cli
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    video = Path(args.video)
    if not video.exists():
        raise UserError(f"{video}: no such video file or image folder")
    defaults = default_outputs(video, args.output_dir)
    out_video = None if args.no_video else (args.out_video or defaults["video"])
    out_mot = args.out_mot or defaults["mot"]
    out_json = args.out_json or defaults["json"]
    claim_outputs([out_video, out_mot, out_json], overwrite=args.overwrite)  # before any work
    overrides: dict[str, Any] = read_config_yaml(args.config) if args.config else {}
    config = load_preset(args.preset, **overrides)
    embedder = build_embedder(
        args.reid, device=args.device, backend=args.backend, precision=args.precision
    )
    if args.detections and args.detector != "yolo11n.pt":
        print(
            f"note: replaying {args.detections}; --detector {args.detector} is not used",
            file=sys.stderr,
        )
    detector = make_detector(
        args.detector,
        detections=args.detections,
        conf=args.conf,
        batch_size=args.batch,
        imgsz=args.imgsz,
        device=args.device,
        trust_weights=args.trust_weights,
    )
    summary = track_video(
        video,
        detector=detector,
        config=config,
        embedder=embedder,
        out_mot=out_mot,
        out_json=out_json,
        out_video=out_video,
        max_frames=args.max_frames,
        progress=not args.quiet,
    )
    if not summary.complete:  # a warning even with --quiet: these results cover part of the video
        print(
            f"warning: {video}: the video ends after {summary.frames} of the "
            f"{summary.frames_expected} frames its container announces (truncated or damaged); "
            'the outputs cover those frames and the JSON says "complete": false',
            file=sys.stderr,
        )
    if not args.quiet:
        print(f"tracked {summary.frames} frames, {summary.ids} ids")
        for name, path in summary.outputs.items():
            print(f"{name:>5}: {path}")
        print(summary.stage_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
