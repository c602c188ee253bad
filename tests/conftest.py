"""Fixtures shared by every area's tests."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO_ROOT

# Tests never reach the network, and libraries should not try.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
# A shell that runs the suite in the background (`.ci/run &`, nohup) starts it with SIGINT
# ignored, and every subprocess inherits that: the Ctrl-C tests would see nothing. Give this
# process Python's own handler back; subprocesses then start with the default disposition.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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


@pytest.fixture(scope="session")
def make_tiny_model() -> Callable[..., Any]:
    """``make_tiny_model(seed=0, **config_overrides)`` -> a fresh random-init ``test-tiny`` CG-CLIP,
    seeded so the same arguments give the same weights (session-scoped, so module fixtures can
    build from it too)."""

    def build(seed: int = 0, **overrides: Any) -> Any:
        import torch

        import cgclip

        torch.manual_seed(seed)
        return cgclip.create_model("test-tiny", **overrides)

    return build


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, make_tiny_model) -> Path:
    """``make_tiny_model()`` saved once as ``tiny.safetensors`` + ``tiny.json`` (random weights:
    enough for the plumbing, no training). Shared by every test: read it, or ``copy_checkpoint``
    it before writing next to it."""
    import cgclip

    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    return cgclip.save_checkpoint(make_tiny_model(), path, meta={"note": "random init, tests"})


@pytest.fixture(scope="session")
def copy_checkpoint(tiny_checkpoint: Path) -> Callable[[Path], Path]:
    """``copy_checkpoint(folder)`` -> a private copy of ``tiny_checkpoint`` (weights + sidecar)."""

    def copy(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(tiny_checkpoint.with_suffix(".json"), folder / "tiny.json")
        return Path(shutil.copy(tiny_checkpoint, folder / "tiny.safetensors"))

    return copy


@pytest.fixture()
def subprocess_env() -> dict[str, str]:
    """Environment for ``python -m ...`` subprocesses that imports this checkout's code."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env
