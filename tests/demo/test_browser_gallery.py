"""The demo's identity gallery, timeline and text search in a real headless browser.

A server offering two tiny checkpoints: ``tiny`` (TFE) and ``notext`` (a text tower that maps
every text to one feature). Same requirements as tests/demo/test_browser.py.
"""

from __future__ import annotations

import re
import shutil
import time

import pytest

from tests.demo.browser import new_page, require_browser, serve, shot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gallery_server(tiny_checkpoint, make_tiny_model, tmp_path_factory):
    """A server offering ``tiny`` (TFE) and ``notext`` (mean pooling, a text tower that maps
    every text to the same feature: raw search would still rank every id)."""
    require_browser()
    import torch

    import cgclip
    from demo.reid import ReidRegistry

    folder = tmp_path_factory.mktemp("gallery-ckpts")
    shutil.copy(tiny_checkpoint, folder / "tiny.safetensors")
    shutil.copy(tiny_checkpoint.with_suffix(".json"), folder / "tiny.json")
    notext = make_tiny_model(seed=4, pooling="mean")
    with torch.no_grad():
        notext.text_encoder.token_embedding.weight.zero_()
        notext.text_encoder.positional_embedding.zero_()
    cgclip.save_checkpoint(notext, folder / "notext.safetensors", meta={"note": "tests"})
    registry = ReidRegistry(folder)
    with serve(folder, tmp_path_factory.mktemp("sample"), registry) as url:
        yield url, registry


def _track_sample(page, model: str) -> int:
    page.get_by_role("button", name="Use the sample clip").click()
    page.locator("#det-file", has_text="det.txt").wait_for()
    page.locator("#clip video").wait_for()
    page.locator("#reid input").click()
    page.get_by_role("option", name=f"{model} (CG-CLIP checkpoint)").click()
    page.locator("#track").click()
    page.locator("#status", has_text="Tracked 40 frames").wait_for()
    page.locator("#timeline img").wait_for()
    return page.locator("#identities img").count()


def _video_time(page) -> float:
    return page.evaluate("() => document.querySelector('#tracked-video video').currentTime")


def _wait_video_time(page, expected: float, tol: float = 0.03) -> float:
    deadline = time.monotonic() + 20
    t = _video_time(page)
    while abs(t - expected) > tol and time.monotonic() < deadline:
        time.sleep(0.1)
        t = _video_time(page)
    return t


def test_gallery_captions_timeline_seek_and_attention_strip(browser, gallery_server):
    url, registry = gallery_server
    page = new_page(browser, url)
    n_ids = _track_sample(page, "tiny")
    assert n_ids >= 6
    deadline = time.monotonic() + 60  # the null captions are encoded after tracking, unasked
    while "ckpt:tiny" not in registry._null and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "ckpt:tiny" in registry._null

    # Captions: "#id · first–last", shown whole (not cut with an ellipsis).
    labels = page.locator("#identities .caption-label")
    assert labels.count() == n_ids
    for i in range(n_ids):
        label = labels.nth(i)
        assert re.fullmatch(r"#\d+ · \d+–\d+", label.inner_text().strip())
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    # The timeline: one readable row per identity, at page width.
    size = page.locator("#timeline img").evaluate(
        "e => ({w: e.naturalWidth, h: e.naturalHeight, cw: e.clientWidth})"
    )
    assert size["h"] >= n_ids * 18 and size["cw"] >= 0.85 * size["w"]
    # No large empty area: the gallery is as tall as its rows of tiles, not a fixed box.
    tile = page.locator("#identities img").first.bounding_box()
    gallery = page.locator("#identities").bounding_box()
    rows = -(-n_ids // 8)
    assert gallery["height"] < rows * (tile["height"] + 16) + 90

    # Click the second identity: the video seeks to its first appearance, segments listed.
    caption = labels.nth(1).inner_text().strip()
    tid, first = re.match(r"#(\d+) · (\d+)–", caption).groups()
    page.locator("#identities img").nth(1).click()
    page.locator("#identity-info", has_text=f"#{tid}:").wait_for()
    info = page.locator("#identity-info").inner_text()
    assert f"frames {first}–" in info and "segment" in info
    assert _wait_video_time(page, (int(first) - 1) / 25) == pytest.approx(
        (int(first) - 1) / 25, abs=0.03
    )

    # The attention strip of that identity (TFE): one cell per frame, with the note.
    page.locator("#attention img").wait_for()
    note = page.locator("#attention-note").inner_text()
    assert note.startswith(f"#{tid}: ") and "TFE attention" in note and "counted most" in note
    strip = page.locator("#attention img").evaluate("e => [e.naturalWidth, e.naturalHeight]")
    n_frames = int(re.search(r"(\d+) frames in", info).group(1))
    # up to 8 of its live frames: the dance preset backfills at most 1 tentative frame
    assert 72 * min(8, n_frames - 1) <= strip[0] <= 72 * min(8, n_frames)

    # A click on the timeline's last row, three quarters along: that id, that frame.
    box = page.locator("#timeline img").bounding_box()
    scale = box["width"] / size["w"]
    last_tid = re.match(r"#(\d+)", labels.nth(n_ids - 1).inner_text()).group(1)
    from demo.gallery import TimelineLayout

    lay = TimelineLayout()
    x = lay.x_of(30, 40) + 2
    y = lay.top + (n_ids - 1) * lay.row_h + lay.row_h // 2
    page.locator("#timeline img").click(position={"x": x * scale, "y": y * scale})
    page.locator("#identity-info", has_text=f"#{last_tid}:").wait_for()
    jumped = int(
        re.search(
            r"the video is at frame (\d+)", page.locator("#identity-info").inner_text()
        ).group(1)
    )
    info = page.locator("#identity-info").inner_text()
    runs = [(int(a), int(b)) for a, b in re.findall(r"frames (\d+)–(\d+)", info)]
    nearest = min((f for run in runs for f in run), key=lambda f: (abs(f - 30), f))
    clicked = 30 if any(a - 1 <= 30 <= b + 1 for a, b in runs) else nearest
    assert abs(jumped - clicked) <= 1 and any(a <= jumped <= b for a, b in runs)
    assert _wait_video_time(page, (jumped - 1) / 25) == pytest.approx((jumped - 1) / 25, abs=0.03)

    shot(page, "gallery")
    page.close()


def test_no_good_match_and_no_tfe_said_so(browser, gallery_server):
    page = new_page(browser, gallery_server[0])
    _track_sample(page, "notext")

    # Every text gets the same feature: raw cosines would rank all ids, calibration says no.
    page.locator("#query textarea").fill("a red car")
    page.locator("#search").click()
    page.locator("#search-status", has_text="No good match").wait_for()
    status = page.locator("#search-status").inner_text()
    assert status.startswith("No good match for “a red car”") and "unrelated captions" in status
    assert "random-init" in status and page.locator("#matches img").count() == 0

    page.locator("#identities img").first.click()
    page.locator("#attention-note", has_text="no TFE").wait_for()
    assert page.locator("#attention img").count() == 0
    shot(page, "search-no-match")
    page.close()
