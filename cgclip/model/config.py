"""Model configuration dataclasses and the registry of named variants.

Like open_clip/timm, a model is a named variant (a :class:`ModelConfig`) plus keyword overrides:

    cfg = get_model_config("ViT-B-16", pooling="mean", vision={"image_size": (128, 64)})

Every option that an ablation or the tracker needs is a field here, so a checkpoint's JSON sidecar
(``asdict(cfg)``) is enough to rebuild the exact architecture.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from cgclip.errors import UserError

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

POOLINGS = ("tfe", "mean")
TOKEN_KEYS = ("all", "cls")
MEMORY_UPDATES = ("none", "refined", "video")
EMBEDDING_PARTS = ("f", "v", "s")


@dataclass
class VisionConfig:
    """The CLIP ViT image tower (open_clip ``vision_cfg``). ``image_size`` is (H, W)."""

    image_size: tuple[int, int] = (256, 128)
    patch_size: int = 16
    width: int = 768
    layers: int = 12
    head_width: int = 64
    mlp_ratio: float = 4.0

    @property
    def grid(self) -> tuple[int, int]:
        return self.image_size[0] // self.patch_size, self.image_size[1] // self.patch_size

    @property
    def num_tokens(self) -> int:
        """Tokens per frame: patches + CLS (129 for 256x128 crops and 16x16 patches)."""
        return self.grid[0] * self.grid[1] + 1


@dataclass
class TextConfig:
    """The CLIP text tower (open_clip ``text_cfg``); frozen, used for the text memory and search."""

    context_length: int = 77
    vocab_size: int = 49408
    width: int = 512
    heads: int = 8
    layers: int = 12


@dataclass
class ModelConfig:
    """Everything that defines a CG-CLIP network (architecture + preprocessing).

    Feature names follow the paper: ``f`` frame-averaged CLS token (width D), ``v`` its CLIP
    projection (embed_dim E), ``s`` the TFE tracklet feature (width D). ``embedding`` lists the parts
    concatenated (pre-BN, then L2-normalised) into the test/tracking feature; ``None`` picks
    ``("f",)`` for ``pooling="tfe"`` (the winner of the synthetic ablation in the README, where
    adding ``s`` cost 2-3 mAP) and ``("v",)`` (the plain CLIP image embedding, in the text
    encoder's space) for ``pooling="mean"``.
    """

    embed_dim: int = 512
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    quick_gelu: bool = False
    mean: tuple[float, float, float] = OPENAI_MEAN
    std: tuple[float, float, float] = OPENAI_STD
    clip_len: int = 8  # frames per tracklet (RRS chunks) in training and evaluation
    # Temporal pooling: TFE (learnable queries) or a plain mean over the same keys.
    pooling: str = "tfe"
    tfe_keys: str = "all"  # keys/values: all T*(P+1) tokens, or the T CLS tokens
    tfe_queries: int = 15
    tfe_blocks: int = 1
    tfe_heads: int = 0  # 0: width // 64 (at least 1)
    # Caption-guided memory refinement (training only).
    use_cmr: bool = True
    cmr_blocks: int = 2
    cmr_heads: int = 8
    cmr_keys: str = "all"
    cmr_temperature: float = 0.07
    memory_update: str = "video"
    memory_momentum: float = 0.2
    # Heads.
    num_classes: int = 0  # 0: no ID classifiers and no memory (an inference-only model)
    num_cameras: int = 0  # >0 enables the camera embedding (SIE) added to CLS
    sie_coef: float = 1.0
    embedding: tuple[str, ...] | None = None
    grad_checkpointing: bool = False

    def __post_init__(self) -> None:
        _check_choice("pooling", self.pooling, POOLINGS)
        _check_choice("tfe_keys", self.tfe_keys, TOKEN_KEYS)
        _check_choice("cmr_keys", self.cmr_keys, TOKEN_KEYS)
        _check_choice("memory_update", self.memory_update, MEMORY_UPDATES)
        if self.embedding is not None:
            self.embedding = tuple(self.embedding)
            bad = [p for p in self.embedding if p not in EMBEDDING_PARTS]
            if bad or not self.embedding or len(set(self.embedding)) != len(self.embedding):
                raise UserError(
                    f"embedding={list(self.embedding)} is invalid: use a non-empty subset of "
                    f"{list(EMBEDDING_PARTS)} without repeats"
                )
        if not 0.0 <= self.memory_momentum <= 1.0:
            raise UserError(f"memory_momentum must be in [0, 1], got {self.memory_momentum}")
        for name in ("tfe_queries", "tfe_blocks", "cmr_blocks", "cmr_heads", "clip_len"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be >= 1, got {getattr(self, name)}")
        h, w = self.vision.image_size
        p = self.vision.patch_size
        if h % p or w % p:
            raise UserError(f"image_size {h}x{w} must be a multiple of patch_size {p}")
        if self.embed_dim % self.cmr_heads:
            raise UserError(
                f"embed_dim {self.embed_dim} is not divisible by cmr_heads {self.cmr_heads}"
            )

    @property
    def embedding_parts(self) -> tuple[str, ...]:
        if self.embedding is not None:
            return self.embedding
        return ("f",) if self.pooling == "tfe" else ("v",)

    @property
    def embedding_dim(self) -> int:
        dims = {"f": self.vision.width, "v": self.embed_dim, "s": self.vision.width}
        return sum(dims[p] for p in self.embedding_parts)

    @property
    def tokens_per_frame(self) -> int:
        """L, the tokens per frame that :meth:`CGCLIP.encode_frames` keeps by default: what the
        inference embedding reads. 1 (CLS) unless it includes TFE's ``s`` with ``tfe_keys: all``;
        ``f`` and ``v`` read only the CLS token, so a tracker stores 1 token per frame, not 1 + P.
        """
        if "s" in self.embedding_parts and self.tfe_keys == "all":
            return self.vision.num_tokens
        return 1

    @property
    def resolved_tfe_heads(self) -> int:
        return self.tfe_heads or max(1, self.vision.width // 64)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return _build(cls, data, "model config")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserError(f"{name}={value!r} is not one of {list(choices)}")


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from a (possibly nested) dict, rejecting unknown keys by name."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise UserError(f"unknown {where} key(s) {unknown}; valid keys are {sorted(known)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name == "vision":
            value = (
                value if isinstance(value, VisionConfig) else _build(VisionConfig, value, "vision")
            )
        elif name == "text":
            value = value if isinstance(value, TextConfig) else _build(TextConfig, value, "text")
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    if "image_size" in kwargs:
        kwargs["image_size"] = tuple(int(x) for x in kwargs["image_size"])
    return cls(**kwargs)


# ----------------------------------------------------------------------------- registry

_VARIANTS: dict[str, dict[str, Any]] = {
    # The paper's model: OpenAI CLIP ViT-B/16 (QuickGELU) at 256x128, 16x8 patches + CLS.
    "ViT-B-16": dict(quick_gelu=True),
    # A CPU-sized model for the synthetic benchmark and examples (random init or distilled).
    "cpu-small": dict(
        embed_dim=128,
        vision=dict(image_size=(128, 64), patch_size=16, width=192, layers=4, head_width=64),
        text=dict(width=128, heads=2, layers=2),
        tfe_queries=8,
        cmr_heads=4,
    ),
    # For everyone's tests: two 64-wide layers on 64x32 crops (8 patches), a one-layer text tower.
    "test-tiny": dict(
        embed_dim=32,
        vision=dict(image_size=(64, 32), patch_size=16, width=64, layers=2, head_width=32),
        text=dict(context_length=77, width=32, heads=2, layers=1),
        tfe_queries=4,
        tfe_heads=2,
        cmr_heads=2,
        cmr_blocks=2,
    ),
}

# open_clip architecture each variant's pretrained tags belong to.
OPEN_CLIP_ARCH = {"ViT-B-16": "ViT-B-16"}


def list_models() -> list[str]:
    """Names accepted by :func:`cgclip.create_model`."""
    return list(_VARIANTS)


def get_model_config(name: str, **overrides: Any) -> ModelConfig:
    """The named variant's config with ``overrides`` applied (nested dicts merge into vision/text)."""
    if name not in _VARIANTS:
        raise UserError(f"unknown model {name!r}; available models: {list_models()}")
    data = _merge(ModelConfig().to_dict(), _VARIANTS[name])
    data = _merge(data, overrides)
    return ModelConfig.from_dict(data)


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, (VisionConfig, TextConfig)):
            value = asdict(value)
        if key in ("vision", "text") and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out
