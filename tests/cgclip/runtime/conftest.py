"""Fixtures for the runtime (acceleration) tests: seeded test-tiny models (root ``make_tiny_model``)
and crops on the CPU."""

from __future__ import annotations

from typing import Any

import pytest
import torch


@pytest.fixture()
def model(make_tiny_model) -> Any:
    return make_tiny_model()


@pytest.fixture(scope="module")
def shared_model(make_tiny_model) -> Any:
    """One model per test module for tests that only read it (ONNX exports are the slow part)."""
    return make_tiny_model(seed=1)


@pytest.fixture()
def crops() -> torch.Tensor:
    """Six (6, 3, 64, 32) normalised test-tiny crops."""
    from cgclip.model import get_model_config
    from cgclip.model.preprocess import Preprocess
    from cgclip.runtime import random_crops

    cfg = get_model_config("test-tiny")
    pre = Preprocess(size=tuple(cfg.vision.image_size), mean=cfg.mean, std=cfg.std)
    return random_crops(pre, 6, seed=3)
