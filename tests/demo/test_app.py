"""The Blocks app as built (no server): queue, concurrency, choices, API surface."""

from __future__ import annotations

import pytest

from demo.app import DemoSettings, build_app


@pytest.fixture(scope="module")
def app(tiny_checkpoints, tmp_path_factory):
    settings = DemoSettings(
        checkpoints=tiny_checkpoints,
        concurrency=2,
        queue_size=5,
        sample_dir=tmp_path_factory.mktemp("sample"),
    )
    return build_app(settings)


def _component(app, elem_id):
    (block,) = [b for b in app.blocks.values() if getattr(b, "elem_id", None) == elem_id]
    return block


def test_queue_and_concurrency(app):
    assert app._queue.max_size == 5 and app._queue.default_concurrency_limit == 2
    fns = {f.name: f for f in app.fns.values()}
    assert fns["track"].concurrency_limit == 2
    assert fns["search"].concurrency_id == "search" and fns["search"].concurrency_limit == 4


def test_only_tracking_and_search_are_public_api(app):
    public = sorted(f.api_name for f in app.fns.values() if f.api_visibility == "public")
    assert public == ["search", "track"]


def test_choices_are_server_side_names(app):
    reid = _component(app, "reid")
    assert [v for _, v in reid.choices] == ["none", "clip", "ckpt:tiny"]
    assert not reid.allow_custom_value  # Gradio refuses values outside the list
    detector = _component(app, "detector")
    assert [v for _, v in detector.choices] == ["yolo11n.pt", "hog", "public"]
    assert [v for _, v in _component(app, "preset").choices] == ["dance", "default", "sports"]
    assert _component(app, "det-file").file_types == [".txt"]
    assert _component(app, "clip").sources == ["upload"]


def test_user_text_is_escaped_for_markdown():
    from demo.app import _error_outputs, _md_escape

    assert _md_escape("my_clip <b>x</b> *y* [z](w)") == r"my\_clip \<b\>x\</b\> \*y\* \[z\]\(w\)"
    assert _error_outputs("a_b.mp4: bad")[0] == r"**Error:** a\_b.mp4: bad"
