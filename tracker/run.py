"""``python -m tracker.run SOURCE``: detect, track and write an annotated MP4, MOT txt and JSON.

    python -m tracker.run match.mp4                                   # YOLO (yolo11n.pt), motion only
    python -m tracker.run seq/img1 --detections seq/det/det.txt --no-video   # public detections
    python -m tracker.run clip.mp4 --detector hog --preset dance --output-dir out/
    python -m tracker.run 0                                           # webcam 0, until Ctrl-C
    python -m tracker.run rtsp://cam.local/stream --output-dir runs/cam
    python -m tracker.run 'season/*.mp4' --output-dir runs/season     # one after another
    python -m tracker.run clip.mp4 --save-crops crops/clip --crops all    # a ReID training set

Frames stream from the decoder through the detector (in batches of ``--batch``) and the tracker
to the writers (:func:`tracker.pipeline.iter_tracked`), so memory stays flat for any video length.
Sources and where their outputs go: :mod:`tracker.sources`. Ctrl-C (or SIGTERM) keeps the results
up to the last complete frame, marked ``"complete": false`` (exit 130, or 143 for SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cgclip.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    ArgumentParser,
    Terminated,
    UserError,
    cli,
)
from cgclip.io.config import number_arg
from cgclip.io.runs import claim_outputs
from cgclip.threads import DECODER_SHARE, add_threads_argument, configure_threads
from tracker.config import TrackerConfig, load_preset, preset_names, read_config_yaml
from tracker.detectors import (
    DETECTOR_OPTIONS,
    Detector,
    check_detector_options,
    make_detector,
)
from tracker.embedding import Embedder, build_embedder
from tracker.outputs import JsonWriter, MotWriter, VideoAnnotator
from tracker.pipeline import STAGES, Sink, StageTimer, iter_tracked, open_source
from tracker.sources import DEFAULT_RUNS, Source, classify, domain_warning, stream_stem
from tracker.tracker import Tracker

__all__ = ["STAGES", "RunSummary", "default_outputs", "main", "track_video"]


@dataclass
class RunSummary:
    """What :func:`track_video` did: frames, ids, outputs and seconds spent per stage."""

    frames: int = 0
    ids: int = 0
    frames_expected: int | None = None  # what the container announced (up to max_frames)
    complete: bool = True  # False: truncated before frames_expected, or interrupted
    interrupted: str | None = None  # "interrupted" (Ctrl-C) or "terminated" (SIGTERM)
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
    crops_dir: str | Path | None = None,
    crops_mode: str = "best",
    keep_partial: bool = False,
    sinks: Sequence[Sink] = (),
) -> RunSummary:
    """Track one video (file, image folder, webcam index or stream URL) and write the requested
    outputs; ``crops_dir``: person crops per id (:mod:`tracker.crops`).

    The tracker runs at the video's frame rate. The MOT txt and JSON include each track's
    tentative boxes; the annotated video shows tracks from their confirmation
    (see :mod:`tracker.pipeline`). ``keep_partial``: Ctrl-C or SIGTERM publishes the outputs up to
    the last complete frame, marked ``"complete": false``, and returns with
    ``summary.interrupted`` set (without it, or before the first frame, the interrupt goes on and
    the partial files are removed). ``sinks``: more sinks fed in the same pass, after the file
    writers (they are entered last and so closed first: e.g. the demo's gallery collector and its
    progress/cancel sink)."""
    summary = RunSummary()
    timer = StageTimer()
    source = open_source(str(video))
    stopped: list[str] = []  # set when an interrupt ended the run
    try:
        info = source.info
        tracker = Tracker(config, embedder=embedder, frame_rate=info.fps, image_size=info.size)
        meta = {"video": str(video), "fps": info.fps, "width": info.width, "height": info.height}
        meta["reid"] = getattr(embedder, "name", type(embedder).__name__) if embedder else "none"
        total = info.frame_count or None
        if max_frames:
            total = min(total or max_frames, max_frames)
        extra, sinks = list(sinks), []
        if out_mot:
            sinks.append(MotWriter(out_mot))
        if out_json:
            meta["config"] = config.to_dict()
            js = JsonWriter(out_json, meta=meta, image_size=info.size)
            # Known only when the last frame is read, just before the files are published.
            js.footer = lambda: {
                "complete": not source.truncated() and not stopped,
                "frames_read": js.frames_written,
                "frames_expected": total,
                "interrupted": bool(stopped),
            }
            sinks.append(js)
        if out_video:
            sinks.append(VideoAnnotator(out_video, fps=info.fps, size=info.size, timer=timer))
        if crops_dir:
            from tracker.crops import CropWriter

            about = {k: meta[k] for k in ("video", "fps", "width", "height")}
            crops = CropWriter(crops_dir, crops_mode, image_size=info.size, meta=about)
            crops.footer = lambda: {"complete": not source.truncated() and not stopped}
            sinks.append(crops)
        sinks += extra
    except BaseException:
        source.close()
        raise

    def on_stop(err: BaseException, written: int) -> None:  # before the files are finished
        stopped.append(_why(err))
        summary.frames = written

    frames = iter_tracked(
        source,
        detector,
        tracker,
        sinks=sinks,
        max_frames=max_frames,
        timer=timer,
        progress=source.name if progress else False,
        keep_partial=keep_partial,
        on_stop=on_stop,
    )
    try:
        with contextlib.closing(frames):  # a signal between frames still unwinds the writers
            for result in frames:
                summary.frames = result.frame_id
    except KeyboardInterrupt as err:
        if not stopped:  # before the first frame, or without keep_partial: nothing was kept
            raise
        stopped[:] = [_why(err)]  # the consumer's interrupt reached the loop as its closing
    summary.interrupted = stopped[0] if stopped else None
    summary.ids = tracker.ids_assigned
    summary.seconds = timer.seconds
    summary.frames_expected = total
    summary.complete = not source.truncated() and not stopped
    paths = (("mot", out_mot), ("json", out_json), ("video", out_video), ("crops", crops_dir))
    for name, path in paths:
        if path:
            summary.outputs[name] = str(path)
    return summary


def _why(err: BaseException) -> str:
    return "terminated" if isinstance(err, Terminated) else "interrupted"


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
    return named_outputs(output_dir if output_dir is not None else folder, stem)


def named_outputs(folder: Path, stem: str) -> dict[str, Path]:
    """``folder/<stem>.tracked.mp4``, ``.mot.txt`` and ``.tracks.json``."""
    return {
        "video": folder / f"{stem}.tracked.mp4",
        "mot": folder / f"{stem}.mot.txt",
        "json": folder / f"{stem}.tracks.json",
    }


def source_outputs(source: Source, output_dir: Path | None) -> dict[str, Path]:
    """The outputs of one video: :func:`default_outputs` for a file or image folder; for a
    webcam or stream, ``<output_dir or runs>/<name>-<UTC start>.*`` (:mod:`tracker.sources`)."""
    if source.live:
        return named_outputs(output_dir or DEFAULT_RUNS, stream_stem(source))
    return default_outputs(Path(source.text), output_dir)


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m tracker.run",
        description="Detect people in a video, track them, and write an annotated MP4, a MOTChallenge txt and a JSON.",
    )
    p.add_argument(
        "video",
        metavar="SOURCE",
        help="video file (mp4, avi, mov, mkv), folder of frames (MOT img1), webcam index (0), "
        "stream URL (rtsp://, http(s)://), or a folder or quoted glob of videos (tracked one "
        "after another, as tracker.batch)",
    )
    p.add_argument(
        "--detector", default="yolo11n.pt", help="ultralytics weights (name or path) or 'hog'"
    )
    p.add_argument("--detections", help="replay a MOTChallenge det.txt instead of detecting")
    p.add_argument(
        "--trust-weights",
        action="store_true",
        default=None,  # None: not given (an error with detectors that load no weights file)
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
    p.add_argument(
        "--device",
        default="auto",
        help="torch device for the detector and ReID model: auto (CUDA when present, else "
        "cpu), cpu, cuda or cuda:N",
    )
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
    # Detector options default to None ("not given"): the detector fills in its own default,
    # and one the chosen detector does not use is an error (tracker.detectors.cli_options).
    p.add_argument(
        "--conf",
        type=number_arg("[0, 1]"),
        help="detector confidence floor (YOLO: default 0.1; HOG: default none; --detections: "
        "drops rows below it)",
    )
    p.add_argument(
        "--batch", type=number_arg("[1, inf)", int), help="frames per detector call (YOLO, 8)"
    )
    p.add_argument("--imgsz", type=number_arg("[32, 16384]", int), help="YOLO inference size (640)")
    p.add_argument(
        "--hog-upscale",
        type=number_arg("[0.25, 4]"),
        help="--detector hog: resize frames by this factor first; HOG finds people from ~100 "
        "pixels tall, so 2 finds people from ~50 pixels (about 4x slower), and 0.5 is faster on "
        "HD video of tall people (default 1.5 up to 720 pixels high, 1 above)",
    )
    p.add_argument(
        "--output-dir",
        type=Path,
        help="folder for the outputs (default: next to the input file; runs/ for a webcam or "
        "stream; runs/<folder> for a folder or glob of videos)",
    )
    p.add_argument("--out-video", type=Path, help="annotated MP4 path")
    p.add_argument("--out-mot", type=Path, help="MOTChallenge results txt path")
    p.add_argument("--out-json", type=Path, help="JSON results path")
    p.add_argument("--no-video", action="store_true", help="skip the annotated video")
    p.add_argument(
        "--save-crops",
        type=Path,
        metavar="DIR",
        help="write person crops per id to DIR/<id>/<frame>.jpg (a ReID training set: "
        "cgclip dataset 'crops')",
    )
    p.add_argument(
        "--crops",
        choices=["best", "all"],
        default="best",
        help="with --save-crops: each id's best crop (default), or every crop",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace outputs left by an earlier run"
    )
    p.add_argument(
        "--max-frames", type=number_arg("[1, inf)", int), help="stop after this many frames"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_threads_argument(p)
    return p


def _device(args: argparse.Namespace) -> str:
    """``--device`` resolved (``auto``: CUDA when present, else cpu) and printed, when anything
    runs on it: YOLO or a ReID model. Replayed or HOG detections with ``--reid none`` never
    import torch."""
    uses_torch = args.reid.strip().lower() != "none" or (
        args.detections is None and args.detector.lower() != "hog"
    )
    if not uses_torch:
        return "cpu"
    from cgclip.runtime.load import device_line, resolve_device

    device = str(resolve_device(args.device))
    if not args.quiet:
        print(device_line(args.device, device), file=sys.stderr)
    return device


def detector_options(options: argparse.Namespace) -> dict[str, Any]:
    """The detector options as given (``None``: not given, the detector's default applies)."""
    return {name: getattr(options, name, None) for name in DETECTOR_OPTIONS}


def detector_from_options(
    options: argparse.Namespace, *, detections: str | None, device: str
) -> Detector:
    """The detector the command-line options ask for (also used by ``tracker.batch``); an
    option the chosen detector does not use is a one-line error."""
    given = detector_options(options)
    check_detector_options(options.detector, detections, given)
    return make_detector(
        options.detector,
        detections=detections,
        conf=given["conf"],
        batch_size=given["batch"],
        imgsz=given["imgsz"],
        device=device,
        trust_weights=given["trust_weights"],
        hog_upscale=given["hog_upscale"],
    )


@cli
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_detector_options(args.detector, args.detections, detector_options(args))  # before work
    source = classify(args.video)
    if args.crops != "best" and args.save_crops is None:
        raise UserError("--crops chooses what --save-crops writes; give --save-crops DIR too")
    if source.kind == "many":
        from tracker.sources import track_many

        return track_many(args, source)
    # The decoder runs beside the detector and encoder pool.
    threads = configure_threads(args.threads, concurrent=DECODER_SHARE)
    if not args.quiet:
        print(threads.describe(), file=sys.stderr)
    defaults = source_outputs(source, args.output_dir)
    out_video = None if args.no_video else (args.out_video or defaults["video"])
    out_mot = args.out_mot or defaults["mot"]
    out_json = args.out_json or defaults["json"]
    claim_outputs([out_video, out_mot, out_json], overwrite=args.overwrite)  # before any work
    if args.save_crops is not None:
        from tracker.crops import claim_folder

        claim_folder(args.save_crops, overwrite=args.overwrite)
    overrides: dict[str, Any] = read_config_yaml(args.config) if args.config else {}
    config = load_preset(args.preset, **overrides)
    if args.reid.strip().lower() == "none" and (args.backend != "eager" or args.precision):
        raise UserError(
            "--backend and --precision choose how the ReID model runs, and --reid none loads "
            "no model: give a model with --reid, or drop them"
        )
    device = _device(args)
    embedder = build_embedder(
        args.reid, device=device, backend=args.backend, precision=args.precision
    )
    warning = domain_warning(args.reid, source)
    if warning:  # shown even with --quiet: the ids it gives here are not to be trusted
        print(warning, file=sys.stderr)
    if args.detections and args.detector != "yolo11n.pt":
        print(
            f"note: replaying {args.detections}; --detector {args.detector} is not used",
            file=sys.stderr,
        )
    detector = detector_from_options(args, detections=args.detections, device=device)
    summary = track_video(
        source.text,
        detector=detector,
        config=config,
        embedder=embedder,
        out_mot=out_mot,
        out_json=out_json,
        out_video=out_video,
        max_frames=args.max_frames,
        progress=not args.quiet,
        crops_dir=args.save_crops,
        crops_mode=args.crops,
        keep_partial=True,
    )
    if summary.interrupted:  # one line, even with --quiet: these results cover part of the video
        kept = ", ".join(summary.outputs.values())
        print(
            f"{summary.interrupted}: kept the results of the {summary.frames} frames tracked "
            f'(the JSON says "complete": false): {kept}',
            file=sys.stderr,
        )
        return EXIT_TERMINATED if summary.interrupted == "terminated" else EXIT_INTERRUPTED
    if not summary.complete:  # a warning even with --quiet: these results cover part of the video
        print(
            f"warning: {source.text}: the video ends after {summary.frames} of the "
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
