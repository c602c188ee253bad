"""Fixtures for the runtime (acceleration) tests: seeded test-tiny models on the CPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch


def _tiny(seed: int = 0, **overrides: Any) -> Any:
    from cgclip.model import create_model

    torch.manual_seed(seed)
    return create_model("test-tiny", **overrides)


@pytest.fixture()
def make_tiny() -> Callable[..., Any]:
    """``make_tiny(seed=0, **config_overrides)`` -> a fresh seeded test-tiny model."""
    return _tiny


@pytest.fixture()
def model() -> Any:
    return _tiny()


@pytest.fixture(scope="module")
def shared_model() -> Any:
    """One model per test module for tests that only read it (ONNX exports are the slow part)."""
    return _tiny(seed=1)


@pytest.fixture()
def crops() -> torch.Tensor:
    """Six (6, 3, 64, 32) normalised test-tiny crops."""
    from cgclip.model import get_model_config
    from cgclip.model.preprocess import Preprocess
    from cgclip.runtime import random_crops

    cfg = get_model_config("test-tiny")
    pre = Preprocess(size=tuple(cfg.vision.image_size), mean=cfg.mean, std=cfg.std)
    return random_crops(pre, 6, seed=3)
