"""Synthetic sports and dance sequences in the MOTChallenge layout (``python -m cgclip.data.synthetic``)."""

from cgclip.data.synthetic.detections import DetectionNoise
from cgclip.data.synthetic.generate import (
    PRESETS,
    SyntheticConfig,
    generate_dataset,
    generate_sample,
    plan_dataset,
)
from cgclip.data.synthetic.people import Identity

__all__ = [
    "PRESETS",
    "DetectionNoise",
    "Identity",
    "SyntheticConfig",
    "generate_dataset",
    "generate_sample",
    "plan_dataset",
]
