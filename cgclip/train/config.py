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
    text: str = "both"  # text memory from: caption | idtext | both (caption + ID text)
    max_captions_per_id: int = 0  # 0: all
    val_fraction: float = 0.1  # identities carved from train for model selection (0: none)
    val_carve: str = "random"  # random | block (consecutive pids: keeps teammates together)
    val_min_ids: int = 2
    num_workers: int = 2


@dataclass
class SamplerSection:
    ids_per_batch: int = 8  # P
    tracklets_per_id: int = 4  # K


@dataclass
class AugmentSection:
    flip_prob: float = 0.5  # one flip decision per tracklet
    erase_prob: float = 0.5  # random erasing, per frame
    erase_area: tuple[float, float] = (0.02, 0.4)
    erase_aspect: float = 0.3  # aspect ratio range [a, 1/a]


@dataclass
class OptimSection:
    lr: float = 5e-6
    warmup_lr: float = 5e-7
    warmup_epochs: int = 10
    milestones: tuple[int, ...] = (30, 50)
    gamma: float = 0.1
    epochs: int = 60
    weight_decay: float = 1e-4
    grad_clip: float = 0.0  # max global grad norm; 0 disables


@dataclass
class LossSection:
    ce_weight: float = 0.25
    label_smoothing: float = 0.1
    triplet_weight: float = 1.0
    triplet_margin: float = 0.3
    v2rm_weight: float = 1.0
    parts: tuple[str, ...] = ("f", "v", "s")  # features with an ID + triplet loss


@dataclass
class RunSection:
    output_dir: str = "runs/train"
    device: str = "auto"  # auto | cpu | cuda | cuda:N (under torchrun: the local GPU)
    amp: str = (
        "auto"  # auto (bf16 on GPUs that support it, else fp16; off on CPU) | bf16 | fp16 | off
    )
    seed: int = 0
    eval_every: int = 5  # epochs between validations (and always after the last epoch)
    eval_batch_size: int = 16
    resume: bool = True  # continue from output_dir/last.safetensors when it exists
    log_every: int = 20  # steps between progress-bar loss updates
    max_steps_per_epoch: int = 0  # 0: full epochs (a cap is for smoke runs)
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
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return _build(cls, data)


def _validate(cfg: TrainConfig) -> None:
    from cgclip.model.config import EMBEDDING_PARTS, get_model_config

    if cfg.data.text not in TEXT_SOURCES:
        raise UserError(f"data.text={cfg.data.text!r} is not one of {list(TEXT_SOURCES)}")
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
    if cfg.data.val_carve not in VAL_CARVES:
        raise UserError(f"data.val_carve={cfg.data.val_carve!r} is not one of {list(VAL_CARVES)}")
    if cfg.run.amp not in AMP_MODES:
        raise UserError(f"run.amp={cfg.run.amp!r} is not one of {list(AMP_MODES)}")
    if not 0.0 <= cfg.data.val_fraction < 1.0:
        raise UserError(f"data.val_fraction must be in [0, 1), got {cfg.data.val_fraction}")
    bad = [p for p in cfg.loss.parts if p not in EMBEDDING_PARTS]
    if bad or not cfg.loss.parts:
        raise UserError(
            f"loss.parts={list(cfg.loss.parts)}: use a subset of {list(EMBEDDING_PARTS)}"
        )
    for name in ("ids_per_batch", "tracklets_per_id"):
        if getattr(cfg.sampler, name) < 1:
            raise UserError(f"sampler.{name} must be >= 1")
    if cfg.sampler.ids_per_batch < 2:
        raise UserError("sampler.ids_per_batch must be >= 2 (the triplet loss needs negatives)")
    if cfg.optim.epochs < 1:
        raise UserError("optim.epochs must be >= 1")
    if cfg.run.eval_every < 1:
        raise UserError("run.eval_every must be >= 1")
    if cfg.optim.warmup_epochs < 0 or cfg.run.max_steps_per_epoch < 0:
        raise UserError("optim.warmup_epochs and run.max_steps_per_epoch must be >= 0")
    reserved = {"num_classes", "num_cameras"} & set(cfg.model.overrides)
    if reserved:
        raise UserError(f"model.overrides {sorted(reserved)} are set from the dataset; remove them")
    get_model_config(cfg.model.name, **cfg.model.overrides)  # unknown keys / values fail here


def _build(cls: type, data: Any) -> Any:
    """TrainConfig from a nested dict: unknown sections/keys are errors, values are coerced."""
    if not isinstance(data, dict):
        raise UserError(f"the config must be a mapping of sections, got {data!r}")
    sections = {f.name: f.default_factory for f in fields(cls)}
    unknown = sorted(set(data) - set(sections))
    if unknown:
        raise UserError(f"unknown config section(s) {unknown}; valid sections: {sorted(sections)}")
    kwargs = {}
    for name, values in data.items():
        default = sections[name]()
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise UserError(f"config section '{name}' must be a mapping, got {values!r}")
        known = {f.name for f in fields(default)}
        bad = sorted(set(values) - known)
        if bad:
            raise UserError(
                f"unknown config key(s) {[f'{name}.{k}' for k in bad]}; valid keys in "
                f"'{name}': {sorted(known)}"
            )
        args = {k: _coerce(v, getattr(default, k), f"{name}.{k}") for k, v in values.items()}
        kwargs[name] = type(default)(**args)
    return cls(**kwargs)


def _coerce(value: Any, default: Any, path: str) -> Any:
    """Coerce YAML/override values to the type of the field's default (e.g. "1e-4" -> 1e-4)."""
    try:
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError
            return value
        if isinstance(default, float):
            return float(value)
        if isinstance(default, int):
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            return int(float(value))
        if isinstance(default, tuple):
            if not isinstance(value, (list, tuple)):
                raise ValueError
            return tuple(_coerce(v, default[0], path) if default else v for v in value)
        if isinstance(default, dict):
            if value is None:
                return {}
            if not isinstance(value, dict):
                raise ValueError
            return dict(value)
    except (TypeError, ValueError):
        raise UserError(
            f"config key {path}: {value!r} is not a valid {type(default).__name__}"
        ) from None
    return value


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
    import yaml

    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"config file not found: {path}")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise UserError(
                f"config {path} is not valid YAML: {str(err).splitlines()[0]}"
            ) from None
        if not isinstance(data, dict):
            raise UserError(f"config {path} must be a mapping of sections")
    data = apply_overrides(data, list(overrides or []))
    return TrainConfig.from_dict(data)
