"""The gallery, search and attention-strip side of the demo page (handlers and their state).

:mod:`demo.app` wires these to Gradio events; they take the session state that
:func:`gallery_state` builds from a :class:`demo.pipeline.DemoResult` and return component values.
A click on an identity (gallery tile, search result, timeline bar) lists its segments and puts the
time to seek to in a hidden number that :data:`SEEK_JS` applies to the video element (quick);
its attention strip follows in a second step, as it runs the model. Search ranks the features the
tracking pass collected (``DemoResult.embeddings``, from ``demo.collect.TrackResult.features``),
shows only the identities above their calibrated threshold (:func:`demo.reid.search_tracks`) and
says when the model's text side cannot be trusted.
"""

from __future__ import annotations

import re
from typing import Any

from cgclip.errors import UserError
from demo.gallery import (
    describe_segments,
    frame_time,
    render_strip,
    render_timeline,
    timeline_hit,
    track_color,
)
from demo.reid import (
    MATCH_QUANTILE,
    NULL_SIZE,
    ReidRegistry,
    frame_attention,
    search_tracks,
    tfe_note,
)

# Gallery captions wrap instead of being cut off ("#2 · frames 1–…"); the grid is as tall as its
# rows (Gradio's auto height keeps a 450 px minimum), with tall tiles fitting the tall crops.
CSS = """
#identities .caption-label, #matches .caption-label {
    white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
    max-width: none !important;
}
#identities .grid-wrap, #matches .grid-wrap { min-height: 0 !important; max-height: none !important; }
#identities .grid-container, #matches .grid-container {
    grid-template-columns: repeat(auto-fill, minmax(88px, 1fr)) !important;
    grid-template-rows: none !important; grid-auto-rows: auto !important;
}
#identities .thumbnail-item, #matches .thumbnail-item { aspect-ratio: 1 / 2 !important; }
"""
# Seek the tracked video to the time the select handlers put in the hidden #seek-time number.
SEEK_JS = """(t) => {
    const v = document.querySelector('#tracked-video video');
    if (v && t !== null && t !== undefined && t >= 0) { v.pause(); v.currentTime = t; }
    return t;
}"""
PICK_HINT = (
    "Click an identity (or a bar of the timeline) to jump the video to it and list its segments."
)


def md_escape(text: str) -> str:
    """Text shown literally in a Markdown component (file names and queries come from users)."""
    return re.sub(r"([\\`*_{}\[\]()<>#+!|~-])", r"\\\1", text)


def gallery_state(result: Any) -> dict[str, Any]:
    """What the gallery's click, timeline and strip handlers need, kept in the session state."""
    return {
        "fps": float(result.fps),
        "frames": int(result.summary.frames),
        "order": [i.track_id for i in result.identities],  # gallery and timeline rows
        "segments": {i.track_id: i.segments for i in result.identities},
        "strips": {i.track_id: i.strip for i in result.identities},
        "matches": [],
    }


def gallery_extras(state: dict[str, Any] | None) -> tuple:
    """-> (timeline image, identity hint, attention image update, attention note, search
    results update): a new clip starts with no strip and no search results shown."""
    import gradio as gr

    hidden = gr.update(value=None, visible=False)
    if not state or not state.get("order"):
        return None, "", hidden, "", _no_tiles()
    runs = {tid: state["segments"][tid] for tid in state["order"]}
    image = render_timeline(runs, state["frames"], state["fps"])
    return image, PICK_HINT, hidden, "", _no_tiles()


def pick(
    state: dict[str, Any] | None, ids: list[int], index: Any, frame: int | None = None
) -> tuple:
    """An identity was clicked (gallery tile, search result or timeline bar) -> (its segments,
    the time to seek the video to, its id for :func:`attention`). Without ``frame`` the video
    seeks to the identity's first appearance. Quick: the strip comes after, in its own step."""
    import gradio as gr

    if not state or not isinstance(index, int) or not 0 <= index < len(ids):
        return gr.skip(), gr.skip(), gr.skip()
    tid = int(ids[index])
    runs = state["segments"].get(tid, [])
    info = describe_segments(tid, runs, state["fps"], at=frame)
    target = frame if frame is not None else (runs[0][0] if runs else 1)
    return info, frame_time(target, state["fps"]), tid


def attention(registry: ReidRegistry, state: dict[str, Any] | None, tid: int | None) -> tuple:
    """The attention strip of ``tid`` (an image update) and its note; computed on click from
    the crops the tracking pass kept (one TFE pass over a few crops, no decoding)."""
    import gradio as gr

    if not state or tid is None:
        return gr.skip(), gr.skip()
    hidden = gr.update(value=None, visible=False)
    try:
        model = registry.model(state["reid"])
    except UserError as err:
        return hidden, f"**Error:** {md_escape(str(err))}"
    has_tfe, note = tfe_note(model)
    strip = state["strips"].get(tid, [])
    if not has_tfe:
        return hidden, note
    if not strip:
        return hidden, f"#{tid} has no crops for an attention strip."
    frames = [f for f, _ in strip]
    crops = [c for _, c in strip]
    weights = frame_attention(model, crops)
    image = render_strip(crops, frames, weights, track_color(tid))
    low = frames[int(weights.argmin())]
    high = frames[int(weights.argmax())]
    summary = (
        f"#{tid}: {len(frames)} frames from {frames[0]} to {frames[-1]}; frame {high} counted "
        f"most ({100 * weights.max():.0f}%), frame {low} least ({100 * weights.min():.0f}%)."
    )
    return gr.update(value=image, visible=True), f"{summary} {note}"


def search(registry: ReidRegistry, query: str, state: dict[str, Any] | None) -> tuple:
    """-> (result tiles, status markdown); only good matches are shown (see demo.reid)."""
    import gradio as gr

    if not state:
        return _no_tiles(), "Track a clip first, then search its identities.", gr.skip()
    if state["embeddings"] is None:
        return (
            [],
            (
                "Text search needs a ReID model: pick **clip** or a CG-CLIP checkpoint as the "
                "ReID model and track the clip again."
            ),
            gr.skip(),
        )
    try:
        model = registry.model(state["reid"])
        matches = search_tracks(
            model, query, state["ids"], state["embeddings"], registry.null_text(state["reid"])
        )
        note = registry.text_note(state["reid"])
    except UserError as err:
        return _no_tiles(), f"**Error:** {md_escape(str(err))}", gr.skip()
    q = md_escape(query.strip())
    good = [m for m in matches if m.good]
    state["matches"] = [m.track_id for m in good]
    how = (
        f"a good match beats {100 * MATCH_QUANTILE:g}% of the scores the identity gets from "
        f"{NULL_SIZE} unrelated captions"
    )
    if not matches:
        lines = ["No identities to search."]
    elif not good:
        best = matches[0]
        lines = [
            f"**No good match** for “{q}”: the closest, #{best.track_id}, scores "
            f"{best.score:+.3f}, below its threshold {best.threshold:+.3f} ({how})."
        ]
    else:
        lines = [
            f"{len(good)} of {len(matches)} identities match “{q}”, best first ({how}). "
            + ", ".join(
                f"#{m.track_id} {m.score:+.3f} (beats {100 * m.beats:.0f}%)" for m in good[:8]
            )
        ]
    if note:
        lines.append(f"**Note:** {note}.")
    tiles = [
        (state["tiles"][m.track_id], f"{rank}. #{m.track_id} · {m.score:+.2f}")
        for rank, m in enumerate(good, start=1)
    ]
    return gr.update(value=tiles, visible=bool(tiles)), "\n\n".join(lines), state


def timeline_pick(state: dict[str, Any] | None, index: Any) -> tuple:
    """A click at pixel ``index = [x, y]`` of the timeline image -> :func:`pick` of that row's
    identity, seeking to the clicked frame (or, off its bars, the nearest frame it is in)."""
    import gradio as gr

    if not state or not isinstance(index, (list, tuple)) or len(index) != 2:
        return gr.skip(), gr.skip(), gr.skip()
    hit = timeline_hit(index[0], index[1], state["order"], state["frames"])
    if hit is None:
        return gr.skip(), gr.skip(), gr.skip()
    tid, frame = hit
    runs = state["segments"].get(tid, [])
    if runs and not any(a <= frame <= b for a, b in runs):  # between bars: the nearest frame in
        frame = min((f for run in runs for f in run), key=lambda f: (abs(f - frame), f))
    return pick(state, [tid], 0, frame=frame)


def _no_tiles() -> Any:
    import gradio as gr

    return gr.update(value=[], visible=False)
