"""Fixtures for the tracker tests: a tiny cgclip checkpoint written with cgclip's checkpoint API."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``test-tiny`` with random weights saved as ``tiny.safetensors`` + ``tiny.json``: enough for
    the plumbing (crop, encode, TFE windows, outputs); no training needed."""
    import torch

    import cgclip

    torch.manual_seed(0)
    model = cgclip.create_model("test-tiny")
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    return cgclip.save_checkpoint(model, path, meta={"note": "random init, tracker tests"})


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tracker tests run tiny models: one torch thread avoids OpenMP spinning on a shared CI
    machine (measured 30x slower with 2 threads when another process holds a core)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
