"""demo.media: the annotated MP4 becomes H.264 that browsers play."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from cgclip.errors import UserError
from cgclip.io.video import VideoWriter, open_video
from demo.media import transcode_h264


def _frames(n, w, h):
    for i in range(n):  # a bright square moving right over a gradient
        frame = np.tile(np.linspace(0, 120, w, dtype=np.uint8)[None, :, None], (h, 1, 3))
        frame[10:30, 2 * i : 2 * i + 20] = (40, 220, 250)
        yield frame


def test_mp4v_becomes_h264_with_the_same_frames(tmp_path):
    src, dst = tmp_path / "raw.mp4", tmp_path / "out.mp4"
    with VideoWriter(src, fps=12, size=(65, 49)) as writer:  # odd sides, OpenCV's mp4v
        for frame in _frames(10, 65, 49):
            writer.write(frame)
    assert transcode_h264(src, dst) == dst
    with av.open(str(dst)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.pix_fmt == "yuv420p"
        assert (stream.width, stream.height) == (64, 48)  # yuv420p wants even sides
        assert stream.average_rate == 12
    assert dst.read_bytes()[4:8] == b"ftyp" and b"moov" in dst.read_bytes()[:4096]  # faststart
    decoded = list(open_video(dst))
    assert len(decoded) == 10
    for got, want in zip(decoded, _frames(10, 65, 49), strict=True):
        err = np.abs(got.astype(int) - cv2.resize(want, (64, 48)).astype(int)).mean()
        assert err < 12  # two lossy codecs in a row, same picture


def test_unreadable_input_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 50)
    with pytest.raises(UserError, match="cannot re-encode the video for the browser"):
        transcode_h264(bad, tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]  # nothing half-written


def test_unplayable_uploads_get_an_h264_preview(tmp_path, monkeypatch):
    import demo.media
    from demo.media import browser_preview, is_browser_playable, video_codec

    avi = tmp_path / "old.avi"  # MPEG-4 Part 2 in AVI
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for frame in _frames(6, 64, 48):
        writer.write(frame)
    writer.release()
    h264 = transcode_h264(avi, tmp_path / "fine.mp4")
    assert video_codec(avi) == "mpeg4" and not is_browser_playable(avi)
    assert video_codec(h264) == "h264" and is_browser_playable(h264)
    assert browser_preview(h264, tmp_path) == (None, "")  # plays as it is: no copy

    with monkeypatch.context() as m:  # an FFmpeg without libx264: say it is tracked anyway

        def no_encoder(*args, **kwargs):
            raise UserError("no H.264 encoder")

        m.setattr(demo.media, "transcode_h264", no_encoder)
        preview, note = browser_preview(avi, tmp_path / "previews")
    assert preview is None and "there is no preview; it will still be tracked" in note

    preview, note = browser_preview(avi, tmp_path / "previews")
    assert preview == tmp_path / "previews" / "old.preview.mp4" and is_browser_playable(preview)
    assert note.startswith("Browsers cannot play this clip (MPEG-4 Part 2 in AVI)")
    with open_video(preview) as reader:
        assert sum(1 for _ in reader) == 6

    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 50)
    assert video_codec(junk) is None and browser_preview(junk, tmp_path) == (None, "")
