"""The demo in a real headless browser (Playwright driving Debian's Chromium).

The app runs in this process on 127.0.0.1 (a free port) with a tiny random-init CG-CLIP
checkpoint. The test presses "Use the sample clip", picks the checkpoint, tracks, and checks the
page: the tracked video plays (H.264 decoded by Chromium), the identity gallery and the result
files appear, text search ranks the identities, and the request's temporary folder is gone.
Bad uploads (too large, not a video) show their one-line message in the page.

Needs Chromium at /usr/bin/chromium (``apt-get install -y chromium``) or $CGCLIP_CHROMIUM, and
the ``playwright`` package (dev extra). Without them the test fails saying so, unless
CGCLIP_SKIP_BROWSER=1 is set.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.demo.browser import new_page, request_dirs, serve, shot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tiny_checkpoints, tmp_path_factory):
    with serve(tiny_checkpoints, tmp_path_factory.mktemp("sample")) as url:
        yield url


@pytest.fixture()
def page(browser, server):
    page = new_page(browser, server)
    yield page
    page.close()


def test_sample_clip_tracked_with_gallery_video_files_and_search(page, tmp_path):
    before = request_dirs()
    page.get_by_role("button", name="Use the sample clip").click()
    page.locator("#det-file", has_text="det.txt").wait_for()
    page.locator("#clip video").wait_for()
    page.locator("#reid input").click()
    page.get_by_role("option", name="tiny (CG-CLIP checkpoint)").click()
    page.locator("#track").click()

    page.locator("#status", has_text="Tracked 40 frames").wait_for()
    page.locator("#identities img").first.wait_for()
    status = page.locator("#status").inner_text()
    assert "identities" in status and "Error" not in status
    n_ids = page.locator("#identities img").count()
    assert n_ids >= 6  # the sample has 8 dancers
    assert page.locator("#identities", has_text="#1 · 1–").count() == 1
    results = page.locator("#results").inner_text().replace("\n", "")  # name and suffix split
    for name in ("dance_sample.tracked.mp4", "dance_sample.mot.txt", "dance_sample.tracks.json"):
        assert name in results

    # The browser really decodes and plays the tracked video (H.264).
    playback = page.evaluate(
        """async () => {
            const v = document.querySelector('#tracked-video video');
            v.muted = true;
            await v.play();
            await new Promise(r => setTimeout(r, 1200));
            return {w: v.videoWidth, h: v.videoHeight, t: v.currentTime,
                    error: v.error && v.error.code, src: v.currentSrc};
        }"""
    )
    assert (playback["w"], playback["h"]) == (640, 360) and playback["error"] is None
    assert playback["t"] > 0.2 and playback["src"].endswith("dance_sample.tracked.mp4")

    page.locator("#query textarea").fill("blue jersey number 10")
    page.locator("#search").click()
    page.locator("#search-status", has_text="“blue jersey number 10”").wait_for()
    found = page.locator("#search-status").inner_text()
    # Only good matches are shown (random weights: possibly none); the page says which.
    if found.startswith("No good match"):
        assert page.locator("#matches img").count() == 0
    else:
        shown = int(found.split(" of ")[0])
        page.locator("#matches img").nth(shown - 1).wait_for()
        assert page.locator("#matches img").count() == shown <= n_ids
    assert "random-init" in found  # the tiny checkpoint's text tower was never trained

    png = tmp_path / "demo.png"
    page.screenshot(path=str(png), full_page=True)
    assert png.stat().st_size > 50_000
    if os.environ.get("CGCLIP_SCREENSHOT_DIR"):  # keep a copy to look at
        shutil.copy(png, Path(os.environ["CGCLIP_SCREENSHOT_DIR"]) / "demo_browser.png")

    deadline = time.monotonic() + 10  # the request folder goes once Gradio has the files
    while request_dirs() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not request_dirs() - before


def test_bad_uploads_show_a_message(page, tmp_path):
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (3 * 2**20))  # over the 2 MB limit: Gradio refuses the upload
    page.locator("#clip input[type=file]").set_input_files(str(big))
    page.get_by_text("exceed the maximum allowed size of 2.0 Mb").wait_for()

    page.reload()
    bad = tmp_path / "holiday.mp4"
    bad.write_bytes(b"not a video " * 100)
    page.locator("#clip input[type=file]").set_input_files(str(bad))
    page.locator("#clip video").wait_for(state="attached")
    page.locator("#track").click()
    page.locator("#status", has_text="Error").wait_for()
    message = page.locator("#status").inner_text()
    assert message.startswith("Error: holiday.mp4: cannot open as a video")
    assert "Traceback" not in page.content() and tempfile.gettempdir() not in message

    page.locator("#query textarea").fill("red shoes")
    page.locator("#search").click()
    page.locator("#search-status", has_text="Track a clip first").wait_for()


# ---------------------------------------------------------------- job control (helper demo-run)


class _SlowFrames:
    """Slows the tracking pass of the in-process server (``demo.pipeline.PhaseSink``) so a job
    lasts long enough to be cancelled, and counts the frames it tracked."""

    def __init__(self, monkeypatch, per_frame: float, at_exit: float = 0.0) -> None:
        import demo.pipeline
        from demo.jobs import PhaseSink

        self.frames = 0
        outer = self

        class Slow(PhaseSink):
            def write(self, result):
                super().write(result)  # the cancel check comes first
                outer.frames += 1
                time.sleep(per_frame)

            def __exit__(self, *exc):
                super().__exit__(*exc)
                time.sleep(at_exit)  # keeps the "encoding video" phase on screen

        monkeypatch.setattr(demo.pipeline, "PhaseSink", Slow)

    def settled(self, wait: float = 3.0) -> int:
        """Frames tracked once the count has stopped moving for ``wait`` seconds."""
        last = -1
        while last != self.frames:
            last = self.frames
            time.sleep(wait)
        return last


def _start_sample_job(page):
    page.get_by_role("button", name="Use the sample clip").click()
    page.locator("#det-file", has_text="det.txt").wait_for()
    page.locator("#clip video").wait_for()
    page.locator("#track").click()


def _wait_folders_gone(before: set[str], seconds: float = 10) -> set[str]:
    deadline = time.monotonic() + seconds
    while request_dirs() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    return request_dirs() - before


def test_progress_names_phases_and_time_left(page, monkeypatch):
    _SlowFrames(monkeypatch, per_frame=0.15, at_exit=2.0)
    _start_sample_job(page)
    progress = page.locator("#tracked-video")
    progress.get_by_text(re.compile(r"tracking: frame \d+ of 40, about \d+ s left")).wait_for()
    shot(page, "progress")
    progress.get_by_text("encoding video (H.264) and writing the result files").wait_for()
    page.locator("#status", has_text="Tracked 40 frames").wait_for()


def test_cancel_stops_the_job_frees_the_slot_and_removes_its_folder(page, monkeypatch):
    slow = _SlowFrames(monkeypatch, per_frame=0.3)
    before = request_dirs()
    _start_sample_job(page)
    page.locator("#tracked-video").get_by_text(re.compile(r"tracking: frame \d+")).wait_for()
    assert request_dirs() - before  # the job's folder exists while it runs
    page.locator("#cancel").click()
    page.locator("#status", has_text="Cancelled").wait_for()
    assert page.locator("#status").inner_text().startswith("Cancelled (cancelled by you)")
    shot(page, "cancelled")
    stopped = slow.settled()
    assert 0 < stopped < 40  # the job stopped part-way and stays stopped
    assert not _wait_folders_gone(before)
    monkeypatch.undo()  # full speed: the freed slot takes the next job at once
    page.locator("#track").click()
    page.locator("#status", has_text="Tracked 40 frames").wait_for()


def test_closing_the_tab_stops_its_job(browser, server, monkeypatch):
    slow = _SlowFrames(monkeypatch, per_frame=0.3)
    before = request_dirs()
    page = new_page(browser, server)
    _start_sample_job(page)
    page.locator("#tracked-video").get_by_text(re.compile(r"tracking: frame \d+")).wait_for()
    page.close()  # the visitor goes away mid-job
    stopped = slow.settled()
    assert 0 < stopped < 40
    assert not _wait_folders_gone(before)


def test_offline_models_are_explained_with_the_pages_controls(page):
    from cgclip.io.net import reachable
    from demo.pipeline import DETECTORS, default_detector

    if reachable("huggingface.co") or reachable("github.com"):
        pytest.skip("this machine is online: the offline messages cannot be shown")
    chosen = page.locator("#detector input").input_value()
    assert chosen == DETECTORS[default_detector()] == DETECTORS["hog"]  # one that works offline
    page.get_by_role("button", name="Use the sample clip").click()
    page.locator("#det-file", has_text="det.txt").wait_for()
    page.locator("#clip video").wait_for()

    page.locator("#reid input").click()
    page.get_by_role("option", name=re.compile(r"^clip \(pretrained")).click()
    started = time.monotonic()
    page.locator("#track").click()
    page.locator("#status", has_text="Error").wait_for()
    assert time.monotonic() - started < 20  # not minutes of download retries
    message = page.locator("#status").inner_text()
    assert "so the CLIP weights ViT-B-16/openai (open_clip_pytorch_model.bin) cannot be" in message
    assert "pick 'none' or a CG-CLIP checkpoint as the ReID model" in message
    assert "pretrained=" not in message and "http" not in message
    shot(page, "offline-clip")

    page.locator("#reid input").click()
    page.get_by_role("option", name="none (motion only)").click()
    page.locator("#detector input").click()
    page.get_by_role("option", name=DETECTORS["yolo11n.pt"]).click()
    page.locator("#track").click()
    page.locator("#status", has_text="YOLO11n").wait_for()
    message = page.locator("#status").inner_text()
    assert "pick 'HOG people detector' as the Detector" in message and "--" not in message
    shot(page, "offline-yolo")


def test_unplayable_upload_gets_an_h264_preview_and_is_tracked(page, demo_sample, tmp_path):
    import cv2

    from cgclip.io.video import open_video

    avi = tmp_path / "old camera.avi"  # MPEG-4 Part 2 in AVI: Chromium plays neither
    with open_video(demo_sample[0]) as reader:
        writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"mp4v"), 25, (640, 360))
        for frame in reader:
            writer.write(frame)
        writer.release()
    page.locator("#clip input[type=file]").set_input_files(str(avi))
    page.locator("#clip-note", has_text="the preview is an H.264 copy").wait_for()
    assert "MPEG-4 Part 2 in AVI" in page.locator("#clip-note").inner_text()
    page.wait_for_function(
        "() => { const v = document.querySelector('#clip video');"
        " return v && v.readyState >= 1 && v.videoWidth === 640; }"
    )
    page.get_by_text("Video not playable").wait_for(state="detached")  # the stale toast goes
    shot(page, "avi-preview")
    page.locator("#detector input").click()
    page.get_by_role("option", name=re.compile(r"^HOG")).click()
    page.locator("#track").click()
    page.locator("#status", has_text="Tracked 40 frames").wait_for()
    files = page.locator("#results").inner_text().replace("\n", "")
    assert "old_camera.tracked.mp4" in files  # the original file was tracked, not the preview
