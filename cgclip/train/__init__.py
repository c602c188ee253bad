"""CG-CLIP training: ``python -m cgclip.train --config configs/train/<name>.yaml``.

The core is :func:`train` (a ``ReidDataset`` + a :class:`TrainConfig` + optional captions); the
command line only resolves the dataset and captions named in the config.
"""

from cgclip.train.config import TrainConfig, load_train_config
from cgclip.train.trainer import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "load_train_config", "train"]
