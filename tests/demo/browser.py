"""What the headless-browser tests share: where Chromium is, how it is started, and the checks
that it and Playwright are there (see tests/demo/test_browser.py's docstring)."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CGCLIP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 120_000  # generous: two cores shared with other test runs


def require_browser() -> None:
    if os.environ.get("CGCLIP_SKIP_BROWSER") == "1":
        pytest.skip("CGCLIP_SKIP_BROWSER=1: headless-browser test skipped on request")
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it (apt-get install -y chromium), point "
            "CGCLIP_CHROMIUM at a Chromium binary, or set CGCLIP_SKIP_BROWSER=1 to skip this test"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail(
            "playwright is not installed: pip install -e '.[dev]' (or set CGCLIP_SKIP_BROWSER=1)"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("cgclip-demo-*")}


@contextmanager
def serve(checkpoints: Path, sample_dir: Path, registry=None) -> Iterator[str]:
    """The demo app on 127.0.0.1 at a free port, offering ``checkpoints``; yields its URL."""
    require_browser()
    from demo.app import DemoSettings, build_app, launch
    from demo.pipeline import Limits

    settings = DemoSettings(
        checkpoints=checkpoints,
        limits=Limits(max_upload_mb=2, max_seconds=30),
        sample_dir=sample_dir,
        sample_frames=40,
    )
    app = build_app(settings, registry)
    try:
        _, url, _ = launch(app, settings, port=free_port(), block=False)
        yield url
    finally:
        app.close()


def new_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    return page


def shot(page, name: str) -> None:
    """With $CGCLIP_SCREENSHOT_DIR set, keep ``demo-<name>.png`` of the page (docs/img/)."""
    folder = os.environ.get("CGCLIP_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / f"demo-{name}.png"), full_page=True)
