"""The Gradio Blocks app: upload a clip, pick detector / ReID model / scene preset, get it tracked.

Wiring only; the work is :func:`demo.pipeline.process_clip`. Each request gets its own temporary
folder, removed once Gradio has copied the results into its cache (the handler is a generator:
the folder's ``with`` block closes when Gradio resumes it after the final yield) and removed at
once when the job is cancelled. Gradio's cache is itself swept hourly (``delete_cache``). Uploads
reach the handler only as Gradio cache files and are copied; ReID models are chosen by name from
the server's list.

Job control (:mod:`demo.jobs`): each tracking request registers a cancel flag under the visitor's
session. The Cancel button, the visitor closing or reloading the tab (Gradio's ``unload`` event,
fired when the page's heartbeat connection drops) and Ctrl-C on the server set it; the job stops
within one frame and its queue slot is free at once (``cancels=``). Progress names each phase
and, while tracking, the frames done and the time left.
"""

# No ``from __future__ import annotations`` here: Gradio fills a ``request: gr.Request``
# parameter by its annotation, which it must be able to evaluate (``gr`` is a local import).

import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cgclip.errors import UserError
from demo.jobs import Cancelled, JobRegistry
from demo.media import browser_preview
from demo.pipeline import (
    DETECTORS,
    PUBLIC,
    VIDEO_EXTS,
    DemoResult,
    Limits,
    default_detector,
    default_sample_dir,
    prepare_sample,
    process_clip,
)
from demo.reid import NONE, ReidRegistry
from demo.views import (
    CSS,
    PICK_HINT,
    SEEK_JS,
    attention,
    gallery_extras,
    gallery_state,
    pick,
    timeline_pick,
)
from demo.views import md_escape as _md_escape
from demo.views import search as search_identities
from tracker.config import preset_names

log = logging.getLogger(__name__)

# Gradio's video element raises a "Video not playable" toast for an AVI / MPEG-4 Part 2 upload
# before the H.264 preview replaces it; once the preview is there, that toast is wrong.
DISMISS_UNPLAYABLE_JS = """() => {
  for (const toast of document.querySelectorAll('[data-testid="toast-body"]')) {
    if (toast.textContent.includes('Video not playable')) {
      toast.querySelector('[data-testid="toast-close"]')?.click();
    }
  }
}"""
SHUTDOWN_GRACE_S = 1.5  # Ctrl-C: how long a cancelled job may take to reach its next frame
TITLE = "cgclip-track: multi-person tracking with CG-CLIP re-identification"


@dataclass
class DemoSettings:
    """Server-side settings (the CLI's options); nothing here comes from a user."""

    checkpoints: Path | None = None
    limits: Limits = field(default_factory=Limits)
    device: str = "cpu"
    concurrency: int = 1  # tracking jobs run at once; the rest wait in the queue
    queue_size: int = 16  # waiting jobs beyond this are turned away
    sample_dir: Path = field(default_factory=default_sample_dir)
    sample_frames: int = 250
    clip_weights: Path | None = None
    search_crops: int = 4


def build_app(settings: DemoSettings | None = None, registry: ReidRegistry | None = None):
    """The demo as a ``gr.Blocks`` (queued), ready for :func:`launch`."""
    settings = settings or DemoSettings()
    registry = registry or ReidRegistry(
        settings.checkpoints, device=settings.device, clip_weights=settings.clip_weights
    )
    import gradio as gr

    sample_lock = threading.Lock()
    limits = settings.limits
    jobs = JobRegistry()

    def use_sample():
        with sample_lock:  # two visitors pressing the button at once share one generation
            video, det = prepare_sample(settings.sample_dir, settings.sample_frames)
        return str(video), str(det), PUBLIC, "dance"

    def preview(video):
        """An upload browsers cannot play (AVI, MPEG-4 Part 2) gets an H.264 preview; the
        original is remembered and is what gets tracked."""
        if not video:
            yield gr.skip(), "", None
            return
        with tempfile.TemporaryDirectory(prefix="cgclip-preview-") as folder:
            copy, note = browser_preview(video, folder)
            remember = {"preview": copy.name, "original": video} if copy is not None else None
            yield (str(copy) if copy is not None else gr.skip()), note, remember
            # the folder goes once Gradio has copied the preview into its cache

    def track(
        video,
        detector,
        det_file,
        reid,
        preset,
        upload,
        request: gr.Request,
        progress=gr.Progress(),
    ):
        if video and upload and Path(video).name == upload["preview"]:
            video = upload["original"]  # track the visitor's file, not the preview copy
        key = _session(request)
        job = jobs.start(key)
        try:
            with tempfile.TemporaryDirectory(prefix="cgclip-demo-") as work:
                job.folder = work
                try:
                    result = process_clip(
                        video,
                        work_dir=work,
                        registry=registry,
                        detector=detector,
                        detections=det_file,
                        reid=reid,
                        preset=preset,
                        limits=limits,
                        device=settings.device,
                        search_crops=settings.search_crops,
                        progress=lambda fraction, desc: progress(fraction, desc=desc),
                        job=job,
                    )
                except UserError as err:
                    outputs = _error_outputs(str(err))
                except Cancelled as why:
                    outputs = _cancelled_outputs(why.reason)
                else:  # the files must outlive this yield: Gradio copies them on resume
                    jobs.finish(key, job)
                    yield _result_outputs(result)
                    return
            yield outputs  # the folder is already gone (a cancelled job keeps nothing)
        finally:
            jobs.finish(key, job)

    def cancel(request: gr.Request):
        if jobs.cancel(_session(request), "cancelled by you"):
            return _cancelled_outputs("cancelled by you")[0]
        return "Nothing is being tracked (a request still waiting in the queue is withdrawn)."

    def leave(request: gr.Request):  # the tab was closed or reloaded: stop its job
        jobs.cancel(_session(request), "the page was closed")

    def search(query, state):
        return search_identities(registry, query, state)

    def pick_identity(state, evt: gr.SelectData):
        return pick(state, (state or {}).get("order", []), evt.index)

    def pick_match(state, evt: gr.SelectData):
        return pick(state, (state or {}).get("matches", []), evt.index)

    def pick_timeline(state, evt: gr.SelectData):
        return timeline_pick(state, evt.index)

    def show_strip(state, tid):
        return attention(registry, state, tid)

    def warm_search(state):
        if state and state.get("embeddings") is not None:
            registry.null_text(state["reid"])  # cached: a no-op after the model's first clip

    for handler in (pick_identity, pick_match, pick_timeline):
        # Gradio finds its SelectData argument by type hint; with postponed annotations the hint
        # is the string "gr.SelectData", which it cannot resolve here (gr is a local import).
        handler.__annotations__["evt"] = gr.SelectData

    # No telemetry or version check: servers may be offline, and visitors are not tracked.
    with gr.Blocks(
        title="cgclip-track demo", delete_cache=(1800, 3600), analytics_enabled=False
    ) as app:
        gr.Markdown(f"## {TITLE}")
        with gr.Row():
            with gr.Column(scale=1):
                video_in = gr.Video(label="Clip", sources=["upload"], elem_id="clip")
                clip_note = gr.Markdown(elem_id="clip-note")
                sample_btn = gr.Button("Use the sample clip", elem_id="use-sample")
                detector = gr.Dropdown(
                    [(label, value) for value, label in DETECTORS.items()],
                    value=default_detector(),  # HOG where YOLO cannot run
                    label="Detector",
                    elem_id="detector",
                )
                det_file = gr.File(
                    label="det.txt (for public detections)",
                    file_types=[".txt"],
                    elem_id="det-file",
                )
                reid = gr.Dropdown(
                    [(c.label, c.value) for c in registry.choices()],
                    value=NONE,
                    label="ReID model",
                    elem_id="reid",
                )
                preset = gr.Radio(
                    preset_names(), value="default", label="Scene preset", elem_id="preset"
                )
                with gr.Row():
                    run_btn = gr.Button("Track", variant="primary", elem_id="track", scale=3)
                    cancel_btn = gr.Button("Cancel", variant="stop", elem_id="cancel", scale=1)
                gr.Markdown(
                    f"Clips up to {limits.max_upload_mb:g} MB and {limits.max_seconds:g} s "
                    f"({', '.join(e.lstrip('.') for e in VIDEO_EXTS)}). Jobs run "
                    f"{settings.concurrency} at a time; others wait in a queue."
                )
            with gr.Column(scale=2):
                status = gr.Markdown(elem_id="status")
                video_out = gr.Video(
                    label="Tracked video", interactive=False, elem_id="tracked-video"
                )
                gallery = gr.Gallery(
                    label="Identities (best crop; click one to jump the video to it)",
                    columns=8,
                    height="auto",
                    object_fit="contain",
                    allow_preview=False,
                    fit_columns=False,  # a few ids stay thumbnail-sized, not page-wide
                    elem_id="identities",
                )
                identity_info = gr.Markdown(PICK_HINT, elem_id="identity-info")
                seek_time = gr.Number(visible=False, elem_id="seek-time")
                strip = gr.Image(
                    label="Attention strip: the frames that counted",
                    type="numpy",
                    interactive=False,
                    visible=False,
                    elem_id="attention",
                )
                attention_note = gr.Markdown(elem_id="attention-note")
                timeline = gr.Image(
                    label="Presence timeline (one row per identity; click to jump there)",
                    type="numpy",
                    interactive=False,
                    elem_id="timeline",
                )
                files = gr.File(
                    label="Results (annotated MP4, MOTChallenge txt, JSON)",
                    file_count="multiple",
                    interactive=False,
                    elem_id="results",
                )
                with gr.Row():
                    query = gr.Textbox(
                        label="Search identities by text",
                        placeholder="blue jersey number 10",
                        scale=4,
                        elem_id="query",
                    )
                    search_btn = gr.Button("Search", scale=1, elem_id="search")
                search_status = gr.Markdown(elem_id="search-status")
                search_out = gr.Gallery(
                    label="Search results (good matches only; click one to jump to it)",
                    columns=8,
                    height="auto",
                    object_fit="contain",
                    allow_preview=False,
                    fit_columns=False,
                    visible=False,  # shown with the first good match
                    elem_id="matches",
                )
        state = gr.State()
        upload = gr.State()  # {"preview": name, "original": path} for a re-encoded preview
        picked = gr.State()  # the identity last clicked, for its attention strip

        sample_btn.click(
            use_sample,
            outputs=[video_in, det_file, detector, preset],
            api_visibility="private",
            concurrency_limit=2,  # the lock inside makes later callers reuse the first one's clip
        )
        track_event = run_btn.click(
            track,
            inputs=[video_in, detector, det_file, reid, preset, upload],
            outputs=[status, video_out, gallery, files, state, search_out, search_status],
            api_name="track",
            concurrency_limit=settings.concurrency,
            show_progress_on=video_out,  # one progress bar (frames tracked), where the video goes
        )
        cancel_btn.click(  # never queued behind the job it stops
            cancel,
            outputs=[status],
            cancels=[track_event],  # frees the queue slot at once; the flag stops the thread
            api_visibility="private",
            concurrency_limit=None,
            concurrency_id="cancel",
        )
        app.unload(leave)
        video_in.upload(
            preview,
            inputs=[video_in],
            outputs=[video_in, clip_note, upload],
            api_visibility="private",
            concurrency_limit=2,
            concurrency_id="preview",
        ).then(None, js=DISMISS_UNPLAYABLE_JS)  # the preview plays now: drop the stale toast
        search_inputs = dict(  # a quick text-encoder pass: never queued behind tracking jobs
            inputs=[query, state],
            outputs=[search_out, search_status, state],  # state: which tiles the results are
            concurrency_limit=4,
            concurrency_id="search",
        )
        search_btn.click(search, api_name="search", **search_inputs)
        query.submit(search, api_visibility="private", **search_inputs)
        # The gallery's extras (timeline, hints) once the track job has filled the state.
        track_event.then(
            gallery_extras,
            inputs=[state],
            outputs=[timeline, identity_info, strip, attention_note, search_out],
            api_visibility="private",
            queue=False,
        ).then(
            warm_search,  # the model's null captions, before the visitor's first search
            inputs=[state],
            api_visibility="private",
            concurrency_limit=4,
            concurrency_id="search",
            show_progress="hidden",
        )
        for component, handler in (
            (gallery, pick_identity),
            (search_out, pick_match),
            (timeline, pick_timeline),
        ):
            component.select(
                handler,
                inputs=[state],
                outputs=[identity_info, seek_time, picked],
                api_visibility="private",
                queue=False,  # segments and seek at once; no model runs here
            ).then(None, inputs=[seek_time], js=SEEK_JS).then(
                show_strip,
                inputs=[state, picked],
                outputs=[strip, attention_note],
                api_visibility="private",
                concurrency_limit=4,
                concurrency_id="search",  # one image-encoder pass: never behind tracking jobs
            )
    app.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    app.cgclip_jobs = jobs  # for launch(): Ctrl-C cancels the running jobs
    return app


def launch(
    app: Any,
    settings: DemoSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
):
    """Serve ``app``: upload size capped by Gradio itself, the sample folder servable.

    ``block``: serve until Ctrl-C, which cancels the running jobs first (a job runs in a worker
    thread that the interpreter would otherwise wait for at exit), then closes the server. A job
    stops at its next frame; one still inside a slow frame after ``SHUTDOWN_GRACE_S`` has its
    request folder removed and the process exits without waiting for it.
    """
    settings.sample_dir.mkdir(parents=True, exist_ok=True)
    served = app.launch(
        server_name=host,
        server_port=port,
        max_file_size=int(settings.limits.max_upload_mb * 2**20),
        allowed_paths=[str(settings.sample_dir)],
        prevent_thread_lock=True,
        ssr_mode=False,
        css=CSS,
        show_error=False,  # unexpected errors: a generic message in the page, details in the log
        quiet=not block,
    )
    if not block:
        return served
    try:
        while app.is_running:
            time.sleep(0.1)
    except KeyboardInterrupt:
        jobs: JobRegistry | None = getattr(app, "cgclip_jobs", None)
        running = jobs.cancel_all() if jobs is not None else 0
        log.warning("stopping: %d running job(s) cancelled; closing the server", running)
        server = getattr(app, "server", None)
        if server is not None:  # drop open page connections instead of waiting on them
            server.force_exit = True
    finally:
        app.close(verbose=False)
    jobs = getattr(app, "cgclip_jobs", None)
    stuck = jobs.wait_idle(SHUTDOWN_GRACE_S) if jobs is not None else []
    if stuck:  # e.g. a HOG frame of several seconds: do not wait for it
        for job in stuck:
            if job.folder:
                shutil.rmtree(job.folder, ignore_errors=True)
        log.warning("stopped: %d job(s) left mid-frame, their folders removed", len(stuck))
        sys.stderr.flush()
        os._exit(130)
    return served


def _result_outputs(result: DemoResult) -> tuple:
    tiles = {i.track_id: i.tile for i in result.identities}
    state = {
        "reid": result.reid,
        "ids": result.track_ids,
        "embeddings": result.embeddings,
        "tiles": tiles,
        **gallery_state(result),
    }
    gallery = [(i.tile, i.caption) for i in result.identities]
    files = [str(p) for p in result.files]
    return result.status(), str(result.video), gallery, files, state, [], ""


def _session(request: Any) -> str:
    """The visitor's Gradio session (one per open tab); a call without one gets a key of its
    own (nothing can cancel it but Ctrl-C, and it replaces no other job)."""
    return str(getattr(request, "session_hash", None) or f"no-session-{uuid.uuid4().hex}")


def _cancelled_outputs(reason: str) -> tuple:
    message = f"**Cancelled** ({_md_escape(reason)}): nothing was kept; press Track to start again."
    return message, None, [], None, None, [], ""


def _error_outputs(message: str) -> tuple:
    return f"**Error:** {_md_escape(message)}", None, [], None, None, [], ""
