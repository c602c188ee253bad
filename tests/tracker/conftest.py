"""Fixtures for the tracker tests (the tiny checkpoint is the root ``tiny_checkpoint``)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tracker tests run tiny models: one torch thread avoids OpenMP spinning on a shared CI
    machine (measured 30x slower with 2 threads when another process holds a core)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
