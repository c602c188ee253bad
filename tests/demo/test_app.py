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
    assert [v for _, v in _component(app, "preset").choices] == [
        "dance",
        "default",
        "sports",
        "street",
    ]
    assert _component(app, "det-file").file_types == [".txt"]
    assert _component(app, "clip").sources == ["upload"]


def test_user_text_is_escaped_for_markdown():
    from demo.app import _error_outputs, _md_escape

    assert _md_escape("my_clip <b>x</b> *y* [z](w)") == r"my\_clip \<b\>x\</b\> \*y\* \[z\]\(w\)"
    assert _error_outputs("a_b.mp4: bad")[0] == r"**Error:** a\_b.mp4: bad"


def test_a_visitor_reaches_none_of_the_servers_files(tiny_checkpoints, tmp_path):
    """Served for real: Gradio's file route gives the sample folder and nothing else - not the
    checkpoints, not the code, not system files, not by ``..``."""
    import socket
    import urllib.error
    import urllib.parse
    import urllib.request

    from demo.app import launch
    from tests.support import REPO_ROOT

    sample_dir = tmp_path / "sample"
    sample_dir.mkdir()
    (sample_dir / "sample.txt").write_text("public sample")
    settings = DemoSettings(checkpoints=tiny_checkpoints, sample_dir=sample_dir)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = build_app(settings)
    launch(app, settings, port=port, block=False)
    base = f"http://127.0.0.1:{port}"

    def status(path) -> int:
        url = f"{base}/gradio_api/file={urllib.parse.quote(str(path))}"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    try:
        assert status(sample_dir / "sample.txt") == 200  # the route works for what is allowed
        for secret in (
            tiny_checkpoints / "tiny.safetensors",
            REPO_ROOT / "README.md",
            REPO_ROOT / "demo" / "app.py",
            "/etc/passwd",
            f"{sample_dir}/../../../etc/passwd",
        ):
            assert status(secret) in (403, 404), secret
    finally:
        app.close()


def test_cancel_is_wired_to_the_tracking_event_and_never_queued_behind_it(app):
    fns = {f.name: f for f in app.fns.values()}
    track, cancel = fns["track"], fns["cancel"]
    button = _component(app, "cancel")._id
    # Gradio withdraws the event (a running one is "allowed to finish": the job's flag stops it)
    withdraw = [
        f
        for f in app.fns.values()
        if f.is_cancel_function and any(t[0] == button for t in f.targets)
    ]
    assert len(withdraw) == 1 and withdraw[0].cancels == [track._id]
    assert any(t[0] == button for t in cancel.targets)
    assert cancel.concurrency_limit is None and cancel.concurrency_id == "cancel"
    assert any(t[1] == "unload" for t in fns["leave"].targets)  # closing the tab stops the job
    assert _component(app, "cancel").value == "Cancel"
    assert len(app.cgclip_jobs) == 0  # launch() cancels what runs here on Ctrl-C
