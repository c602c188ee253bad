"""The one tracking loop: decode -> detect -> track -> sinks, one frame at a time.

    source = open_source("match.mp4")                  # or a MOT sequence folder, or frames
    tracker = Tracker(config, embedder=embedder, frame_rate=source.fps, image_size=source.info.size)
    with_files = [MotWriter("out.txt"), JsonWriter("out.json")]   # tracker.outputs
    for result in iter_tracked(source, detector, tracker, sinks=with_files):
        ...  # result.frame_id, result.frame, result.tracked (sv.Detections with tracker_id)

Every caller goes through :func:`iter_tracked`: ``tracker.run``, the demo, the benchmarks and
their tests. Frames are decoded, detected in the detector's batches, tracked and handed to the
sinks as they come, so memory stays flat over any video length. A :class:`StageTimer` counts the
seconds of each stage (decode, detect, embed, associate, draw, write).

**Live stream and files differ at track starts.** A new track is confirmed only after
``min_hits`` matched frames; the boxes it had while tentative are reported at that moment, in
:attr:`TrackedFrame.backfill`, under its new id. What :func:`iter_tracked` yields
(``result.tracked``) and the annotated video are live and cannot go back: a person appears there
from the frame the track is confirmed. The MOT txt and JSON sinks hold the last
``backfill_horizon`` (``min_hits - 1``) frames before writing and put the backfilled boxes in their
frames, so the files have the person from their first detected frame.

Sinks are context managers with ``write(result: TrackedFrame)``. :func:`iter_tracked` opens
them and closes them after the last frame, which publishes the files; if the loop stops early
(an error, or the consumer leaving the loop) every partial file is discarded.

**Partial results** (``keep_partial=True``, what ``tracker.run`` asks for): an interrupt
(Ctrl-C, or SIGTERM under :func:`cgclip.errors.cli`) or the consumer leaving the loop closes the
sinks normally, so the files hold every frame that all sinks received, and then the interrupt
goes on. Signals wait while the sinks write a frame and while they finish, so no file ends in the
middle of a frame. An error still discards the files, and so does an interrupt before the first
frame reached the sinks.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import supervision as sv
from tqdm import tqdm

from cgclip.io.mot import read_seqinfo
from cgclip.io.video import VideoInfo, open_video, stream_kind
from tracker.detectors import Detector
from tracker.embedding import Embedder, FrameFeatures
from tracker.tracker import Tracker

STAGES = ("decode", "detect", "embed", "associate", "draw", "write")


class StageTimer:
    """Seconds spent per stage: ``with timer("detect"): ...``.

    Stages nest and each second is counted once, in the innermost stage: the embedder runs
    inside ``associate`` (``tracker.update``) and drawing inside ``write``, and both are counted
    apart from them.
    """

    def __init__(self, stages: Sequence[str] = STAGES) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(stages, 0.0)
        self._inner: list[float] = []  # per open stage: seconds spent in stages inside it

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        self._inner.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            inner = self._inner.pop()
            self.seconds[stage] = self.seconds.get(stage, 0.0) + elapsed - inner
            if self._inner:
                self._inner[-1] += elapsed


class _TimedEmbedder:
    """The tracker's embedder with its calls counted as the ``embed`` stage."""

    def __init__(self, inner: Embedder, timer: StageTimer) -> None:
        self.inner, self.timer = inner, timer

    def embed_frame(self, frame: np.ndarray, boxes_xyxy: np.ndarray) -> FrameFeatures:
        with self.timer("embed"):
            return self.inner.embed_frame(frame, boxes_xyxy)

    def embed_tracklets(self, windows: Sequence[Any]) -> np.ndarray:
        with self.timer("embed"):
            return self.inner.embed_tracklets(windows)

    def __getattr__(self, name: str) -> Any:  # name, model, ... of the wrapped embedder
        return getattr(self.inner, name)


@dataclass(frozen=True)
class TrackedFrame:
    """One frame through the tracker.

    ``tracked``: the confirmed tracks matched in this frame (the live stream).
    ``backfill``: ``(earlier frame_id, sv.Detections)`` boxes of tracks confirmed in this frame,
    from while they were tentative, with their new ids; at most ``backfill_horizon`` frames back.
    """

    frame_id: int  # 1-based, MOTChallenge numbering
    frame: np.ndarray | None  # BGR (H, W, 3); None when the source does not decode
    tracked: sv.Detections
    backfill: list[tuple[int, sv.Detections]]
    backfill_horizon: int


class Sink(Protocol):
    """An output fed frame by frame; entered before the first frame, exited after the last."""

    def __enter__(self) -> Any: ...

    def __exit__(self, exc_type, exc, tb) -> bool | None: ...

    def write(self, result: TrackedFrame) -> None: ...


@dataclass
class FrameSource:
    """Frames and what is known about them (``info.fps`` sets the tracker's ``frame_rate``)."""

    frames: Iterable[np.ndarray | None]
    info: VideoInfo
    name: str = ""
    close: Callable[[], None] = lambda: None
    # True once a video has ended short of the frame count its container announced.
    truncated: Callable[[], bool] = lambda: False

    @property
    def fps(self) -> float:
        return self.info.fps


def open_source(
    source: str | os.PathLike[str] | FrameSource | Iterable[np.ndarray],
    *,
    decode: bool = True,
    placeholder: np.ndarray | None = None,
    fps: float = 30.0,
) -> FrameSource:
    """A :class:`FrameSource` from a video file, an image folder (MOT ``img1`` or its sequence),
    a webcam index (``"0"``) or stream URL (``rtsp://``, ``http(s)://``; see
    :mod:`cgclip.io.video`), or an iterable of frames (at ``fps``).

    ``decode=False`` (a MOT sequence folder only) reads no image: it yields ``placeholder`` for
    each of the ``seqLength`` frames, for trackers that need no pixels (replayed detections and
    features without camera-motion compensation). The frame rate comes from ``seqinfo.ini``.
    """
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, (str, os.PathLike)):
        kind = stream_kind(source)
        if kind is not None:  # a webcam index or a stream URL: decoded, as it comes
            reader = open_video(source)
            name = f"camera {source}" if kind == "webcam" else str(source)
            return FrameSource(reader, reader.info, name, reader.close, lambda: reader.truncated)
        path = Path(source)
        if decode:
            reader = open_video(path)
            return FrameSource(
                reader, reader.info, path.name, reader.close, lambda: reader.truncated
            )
        seq = read_seqinfo(path.parent if path.name == "img1" else path)
        info = VideoInfo(seq.im_width, seq.im_height, seq.frame_rate, seq.seq_length)
        return FrameSource(itertools.repeat(placeholder, seq.seq_length), info, seq.name)
    frames = iter(source)
    first = next(frames, None)
    if first is None:
        raise ValueError("open_source: the frame iterable is empty")
    count = len(source) if hasattr(source, "__len__") else 0
    info = VideoInfo(first.shape[1], first.shape[0], float(fps), count)
    return FrameSource(itertools.chain([first], frames), info, "frames")


@contextlib.contextmanager
def signals_deferred(active: bool = True) -> Iterator[None]:
    """Hold SIGINT and SIGTERM inside the block; one that arrived is delivered to the previous
    handler as the block ends. Main thread only (elsewhere, and with ``active=False``, a no-op)."""
    if not active or threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    if None in previous.values():  # a handler set outside Python: it cannot be put back
        yield
        return
    for sig in previous:
        signal.signal(sig, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if held:  # the first signal, now, to the handler it was meant for
            signal.raise_signal(held[0])


def iter_tracked(
    source: str | os.PathLike[str] | FrameSource | Iterable[np.ndarray],
    detector: Detector,
    tracker: Tracker,
    *,
    sinks: Sequence[Sink] = (),
    max_frames: int | None = None,
    timer: StageTimer | None = None,
    progress: bool | str = False,
    keep_partial: bool = False,
    on_stop: Callable[[BaseException, int], None] | None = None,
) -> Iterator[TrackedFrame]:
    """Track ``source`` frame by frame; yields a :class:`TrackedFrame` per frame after the sinks
    have it. ``progress``: show a bar (a string names it). The detector checks the source first
    when it can (``detector.check_video(info)``, e.g. a det.txt longer than the video).
    ``keep_partial``: an interrupt or an early exit publishes the frames done (module doc);
    ``on_stop(exception, frames_written)`` is called first, so the sinks' footers can say so."""
    src = open_source(source)
    max_frames = max_frames or None  # 0 means no limit, as on the command line
    timer = timer if timer is not None else StageTimer()
    total = src.info.frame_count or None
    if max_frames is not None:
        total = min(total or max_frames, max_frames)
    embedder = tracker.embedder
    with contextlib.ExitStack() as stack:
        stack.callback(src.close)
        check = getattr(detector, "check_video", None)
        if check is not None:
            check(src.info)
        desc = progress if isinstance(progress, str) else src.name
        bar = tqdm(total=total, unit="frame", desc=desc, disable=not progress, leave=False)
        stack.callback(bar.close)
        if embedder is not None:
            tracker.embedder = _TimedEmbedder(embedder, timer)
            stack.callback(setattr, tracker, "embedder", embedder)
        outputs = stack.enter_context(contextlib.ExitStack())  # error -> partial files dropped
        for sink in sinks:
            outputs.enter_context(sink)
        written = [0]  # frames every sink has
        try:
            yield from _track_frames(
                src, detector, tracker, sinks, max_frames, timer, bar, written, keep_partial
            )
        except (KeyboardInterrupt, GeneratorExit):
            if keep_partial and written[0]:
                if on_stop is not None:
                    on_stop(sys.exc_info()[1], written[0])
                with timer("write"), signals_deferred():
                    outputs.close()  # the files, up to the last frame all sinks got
            raise
        with timer("write"), signals_deferred(keep_partial):
            outputs.close()  # flush the held frames and publish the files


def _track_frames(
    src: FrameSource,
    detector: Detector,
    tracker: Tracker,
    sinks: Sequence[Sink],
    max_frames: int | None,
    timer: StageTimer,
    bar: tqdm,
    written: list[int],
    keep_partial: bool,
) -> Iterator[TrackedFrame]:
    """The body of :func:`iter_tracked`: decode, detect, track, write; ``written[0]`` counts the
    frames every sink has."""
    frames = iter(src.frames)
    done = 0
    while max_frames is None or done < max_frames:
        want = max(int(detector.batch_size), 1)
        if max_frames is not None:
            want = min(want, max_frames - done)
        with timer("decode"):
            batch = list(itertools.islice(frames, want))
        if not batch:
            break
        ids = list(range(done + 1, done + 1 + len(batch)))
        with timer("detect"):
            dets = detector.detect(batch, ids)
        for fid, frame, det in zip(ids, batch, dets, strict=True):
            with timer("associate"):
                tracked = tracker.update(det, frame)
            shift = fid - tracker.frame_id  # 0 unless the tracker saw frames before
            result = TrackedFrame(
                fid,
                frame,
                tracked,
                [(f + shift, d) for f, d in tracker.backfill],
                tracker.backfill_horizon,
            )
            with timer("write"), signals_deferred(keep_partial):
                for sink in sinks:
                    sink.write(result)
                bar.update(1)
                written[0] += 1
            yield result
        done += len(batch)


class FrameTracker:
    """Detect and track one frame per call, as ultralytics' ``model.track(frame, persist=True)``:

        from tracker.detectors import make_detector
        from tracker.pipeline import FrameTracker
        track = FrameTracker(make_detector("yolo11n.pt"), Tracker.from_preset("sports"))
        for frame in frames:
            tracked = track(frame)  # sv.Detections of this frame, tracker_id set

    Frames are numbered from 1 per instance (``reset()`` starts over, with new ids). The live
    result cannot include a confirmed track's earlier boxes; they are in
    ``tracker.backfill`` after each call (see :class:`TrackedFrame`).
    """

    def __init__(self, detector: Detector, tracker: Tracker) -> None:
        self.detector, self.tracker = detector, tracker
        self.frame_id = 0

    def __call__(self, frame: np.ndarray) -> sv.Detections:
        self.frame_id += 1
        detections = self.detector.detect([frame], [self.frame_id])[0]
        return self.tracker.update(detections, frame)

    def reset(self) -> None:
        self.tracker.reset()
        self.frame_id = 0
