"""cgclip.io.video and cgclip.io.atomic."""

from __future__ import annotations

import numpy as np
import pytest

from cgclip.errors import UserError
from cgclip.io.atomic import atomic_path, atomic_write_json, atomic_write_text
from cgclip.io.video import VideoWriter, open_video


def _frames(n: int, w: int = 96, h: int = 64) -> list[np.ndarray]:
    return [np.full((h, w, 3), 20 * i, dtype=np.uint8) for i in range(n)]


def test_write_then_read_video(tmp_path):
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=12.5, size=(96, 64)) as writer:
        for frame in _frames(6):
            writer.write(frame)
    assert writer.frames_written == 6
    reader = open_video(path)
    assert (reader.info.width, reader.info.height) == (96, 64)
    assert reader.info.fps == pytest.approx(12.5)
    frames = list(reader)
    assert len(frames) == 6
    # Lossy codec, but flat grey levels survive closely.
    assert abs(float(frames[3].mean()) - 60) < 4


def test_failed_write_keeps_previous_file(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"previous")
    with pytest.raises(RuntimeError), VideoWriter(path, fps=10, size=(32, 32)) as writer:
        writer.write(np.zeros((32, 32, 3), np.uint8))
        raise RuntimeError("boom")
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_image_folder_reads_fps_from_seqinfo(tmp_path):
    import cv2

    (tmp_path / "img1").mkdir()
    for i, frame in enumerate(_frames(3), start=1):
        cv2.imwrite(str(tmp_path / "img1" / f"{i:06d}.jpg"), frame)
    (tmp_path / "seqinfo.ini").write_text(
        "[Sequence]\nname=s\nimDir=img1\nframeRate=7\nseqLength=3\nimWidth=96\nimHeight=64\nimExt=.jpg\n"
    )
    reader = open_video(tmp_path)
    assert reader.info.fps == 7 and reader.info.frame_count == 3
    assert len(list(reader)) == 3


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "no such video"),
        (b"", "file is empty"),
        (b"this is not a video at all" * 50, "cannot open as a video"),
    ],
)
def test_bad_videos_give_one_line_errors(tmp_path, content, needle):
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=needle) as err:
        open_video(path)
    assert "\n" not in str(err.value)


def test_truncated_video_is_reported(tmp_path):
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=10, size=(96, 64)) as writer:
        for frame in _frames(5):
            writer.write(frame)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 8])  # header without most of the payload
    with pytest.raises(UserError):
        list(open_video(path))


def cut_short_avi(path, frames: int = 60, keep: float = 0.5, size=(160, 120)):
    """An MJPG AVI whose header announces ``frames`` frames, cut to ``keep`` of its bytes (as a
    copy interrupted half-way): it opens and decodes, then ends early."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, size)
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def test_a_video_cut_short_reads_its_good_frames_and_says_truncated(tmp_path):
    reader = open_video(cut_short_avi(tmp_path / "cut.avi"))
    assert reader.info.frame_count == 60 and not reader.truncated
    frames = list(reader)
    assert 20 <= len(frames) == reader.frames_read < 40
    assert reader.ended and reader.truncated

    whole = open_video(cut_short_avi(tmp_path / "whole.avi", keep=1.0))
    assert len(list(whole)) == 60 and not whole.truncated
    stopped = open_video(cut_short_avi(tmp_path / "early.avi", keep=0.5))
    next(iter(stopped))
    assert not stopped.truncated  # the caller stopped; the video did not end


def test_empty_image_folder(tmp_path):
    with pytest.raises(UserError, match="holds no images"):
        open_video(tmp_path)


def test_atomic_write_replaces_and_cleans_up(tmp_path):
    target = tmp_path / "out" / "a.json"
    atomic_write_json(target, {"x": 1})
    assert target.read_text() == '{\n  "x": 1\n}\n'
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    with pytest.raises(ValueError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise ValueError
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.json"]


def test_atomic_files_get_the_umask_mode_not_0600(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "out.txt", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_writer_that_cannot_open_leaves_the_old_file_and_no_temp(tmp_path):
    from cgclip.errors import UserError
    from cgclip.io.video import VideoWriter

    dest = tmp_path / "clip.mp4"
    dest.write_bytes(b"earlier results")
    writer = VideoWriter(dest, fps=25, size=(64, 48), codec="ZZZZ")
    with pytest.raises(UserError, match="cannot open a video writer"), writer:
        pass
    assert dest.read_bytes() == b"earlier results"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_h264_output_plays_in_browsers_and_keeps_every_frame(tmp_path):
    import av

    from cgclip.io.video import VideoWriter

    dest = tmp_path / "clip.mp4"
    frames = [np.full((49, 65, 3), 20 * i, np.uint8) for i in range(6)]  # odd sides
    with VideoWriter(dest, fps=12.5, size=(65, 49), codec="h264") as writer:
        for f in frames:
            writer.write(f)
    with av.open(str(dest)) as video:
        stream = video.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (64, 48)
        assert float(stream.average_rate) == 12.5
        decoded = [fr.to_ndarray(format="bgr24") for fr in video.decode(stream)]
    assert len(decoded) == 6
    assert abs(int(decoded[3].mean()) - 60) <= 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_a_header_rate_the_timestamps_contradict_is_corrected(tmp_path, caplog):
    """An AVI whose header says 50 fps while its frames are two ticks of 1/50 s apart (25 fps),
    as a real pedestrian clip was: OpenCV reports the header; the reader uses the timestamps."""
    from fractions import Fraction

    import av
    import cv2

    path = tmp_path / "clip.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=50)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 50)
        for i, frame in enumerate(_frames(12, w=64, h=48) * 2 + _frames(6, w=64, h=48)):
            vf = av.VideoFrame.from_ndarray(frame, format="bgr24")
            vf.pts, vf.time_base = 2 * i, Fraction(1, 50)
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) == pytest.approx(50)
    with caplog.at_level("WARNING"):
        reader = open_video(path)
    assert reader.info.fps == pytest.approx(25) and reader.info.frame_count == 30
    assert "header says 50 fps but its frames are 40 ms apart" in caplog.text
    assert sum(1 for _ in reader) == 30
