"""Training configuration: typed dataclasses, loaded from YAML with ``--override key=value``.

A YAML preset (``configs/train/<dataset>.yaml``) has the sections below; every key is checked
against the dataclasses, so a typo is an error that names the valid keys, never silently ignored.
``model.overrides`` is checked against :class:`cgclip.model.ModelConfig` the same way.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from cgclip.errors import UserError
from cgclip.io.config import check_fields, choice, from_mapping, num, read_yaml

TEXT_SOURCES = ("caption", "idtext", "both")
AMP_MODES = ("auto", "bf16", "fp16", "off")
VAL_CARVES = ("random", "block")


@dataclass
class ModelSection:
    name: str = "ViT-B-16"
    pretrained: str | None = "openai"
    overrides: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields
    camera_embedding: bool = False  # SIE: one learned embedding per dataset camera id


@dataclass
class DataSection:
    dataset: str = "synthetic"
    root: str = "data/synthetic"
    options: dict[str, Any] = field(default_factory=dict)  # passed to cgclip.data.load_dataset
    # dataset "synthetic" only: a generator preset (cgclip.data.synthetic.PRESETS) that writes
    # data.root first when it holds no finished synthetic set, so the preset runs from a clean clone
    generate: str | None = None
    captions: str | None = None  # caption JSON; None: the dataset's own captions_path, if any
    text: str = choice(
        "both", TEXT_SOURCES
    )  # text memory from: caption | idtext | both (caption + ID text)
    max_captions_per_id: int = num(0, "[0, inf)")  # 0: all
    val_fraction: float = num(
        0.1, "[0, 1)"
    )  # identities carved from train for model selection (0: none)
    val_carve: str = choice(
        "random", VAL_CARVES
    )  # random | block (consecutive pids: keeps teammates together)
    val_min_ids: int = num(2, "[0, inf)")
    num_workers: int = num(2, "[0, inf)")


@dataclass
class SamplerSection:
    ids_per_batch: int = num(8, "[2, inf)")  # P (>= 2: the triplet loss needs negatives)
    tracklets_per_id: int = num(4, "[1, inf)")  # K


@dataclass
class AugmentSection:
    flip_prob: float = num(0.5, "[0, 1]")  # one flip decision per tracklet
    erase_prob: float = num(0.5, "[0, 1]")  # random erasing, per frame
    erase_area: tuple[float, float] = (0.02, 0.4)
    erase_aspect: float = num(0.3, "(0, 1]")  # aspect ratio range [a, 1/a]


@dataclass
class OptimSection:
    lr: float = num(5e-6, "(0, inf)")
    warmup_lr: float = num(5e-7, "(0, inf)")
    warmup_epochs: int = num(10, "[0, inf)")
    milestones: tuple[int, ...] = (30, 50)
    gamma: float = num(0.1, "(0, inf)")
    epochs: int = num(60, "[1, inf)")
    weight_decay: float = num(1e-4, "[0, inf)")
    grad_clip: float = num(0.0, "[0, inf)")  # max global grad norm; 0 disables


@dataclass
class LossSection:
    ce_weight: float = num(0.25, "[0, inf)")
    label_smoothing: float = num(0.1, "[0, 1)")
    triplet_weight: float = num(1.0, "[0, inf)")
    triplet_margin: float = num(0.3, "[0, inf)")
    v2rm_weight: float = num(1.0, "[0, inf)")
    parts: tuple[str, ...] = ("f", "v", "s")  # features with an ID + triplet loss


@dataclass
class RunSection:
    output_dir: str = "runs/train"
    device: str = "auto"  # auto | cpu | cuda | cuda:N (under torchrun: the local GPU)
    # auto (bf16 on GPUs that support it, else fp16; off on CPU) | bf16 | fp16 | off
    amp: str = choice("auto", AMP_MODES)
    seed: int = 0
    eval_every: int = num(
        5, "[1, inf)"
    )  # epochs between validations (and always after the last epoch)
    eval_batch_size: int = num(16, "[1, inf)")
    resume: bool = True  # continue from output_dir/last.safetensors when it exists
    overwrite: bool = False  # when not resuming, replace an earlier run's results in output_dir
    log_every: int = num(20, "[1, inf)")  # steps between progress-bar loss updates
    max_steps_per_epoch: int = num(0, "[0, inf)")  # 0: full epochs (a cap is for smoke runs)
    tensorboard: bool = False


@dataclass
class TrainConfig:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    sampler: SamplerSection = field(default_factory=SamplerSection)
    augment: AugmentSection = field(default_factory=AugmentSection)
    optim: OptimSection = field(default_factory=OptimSection)
    loss: LossSection = field(default_factory=LossSection)
    run: RunSection = field(default_factory=RunSection)

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "training config") -> TrainConfig:
        return from_mapping(cls, data, where)


def _validate(cfg: TrainConfig) -> None:
    from cgclip.model.config import EMBEDDING_PARTS, get_model_config

    for f in fields(cfg):  # types, finiteness, ranges and choices declared on the sections
        check_fields(getattr(cfg, f.name), f"config section {f.name}")
    lo, hi = cfg.augment.erase_area
    if not 0.0 < lo <= hi <= 1.0:
        raise UserError(
            f"augment.erase_area must be [lo, hi] with 0 < lo <= hi <= 1, got {[lo, hi]}"
        )
    if any(m < 0 for m in cfg.optim.milestones):
        raise UserError(f"optim.milestones must be epochs >= 0, got {list(cfg.optim.milestones)}")
    if cfg.data.generate is not None:
        from cgclip.data.synthetic import PRESETS

        if cfg.data.dataset != "synthetic":
            raise UserError(
                f"data.generate only applies to data.dataset=synthetic, not {cfg.data.dataset!r}"
            )
        if cfg.data.generate not in PRESETS:
            raise UserError(
                f"data.generate={cfg.data.generate!r} is not a synthetic preset; "
                f"choose one of {sorted(PRESETS)}"
            )
    bad = [p for p in cfg.loss.parts if p not in EMBEDDING_PARTS]
    if bad or not cfg.loss.parts:
        raise UserError(
            f"loss.parts={list(cfg.loss.parts)}: use a subset of {list(EMBEDDING_PARTS)}"
        )
    reserved = {"num_classes", "num_cameras"} & set(cfg.model.overrides)
    if reserved:
        raise UserError(f"model.overrides {sorted(reserved)} are set from the dataset; remove them")
    get_model_config(cfg.model.name, **cfg.model.overrides)  # unknown keys / values fail here


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings (values parsed as YAML) to a config dict."""
    import yaml

    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UserError(f"--override {item!r}: expected section.key=value")
        parts = key.split(".")
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"--override {item!r}: {part} is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
    return data


def load_train_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML preset (or the defaults when ``path`` is None) and apply overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        data = read_yaml(path, "training config") or {}
        if not isinstance(data, dict):
            raise UserError(f"{path}: the config must be a mapping of sections")
    data = apply_overrides(data, list(overrides or []))
    where = str(path) if path is not None else "training config"
    if overrides:
        where += " with --override"
    return TrainConfig.from_dict(data, where)
