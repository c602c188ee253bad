"""Fixtures shared by every area's tests."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

# Tests never reach the network, and libraries should not try.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic MOT dataset (both kinds, train/val, 2 sequences each, 60 frames), built once."""
    from cgclip.data.synthetic import PRESETS, generate_dataset

    root = tmp_path_factory.mktemp("synthetic")
    return generate_dataset(root, replace(PRESETS["test"], frames=60), progress=False)


@pytest.fixture(scope="session")
def sample_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short sample clip folder: sample.mp4, det.txt, gt.txt, identities.csv (dance, 40 frames)."""
    from cgclip.data.synthetic import generate_sample

    return generate_sample(tmp_path_factory.mktemp("sample"), frames=40, progress=False)


@pytest.fixture()
def subprocess_env() -> dict[str, str]:
    """Environment for ``python -m ...`` subprocesses that imports this checkout's code."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env
