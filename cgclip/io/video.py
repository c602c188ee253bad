"""Video reading as a frame generator, and atomic video writing.

:func:`open_video` accepts a video file (anything OpenCV's FFmpeg backend decodes), a folder of
images (a MOTChallenge ``img1`` folder, or a sequence folder holding one), a webcam index
(``"0"``) or a stream URL (``rtsp://``, ``rtmp://``, ``http(s)://``, ``udp://``, ...; OpenCV's
FFmpeg first, PyAV when OpenCV cannot open it), so every tool runs on the sample MP4 clips, the
official dataset layouts and live cameras. A live source announces no frame count
(``info.frame_count == 0``): it runs until it ends or is interrupted. Frames are BGR ``uint8`` arrays of
shape ``(H, W, 3)``, produced one at a time so memory stays flat over any video length.

A video file that ends before its container says it should (a copy cut short, a broken stream)
is not an error: the frames up to the break are good. The reader counts what it read and says
whether the video was :attr:`VideoReader.truncated`, so callers can warn and record it.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from cgclip.errors import UserError
from cgclip.io.atomic import atomic_path

log = logging.getLogger(__name__)

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
# Some containers only estimate their frame count; a shortfall within this share is no break.
FRAME_COUNT_SLACK = 0.01
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def stream_kind(source: object) -> str | None:
    """``"webcam"`` for a camera index (``0``, ``"1"``), ``"url"`` for a stream URL
    (``rtsp://``, ``http://``, ...), ``None`` for a path (a file or an image folder)."""
    if isinstance(source, int) and not isinstance(source, bool):
        return "webcam"
    if isinstance(source, str):
        if source.isdigit():
            return "webcam"
        if _URL.match(source):
            return "url"
    return None


def open_capture(target: int | str):
    """An opened ``cv2.VideoCapture``-like reader of a webcam index or URL, or ``None``.

    OpenCV first; for a URL OpenCV cannot open, PyAV. Tests replace this function to feed a
    fake camera."""
    cap = cv2.VideoCapture(target)
    if cap.isOpened():
        return cap
    cap.release()
    if isinstance(target, str):
        try:
            return _AvCapture(target)
        except Exception as err:  # no PyAV, or FFmpeg cannot open it either
            log.debug("PyAV cannot open %s: %s", target, err)
    return None


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int  # 0 when the container does not say

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``, the order OpenCV's writer wants."""
        return self.width, self.height


class VideoReader:
    """Iterate over the frames of a video file or an image folder; validates on open.

    Raises :class:`UserError` for a missing path, a file that is not a decodable video, or a
    video with no readable frames. ``frames_read`` counts the frames served; ``truncated`` says
    whether the video ended before the frame count its container announced.
    """

    def __init__(self, source: str | os.PathLike[str] | int) -> None:
        self.stream = stream_kind(source)  # "webcam", "url" or None (a path)
        self.path = Path(str(source))
        self._images: list[Path] | None = None
        self._cap: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None
        self.frames_read = 0
        self.ended = False  # iterated to the end of the file (not stopped early by the caller)
        if self.stream:
            self.info = self._open_stream(str(source))
            return
        if not self.path.exists():
            raise UserError(f"{self.path}: no such video file or image folder")
        if self.path.is_dir():
            self.info = self._open_image_folder()
        else:
            self.info = self._open_video_file()

    def _open_image_folder(self) -> VideoInfo:
        folder = self.path / "img1" if (self.path / "img1").is_dir() else self.path
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not images:
            raise UserError(f"{folder}: folder holds no images ({', '.join(IMAGE_EXTS)})")
        first = cv2.imread(str(images[0]))
        if first is None:
            raise UserError(
                f"{images[0]}: cannot decode image; the file is corrupt or not an image"
            )
        fps = 30.0
        seqinfo = folder.parent / "seqinfo.ini" if folder.name == "img1" else folder / "seqinfo.ini"
        if seqinfo.is_file():
            from cgclip.io.mot import read_seqinfo

            fps = read_seqinfo(seqinfo).frame_rate
        self._images = images
        self._first = first
        h, w = first.shape[:2]
        return VideoInfo(width=w, height=h, fps=fps, frame_count=len(images))

    def _open_stream(self, source: str) -> VideoInfo:
        what = f"camera {source}" if self.stream == "webcam" else source
        cap = open_capture(int(source) if self.stream == "webcam" else source)
        if cap is None:
            todo = (
                "check that a camera with this index is connected and free"
                if self.stream == "webcam"
                else "check the URL, that the stream is up and reachable from this machine"
            )
            raise UserError(f"{what}: cannot open; {todo}")
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            raise UserError(f"{what}: opened, but no frame came; check that it is streaming")
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 30.0
        # A camera is live; a URL may be a whole file (a known count) or a live stream.
        count = 0 if self.stream == "webcam" else int(max(cap.get(cv2.CAP_PROP_FRAME_COUNT), 0))
        self._cap, self._first = cap, first
        h, w = first.shape[:2]
        return VideoInfo(width=w, height=h, fps=float(fps), frame_count=count)

    def _open_video_file(self) -> VideoInfo:
        if self.path.stat().st_size == 0:
            raise UserError(f"{self.path}: file is empty; give a video file (mp4, avi, mov, mkv)")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise UserError(
                f"{self.path}: cannot open as a video; the file is corrupt or not a video "
                "(expected mp4, avi, mov, mkv or a folder of images)"
            )
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            raise UserError(
                f"{self.path}: video has no readable frames; the file may be truncated or corrupt"
            )
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 30.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        stamped = timestamp_fps(self.path)
        if stamped is not None and abs(stamped - fps) > 0.1 * fps:
            log.warning(
                "%s: the header says %.3g fps but its frames are %.3g ms apart; tracking uses "
                "%.3g fps (speeds, lost-track buffers and gates are in seconds)",
                self.path,
                fps,
                1000.0 / stamped,
                stamped,
            )
            count, fps = int(round(count * stamped / fps)), stamped
        self._cap = cap
        self._first = first
        h, w = first.shape[:2]
        return VideoInfo(width=w, height=h, fps=float(fps), frame_count=max(count, 0))

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._first is None:
            raise RuntimeError("VideoReader can be iterated once")
        first, self._first = self._first, None
        self.frames_read = 1
        yield first
        if self._images is not None:
            for img_path in self._images[1:]:
                frame = cv2.imread(str(img_path))
                if frame is None:
                    raise UserError(f"{img_path}: cannot decode image; the file is corrupt")
                self.frames_read += 1
                yield frame
            self.ended = True
            return
        assert self._cap is not None
        while True:
            ok, frame = self._cap.read()
            if not ok:
                break
            self.frames_read += 1
            yield frame
        self.ended = True
        self.close()

    @property
    def truncated(self) -> bool:
        """The video ended (was read to its end) short of the frame count its container gave."""
        expected = self.info.frame_count
        return self.ended and expected > 0 and self.frames_read < expected * (1 - FRAME_COUNT_SLACK)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def timestamp_fps(path: Path, packets: int = 48) -> float | None:
    """The frame rate the first ``packets`` packets' timestamps show (median spacing), or
    ``None`` when they cannot be read. Some files carry a wrong rate in their header (a real
    pedestrian clip: 50 fps announced for frames 40 ms apart), and the tracker's seconds, gates
    and buffers follow the rate; reading packets needs no decoding."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            packets_read = itertools.islice(container.demux(stream), packets)
            pts = [p.pts for p in packets_read if p.pts is not None]
            base = stream.time_base
    except (av.error.FFmpegError, IndexError, OSError):
        return None
    if len(pts) < 3 or base is None:
        return None
    steps = np.diff(np.unique(pts)) * float(base)
    step = float(np.median(steps)) if len(steps) else 0.0
    return 1.0 / step if 0.0 < step < 10.0 else None


def open_video(source: str | os.PathLike[str] | int) -> VideoReader:
    """Open a video file, image folder, webcam index or stream URL (see :class:`VideoReader`)."""
    return VideoReader(source)


class _AvCapture:
    """The part of ``cv2.VideoCapture`` :class:`VideoReader` uses, over PyAV (FFmpeg)."""

    def __init__(self, url: str) -> None:
        import av

        self.container = av.open(url, timeout=10.0)
        try:
            self.video = self.container.streams.video[0]
        except IndexError:
            self.container.close()
            raise ValueError(f"{url}: no video stream") from None
        self.frames = self.container.decode(self.video)

    def isOpened(self) -> bool:  # noqa: N802 - cv2's name
        return self.container is not None

    def read(self) -> tuple[bool, np.ndarray | None]:
        try:
            return True, next(self.frames).to_ndarray(format="bgr24")
        except (StopIteration, OSError, ValueError):
            return False, None

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_FPS:
            return float(self.video.average_rate or 0.0)
        if prop == cv2.CAP_PROP_FRAME_COUNT:
            return float(self.video.frames or 0)
        return 0.0

    def release(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None


class VideoWriter:
    """Write BGR frames to an MP4 atomically: the file appears only once closed cleanly.

    ``codec="h264"`` encodes H.264 (yuv420p, index at the front) with PyAV's FFmpeg, which
    browsers and players take; where libx264 is missing it says so once and writes ``mp4v``
    (MPEG-4 Part 2) with OpenCV, as any other ``codec`` (a FourCC) does. H.264 needs even
    sides: an odd last row or column is cropped. Use as a context manager; if the block raises,
    the partial file is discarded and any previous file at ``path`` is left untouched.
    """

    def __init__(
        self, path: str | os.PathLike[str], fps: float, size: tuple[int, int], codec: str = "mp4v"
    ) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.size = (int(size[0]), int(size[1]))
        self.codec = codec
        self._ctx = atomic_path(self.path)
        self._writer: _Cv2Encoder | _AvEncoder | None = None
        self.frames_written = 0

    def __enter__(self) -> VideoWriter:
        tmp = self._ctx.__enter__()
        try:
            self._writer = self._open(tmp)
        except BaseException as exc:  # the temp file goes, and nothing replaces the destination
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def _open(self, tmp: Path) -> _Cv2Encoder | _AvEncoder:
        if self.codec == "h264":
            try:
                return _AvEncoder(tmp, self.fps, self.size)
            except Exception as err:  # no PyAV, or an FFmpeg without libx264
                log.warning(
                    "%s: cannot encode H.264 here (%s); writing MPEG-4 Part 2 (mp4v), which "
                    "browsers may not play",
                    self.path,
                    err,
                )
                self.codec = "mp4v"
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*self.codec), self.fps, self.size)
        if not writer.isOpened():
            raise UserError(f"{self.path}: cannot open a video writer (codec {self.codec!r})")
        return _Cv2Encoder(writer)

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            raise RuntimeError("VideoWriter.write called outside its with-block")
        if frame.shape[1] != self.size[0] or frame.shape[0] != self.size[1]:
            frame = cv2.resize(frame, self.size)
        self._writer.write(np.ascontiguousarray(frame))
        self.frames_written += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        try:
            if self._writer is not None:
                self._writer.close(finish=exc_type is None)
                self._writer = None
        except BaseException as err:  # finishing the file failed: discard it, report that
            self._ctx.__exit__(type(err), err, err.__traceback__)
            raise
        return self._ctx.__exit__(exc_type, exc, tb)


class _Cv2Encoder:
    def __init__(self, writer: cv2.VideoWriter) -> None:
        self.writer = writer

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(frame)

    def close(self, finish: bool) -> None:
        self.writer.release()


class _AvEncoder:
    """H.264 through PyAV (FFmpeg's libx264), constant frame rate."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        import av

        self.av = av
        self.rate = Fraction(fps).limit_denominator(1001)
        self.width, self.height = size[0] // 2 * 2, size[1] // 2 * 2
        self.out = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        try:
            self.stream = self.out.add_stream("libx264", rate=self.rate)
            self.stream.width, self.stream.height = self.width, self.height
            self.stream.pix_fmt = "yuv420p"
            self.stream.options = {"crf": "23", "preset": "veryfast"}
        except BaseException:
            self.out.close()
            raise
        self.index = 0

    def write(self, frame: np.ndarray) -> None:
        image = np.ascontiguousarray(frame[: self.height, : self.width])
        vf = self.av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        vf.pts, vf.time_base = self.index, 1 / self.rate
        self.index += 1
        for packet in self.stream.encode(vf):
            self.out.mux(packet)

    def close(self, finish: bool) -> None:
        try:
            if finish:
                for packet in self.stream.encode():  # the encoder's delayed frames
                    self.out.mux(packet)
        finally:
            self.out.close()
