"""Fixtures for the demo tests: the sample clip in the demo's form and a tiny CG-CLIP checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(H.264 sample video, det.txt): the 40-frame dance sample the 'Use the sample clip' button
    gives."""
    from demo.pipeline import prepare_sample

    return prepare_sample(tmp_path_factory.mktemp("demo-sample"), frames=40)


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory, copy_checkpoint) -> Path:
    """A --checkpoints folder holding one copy of the root ``tiny_checkpoint``."""
    folder = tmp_path_factory.mktemp("checkpoints")
    copy_checkpoint(folder)
    return folder


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Playwright, one per test module (see tests/demo/browser.py)."""
    from tests.demo.browser import CHROMIUM, CHROMIUM_ARGS, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
