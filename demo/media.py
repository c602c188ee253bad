"""Browser-playable video: re-encode the tracker's MP4 as H.264 with PyAV.

OpenCV writes ``mp4v`` (MPEG-4 Part 2), which Chrome and Firefox refuse to play. PyAV (a
dependency of supervision) ships FFmpeg with libx264, so the demo transcodes the annotated video to
H.264 High profile, yuv420p, with the index at the front (``+faststart``) so playback starts before
the whole file has arrived. No ffmpeg binary is needed.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from cgclip.errors import UserError
from cgclip.io.atomic import atomic_path


def transcode_h264(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, crf: int = 23
) -> Path:
    """Re-encode ``src`` (any video FFmpeg decodes) to an H.264 ``dst`` .mp4, atomically.

    Odd frame sizes are cropped by one pixel (yuv420p needs even sides). Returns ``dst``.
    """
    import av

    dst = Path(dst)
    try:
        with av.open(str(src)) as inp:
            if not inp.streams.video:
                raise UserError(f"{src}: has no video stream to re-encode")
            stream_in = inp.streams.video[0]
            rate = Fraction(stream_in.average_rate or stream_in.guessed_rate or 25)
            width = stream_in.codec_context.width // 2 * 2
            height = stream_in.codec_context.height // 2 * 2
            with (
                atomic_path(dst) as tmp,
                av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out,
            ):
                stream = out.add_stream("libx264", rate=rate)
                stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                stream.options = {"crf": str(crf), "preset": "veryfast"}
                for index, frame in enumerate(inp.decode(stream_in)):
                    frame = frame.reformat(width=width, height=height, format="yuv420p")
                    frame.pts, frame.time_base = index, Fraction(1) / rate  # constant frame rate
                    for packet in stream.encode(frame):
                        out.mux(packet)
                for packet in stream.encode():  # flush the encoder's delayed frames
                    out.mux(packet)
    except av.FFmpegError as err:
        raise UserError(f"{src}: cannot re-encode the video for the browser ({err})") from None
    return dst


BROWSER_CODECS = ("h264", "vp8", "vp9", "av1")  # what Chrome and Firefox play in MP4 / WebM
BROWSER_CONTAINERS = (".mp4", ".m4v", ".webm", ".mov")


def video_codec(path: str | os.PathLike[str]) -> str | None:
    """FFmpeg's name for the first video stream's codec (``h264``, ``mpeg4``, ...); None when the
    file has no video stream or FFmpeg cannot open it."""
    import av

    try:
        with av.open(str(path)) as inp:
            if not inp.streams.video:
                return None
            return inp.streams.video[0].codec_context.name
    except (av.FFmpegError, OSError):
        return None


def is_browser_playable(path: str | os.PathLike[str]) -> bool:
    """Whether browsers play the file as it is: H.264/VP8/VP9/AV1 in MP4, MOV or WebM. AVI,
    MPEG-4 Part 2 (``mpeg4``, OpenCV's ``mp4v``), MPEG-2 and the like are not."""
    if Path(path).suffix.lower() not in BROWSER_CONTAINERS:
        return False
    return video_codec(path) in BROWSER_CODECS


CODEC_NAMES = {"mpeg4": "MPEG-4 Part 2", "msmpeg4v3": "DivX 3", "mpeg2video": "MPEG-2"}


def browser_preview(
    src: str | os.PathLike[str], folder: str | os.PathLike[str]
) -> tuple[Path | None, str]:
    """An H.264 copy of an upload that browsers cannot play, for the upload box to preview.

    Returns ``(preview, note)``: ``(None, "")`` when ``src`` plays as it is; otherwise the copy in
    ``folder`` (named ``<stem>.preview.mp4``) and a sentence for the visitor. Where even the copy
    cannot be made, ``(None, note)`` says that the clip will still be tracked.
    """
    src = Path(src)
    if is_browser_playable(src):
        return None, ""
    codec = video_codec(src)
    if codec is None:  # not a video FFmpeg reads: tracking will say so in one line
        return None, ""
    what = f"{CODEC_NAMES.get(codec, codec)} in {src.suffix.lstrip('.').upper() or 'a file'}"
    dst = Path(folder) / f"{src.stem}.preview.mp4"
    try:
        transcode_h264(src, dst, crf=28)
    except UserError:
        return None, (
            f"Browsers cannot play this clip ({what}), so there is no preview; it will "
            "still be tracked, and the tracked video plays."
        )
    return dst, (
        f"Browsers cannot play this clip ({what}): the preview is an H.264 copy; the clip "
        "is tracked from your original file."
    )
