"""The CG-CLIP re-identification model: config registry, network, checkpoints, preprocessing."""

from cgclip.model.cgclip import CGCLIP, ReidOutput
from cgclip.model.checkpoint import load_model, read_sidecar, save_checkpoint
from cgclip.model.config import ModelConfig, TextConfig, VisionConfig, get_model_config, list_models
from cgclip.model.factory import create_model
from cgclip.model.preprocess import (
    Preprocess,
    crop_boxes,
    crop_on_device,
    crop_pixels,
    read_rgb,
)

__all__ = [
    "CGCLIP",
    "ModelConfig",
    "Preprocess",
    "ReidOutput",
    "TextConfig",
    "VisionConfig",
    "create_model",
    "crop_boxes",
    "crop_on_device",
    "crop_pixels",
    "get_model_config",
    "list_models",
    "load_model",
    "read_rgb",
    "read_sidecar",
    "save_checkpoint",
]
