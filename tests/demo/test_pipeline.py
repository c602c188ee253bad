"""demo.pipeline.process_clip on the sample clip: outputs, gallery, embeddings, limits, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import demo.pipeline as pipeline
from cgclip.errors import UserError
from cgclip.io.video import open_video
from cgclip.model import crop_boxes
from demo.gallery import CROP_H, TILE_W, TIMELINE_H
from demo.pipeline import HOG, PUBLIC, YOLO, Limits, process_clip
from demo.reid import ReidRegistry, cls_features, rank_tracks, text_aligned
from tracker.config import load_preset


@pytest.fixture(scope="module")
def registry(tiny_checkpoints: Path) -> ReidRegistry:
    return ReidRegistry(tiny_checkpoints)


@pytest.fixture(scope="module")
def motion_run(demo_sample, registry, tmp_path_factory):
    video, det = demo_sample
    work = tmp_path_factory.mktemp("work-motion")
    calls: list[tuple[float, str]] = []
    result = process_clip(
        video,
        work_dir=work,
        registry=registry,
        detector=PUBLIC,
        detections=det,
        preset="dance",
        progress=lambda f, d: calls.append((f, d)),
    )
    return result, work, calls


@pytest.fixture(scope="module")
def reid_run(demo_sample, registry, tmp_path_factory):
    video, det = demo_sample
    work = tmp_path_factory.mktemp("work-reid")
    result = process_clip(
        video,
        work_dir=work,
        registry=registry,
        detector=PUBLIC,
        detections=det,
        reid="ckpt:tiny",
        preset="dance",
    )
    return result, work


def test_outputs_are_written_and_consistent(motion_run):
    import av

    result, work, _ = motion_run
    assert result.summary.frames == 40 and result.fps == 25.0
    names = sorted(p.name for p in work.iterdir())
    stem = "dance_sample"
    assert names == sorted(
        [
            f"{stem}.mp4",  # the copy of the upload
            "det.txt",  # the copy of the uploaded det.txt
            f"{stem}.tracked.mp4",
            f"{stem}.mot.txt",
            f"{stem}.tracks.json",
        ]
    )  # the intermediate mp4v file is gone
    assert result.files == [work / f"{stem}.tracked.mp4", work / f"{stem}.mot.txt", result.json]
    with av.open(str(result.video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.pix_fmt == "yuv420p"
        assert (stream.width, stream.height) == (640, 360) and stream.average_rate == 25
        assert sum(1 for _ in container.decode(stream)) == 40
    doc = json.loads(result.json.read_text())
    rows = np.loadtxt(result.mot, delimiter=",", ndmin=2)
    assert len(rows) == sum(len(f["objects"]) for f in doc["frames"]) > 0
    assert set(rows[:, 1].astype(int)) == {int(k) for k in doc["tracks"]}


def test_gallery_has_one_tile_per_track(motion_run):
    result, _, _ = motion_run
    doc = json.loads(result.json.read_text())
    assert [i.track_id for i in result.identities] == sorted(int(k) for k in doc["tracks"])
    assert result.summary.ids >= len(result.identities) >= 6  # the sample has 8 dancers
    for ident in result.identities:
        track = doc["tracks"][str(ident.track_id)]
        assert (ident.first_frame, ident.last_frame, ident.frames) == (
            track["first_frame"],
            track["last_frame"],
            track["frames"],
        )
        assert ident.caption == f"#{ident.track_id} · {ident.first_frame}–{ident.last_frame}"
        # segments: the frames the JSON reports the id in, as runs
        reported = [
            f["frame"]
            for f in doc["frames"]
            if any(o["id"] == ident.track_id for o in f["objects"])
        ]
        assert [f for a, b in ident.segments for f in range(a, b + 1)] == reported
        assert (
            ident.segments[0][0] == ident.first_frame and ident.segments[-1][1] == ident.last_frame
        )
        # the attention strip's crops, kept in the tracking pass: up to 8 of the frames the id
        # was live in (not the boxes backfilled from before its confirmation: the pass no longer
        # holds those frames), its first live frame and its last frame included
        strip_frames = [f for f, _ in ident.strip]
        assert strip_frames == sorted(set(strip_frames)) and set(strip_frames) <= set(reported)
        backfilled = reported.index(strip_frames[0])
        assert backfilled < load_preset("dance").min_hits
        assert len(strip_frames) == min(8, len(reported) - backfilled)
        assert strip_frames[-1] == reported[-1] and all(c.size > 0 for _, c in ident.strip)
        assert ident.tile.shape == (CROP_H + TIMELINE_H, TILE_W, 3)
        assert ident.tile.dtype == np.uint8 and ident.tile[:CROP_H].std() > 10  # a real crop


def test_progress_names_every_phase_in_order_with_time_left(motion_run):
    _, _, calls = motion_run
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    phases = [d.split(":")[0] for d in dict.fromkeys(d for _, d in calls)]
    assert list(dict.fromkeys(phases)) == [
        "checking the clip",
        "loading the detector",
        "starting",
        "tracking",
        "encoding video (H.264) and writing the result files",
        "building the identity gallery",
        "done",
    ]
    frames = [d for _, d in calls if d.startswith("tracking: frame")]
    assert frames[-1] == "tracking: frame 40 of 40"  # the last frame is always reported
    assert all(" of 40" in d for d in frames)


def test_motion_only_run_has_no_search_embeddings(motion_run):
    result, _, _ = motion_run
    assert result.embeddings is None and result.reid == "none"
    assert "Text search needs a ReID model" in result.status()
    assert result.summary.seconds["embed"] == 0.0


def test_a_clip_cut_short_is_a_warning_in_the_status(motion_run):
    import dataclasses

    result, _, _ = motion_run
    assert result.summary.complete and "Warning" not in result.status()
    cut = dataclasses.replace(result.summary, frames=22, frames_expected=60, complete=False)
    status = dataclasses.replace(result, summary=cut).status()
    assert "**Warning:** the clip ends after 22 of the 60 frames" in status


def test_checkpoint_run_keeps_text_aligned_embeddings(reid_run, registry):
    result, _ = reid_run
    model = registry.model("ckpt:tiny")
    assert result.summary.seconds["embed"] > 0  # the tracker used the CG-CLIP embedder
    assert result.track_ids == [i.track_id for i in result.identities]
    emb = result.embeddings
    assert emb.shape == (len(result.track_ids), model.config.embed_dim)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert len({tuple(np.round(row, 4)) for row in emb}) == len(emb)  # one per identity
    ranked = rank_tracks(model, "blue jersey number 10", result.track_ids, emb)
    text = model.encode_text(["blue jersey number 10"]).numpy()[0]
    expected = {tid: float(emb[i] @ text) for i, tid in enumerate(result.track_ids)}
    assert sorted(tid for tid, _ in ranked) == sorted(result.track_ids)
    for tid, score in ranked:
        assert score == pytest.approx(expected[tid], abs=1e-5)
    scores = [s for _, s in ranked]
    assert scores == sorted(scores, reverse=True)


def _run(tmp_path, registry, video, **kw):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return process_clip(video, work_dir=work, registry=registry, **kw)


def test_upload_size_limit(tmp_path, registry, demo_sample):
    video, det = demo_sample
    limits = Limits(max_upload_mb=0.01)
    with pytest.raises(UserError, match=r"MB; this demo takes files up to 0\.01 MB"):
        _run(tmp_path, registry, video, detector=PUBLIC, detections=det, limits=limits)
    assert not (tmp_path / "work" / "dance_sample.tracked.mp4").exists()


def test_duration_limit_is_checked_before_tracking(tmp_path, registry, demo_sample):
    video, det = demo_sample
    with pytest.raises(
        UserError, match=r"the clip is 1\.6 s long; this demo takes clips up to 1 s"
    ):
        _run(
            tmp_path, registry, video, detector=PUBLIC, detections=det, limits=Limits(max_seconds=1)
        )
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["dance_sample.mp4"]


def test_corrupt_upload_is_one_line_without_server_paths(tmp_path, registry, demo_sample):
    bad = tmp_path / "holiday.mp4"
    bad.write_bytes(b"\x00\x01 definitely not a video " * 200)
    with pytest.raises(UserError) as err:
        _run(tmp_path, registry, bad, detector=HOG)
    message = str(err.value)
    assert message.startswith("holiday.mp4: cannot open as a video")
    assert "\n" not in message and str(tmp_path) not in message


def test_wrong_file_type_and_missing_upload(tmp_path, registry, demo_sample):
    _, det = demo_sample
    with pytest.raises(UserError, match=r"'det\.txt' is not a video file"):
        _run(tmp_path, registry, det, detector=HOG)
    with pytest.raises(UserError, match="no clip: upload a video"):
        _run(tmp_path, registry, None, detector=HOG)
    with pytest.raises(UserError, match="no longer on the server"):
        _run(tmp_path, registry, tmp_path / "gone.mp4", detector=HOG)


def test_public_detections_need_a_valid_det_txt(tmp_path, registry, demo_sample):
    video, det = demo_sample
    with pytest.raises(UserError, match="public detections need a det.txt"):
        _run(tmp_path, registry, video, detector=PUBLIC, detections=None)
    bad = tmp_path / "mine.txt"
    bad.write_text(det.read_text().replace("0.99", "high", 1))
    with pytest.raises(UserError) as err:
        _run(tmp_path, registry, video, detector=PUBLIC, detections=bad)
    assert str(err.value).startswith("det.txt") and str(tmp_path) not in str(err.value)
    other = tmp_path / "other.txt"  # detections of a longer sequence
    other.write_text(det.read_text() + "900,-1,10,10,20,40,0.9,-1,-1,-1\n")
    with pytest.raises(UserError, match="is this the det.txt of another sequence"):
        _run(tmp_path, registry, video, detector=PUBLIC, detections=other)


def test_unknown_choices_are_rejected(tmp_path, registry, demo_sample):
    video, det = demo_sample
    with pytest.raises(UserError, match="unknown detector 'rcnn'"):
        _run(tmp_path, registry, video, detector="rcnn")
    with pytest.raises(UserError, match="unknown scene preset 'ballet'"):
        _run(tmp_path, registry, video, detector=HOG, preset="ballet")
    with pytest.raises(UserError, match="unknown ReID model '/etc/passwd'"):
        _run(tmp_path, registry, video, detector=PUBLIC, detections=det, reid="/etc/passwd")


def test_yolo_offline_names_the_page_controls(tmp_path, registry, demo_sample, monkeypatch):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)  # ultralytics looks for yolo11n.pt in the working directory
    monkeypatch.setattr(pipeline, "yolo_weights_local", lambda weights=YOLO: None)
    video, _ = demo_sample
    with pytest.raises(UserError) as err:
        _run(tmp_path, registry, video, detector=YOLO)
    message = str(err.value)
    assert "pick 'HOG people detector' as the Detector" in message
    assert "--" not in message  # no command-line flags for a web visitor


def test_default_detector_is_one_that_works(monkeypatch, tmp_path):
    import cgclip.io.net as net

    probes = []
    monkeypatch.setattr(net, "reachable", lambda host, **kw: probes.append(host) or False)
    monkeypatch.setattr(pipeline, "yolo_weights_local", lambda weights=YOLO: None)
    assert pipeline.default_detector() == HOG and probes == ["github.com"]
    monkeypatch.setattr(net, "reachable", lambda host, **kw: True)
    assert pipeline.default_detector() == YOLO  # downloads once
    monkeypatch.setattr(net, "reachable", lambda host, **kw: False)
    monkeypatch.setattr(pipeline, "yolo_weights_local", lambda weights=YOLO: tmp_path / YOLO)
    assert pipeline.default_detector() == YOLO  # weights on disk, no network needed


def test_upload_name_is_sanitised(tmp_path, registry, demo_sample):
    video, det = demo_sample
    odd = tmp_path / " my clip;rm -rf.MP4"
    shutil.copyfile(video, odd)
    result = _run(tmp_path, registry, odd, detector=PUBLIC, detections=det)
    assert result.video == tmp_path / "work" / "my_clip_rm_-rf.tracked.mp4"


def test_search_embedding_reuses_the_trackers_encoder_calls(reid_run, registry, demo_sample):
    """Re-derive one track's embedding with the gallery's old route (decode again, crop,
    ``cls_features``) from the frames the pass chose: the same vector up to float16. The
    tracker encodes the *detection* boxes (the presets report Kalman boxes), so the crops are
    cut from the det.txt box that overlaps the reported one most."""
    from cgclip.io.mot import read_mot, rows_to_xyxy
    from tracker.matching import box_iou

    result, work = reid_run
    model = registry.model("ckpt:tiny")
    dets = read_mot(demo_sample[1], kind="det")
    doc = json.loads(result.json.read_text())
    reported = {(f["frame"], o["id"]): o["box"] for f in doc["frames"] for o in f["objects"]}
    tid = result.track_ids[0]
    frames = result.tracks.feature_frames[tid]
    assert len(frames) == 4 and all((f, tid) in reported for f in frames)
    encoded = {}
    for f in frames:
        candidates = rows_to_xyxy(dets[dets[:, 0] == f])
        iou = box_iou(np.asarray([reported[f, tid]]), candidates)[0]
        encoded[f] = candidates[iou.argmax()]
    crops = [
        crop_boxes(frame, np.asarray([encoded[f]]), model.preprocess)
        for f, frame in enumerate(open_video(work / "dance_sample.mp4"), start=1)
        if f in frames
    ]
    expected = text_aligned(model, cls_features(model, torch.cat(crops)).mean(0, keepdims=True))
    assert float(result.embeddings[0] @ expected[0]) > 0.9999


def test_one_pass_decodes_once_and_encodes_only_for_the_tracker(
    demo_sample, registry, tmp_path, monkeypatch
):
    """The gallery and the search features come from the tracking pass: the video is decoded
    once (plus the header check) and the image encoder runs only when the tracker calls it."""
    import demo.reid
    from cgclip.io import video as video_io
    from tracker.embedding import CgclipEmbedder

    decoded = []
    real_iter = video_io.VideoReader.__iter__

    def counting_iter(self):
        for frame in real_iter(self):
            decoded.append(1)
            yield frame

    monkeypatch.setattr(video_io.VideoReader, "__iter__", counting_iter)
    tracker_calls = []
    real_embed = CgclipEmbedder.embed_frame
    monkeypatch.setattr(
        CgclipEmbedder,
        "embed_frame",
        lambda self, frame, boxes: (
            tracker_calls.append(len(boxes)) or real_embed(self, frame, boxes)
        ),
    )
    model = registry.model("ckpt:tiny")
    encoder_calls = []
    real_encode = model.encode_frames
    monkeypatch.setattr(
        model,
        "encode_frames",
        lambda crops, **kw: encoder_calls.append(len(crops)) or real_encode(crops, **kw),
    )
    monkeypatch.setattr(demo.reid, "cls_features", lambda *a, **k: pytest.fail("second encode"))
    video, det = demo_sample
    result = _run(
        tmp_path, registry, video, detector=PUBLIC, detections=det, reid="ckpt:tiny", preset="dance"
    )
    assert len(decoded) == 40  # every frame once
    assert sum(encoder_calls) == sum(tracker_calls) > 0  # no crop encoded outside the tracker
    assert len(result.embeddings) == len(result.track_ids) >= 6
    assert result.tracks.ids == [i.track_id for i in result.identities]


def test_cancel_stops_within_a_frame_and_leaves_no_result_files(demo_sample, registry, tmp_path):
    from demo.jobs import Cancelled, Job

    job = Job()
    seen = []

    def progress(fraction, desc):
        seen.append(desc)
        if desc.startswith("tracking: frame"):
            job.cancel("cancelled by the visitor")

    video, det = demo_sample
    with pytest.raises(Cancelled, match="cancelled by the visitor"):
        _run(
            tmp_path,
            registry,
            video,
            detector=PUBLIC,
            detections=det,
            preset="dance",
            progress=progress,
            job=job,
        )
    left = sorted(p.name for p in (tmp_path / "work").iterdir())
    assert left == ["dance_sample.mp4", "det.txt"]  # the partial MOT, JSON and video are gone
    assert not any("encoding video" in d for d in seen)
