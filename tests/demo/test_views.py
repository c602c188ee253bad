"""demo.views without a browser: what a search and a click on an identity return."""

from __future__ import annotations

import numpy as np
import pytest

from demo.gallery import TimelineLayout
from demo.reid import ReidRegistry
from demo.views import attention, gallery_extras, pick, search, timeline_pick


@pytest.fixture(scope="module")
def registry(tiny_checkpoints):
    return ReidRegistry(tiny_checkpoints)


def _state(registry, k=5):
    model = registry.model("ckpt:tiny")
    ids = list(range(1, k + 1))
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 255, (90, 40, 3), dtype=np.uint8)
    return {
        "reid": "ckpt:tiny",
        "ids": ids,
        "embeddings": model.encode_text([f"person {i}" for i in ids]).numpy(),
        "tiles": {t: np.zeros((8, 4, 3), np.uint8) for t in ids},
        "fps": 25.0,
        "frames": 100,
        "order": ids,
        "segments": {t: [(10 * t, 50), (60, 100)] for t in ids},
        "strips": {t: [(f, crop) for f in (10, 30, 50, 70)] for t in ids},
        "matches": [],
    }


def test_search_shows_only_good_matches(registry):
    state = _state(registry)
    tiles, status, new_state = search(registry, "person 3", state)  # #3's embedding is this text
    assert tiles["visible"] and [c for _, c in tiles["value"]][0].startswith("1. #3 · +1.00")
    assert len(tiles["value"]) == len(new_state["matches"]) and new_state["matches"][0] == 3
    assert "identities match “person 3”" in status and "random-init" in status
    tiles, status, _ = search(registry, "", state)
    assert status.startswith("**Error:**") and not tiles["visible"]
    assert "Track a clip first" in search(registry, "x", None)[1]
    assert "needs a ReID model" in search(registry, "x", {**state, "embeddings": None})[1]


def test_click_lists_segments_seeks_and_draws_the_strip(registry):
    state = _state(registry)
    info, seek, tid = pick(state, state["order"], 1)  # #2
    assert tid == 2 and info.startswith("**#2**: 72 frames in 2 segments")
    assert "frames 20–50" in info and "first appearance (frame 20)" in info
    assert seek == pytest.approx(19 / 25)
    image, note = attention(registry, state, tid)
    assert image["visible"] and image["value"].shape[1] == 4 * 72
    assert note.startswith("#2: 4 frames from 10 to 70") and "TFE attention" in note
    info, seek, tid = timeline_pick(state, [400, 30 + 18 * 4 + 9])  # row 5
    assert tid == 5 and info.startswith("**#5**")
    frame = int(info.split("the video is at frame ")[1].split(" ")[0])
    assert 40 <= frame <= 60 and seek == pytest.approx((frame - 1) / 25)
    _, _, tid = timeline_pick(state, [TimelineLayout().x_of(55, 100) + 1, 30 + 18 * 4 + 9])
    assert tid == 5  # #5 is in frames 50-50 and 60-100: frame 55 is between its bars
    info, seek, _ = timeline_pick(state, [TimelineLayout().x_of(57, 100) + 1, 30 + 18 * 4 + 9])
    assert "the video is at frame 60" in info and seek == pytest.approx(59 / 25)
    skip = {"__type__": "update"}  # gr.skip(): nothing changes
    assert pick(state, state["order"], 99) == (skip, skip, skip)
    assert timeline_pick(state, [400, 5]) == (skip, skip, skip)  # above the rows
    assert attention(registry, state, None) == (skip, skip)


def test_extras_draw_the_timeline_and_hide_old_results(registry):
    state = _state(registry)
    image, hint, strip, note, results = gallery_extras(state)
    assert image.shape[0] > 5 * 18 and "Click an identity" in hint
    assert not strip["visible"] and not results["visible"]
    assert gallery_extras(None)[0] is None
