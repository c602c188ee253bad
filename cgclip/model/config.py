"""Model configuration dataclasses and the registry of named variants.

Like open_clip/timm, a model is a named variant (a :class:`ModelConfig`) plus keyword overrides:

    cfg = get_model_config("ViT-B-16", pooling="mean", vision={"image_size": (128, 64)})

Every option that an ablation or the tracker needs is a field here, so a checkpoint's JSON sidecar
(``asdict(cfg)``) is enough to rebuild the exact architecture.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cgclip.errors import UserError
from cgclip.io.config import check_fields, choice, from_mapping, num

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
    patch_size: int = num(16, "[1, inf)")
    width: int = num(768, "[1, inf)")
    layers: int = num(12, "[0, inf)")
    head_width: int = num(64, "[1, inf)")
    mlp_ratio: float = num(4.0, "(0, inf)")

    def __post_init__(self) -> None:
        check_fields(self, "vision config")

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

    context_length: int = num(77, "[1, inf)")
    vocab_size: int = num(49408, "[1, inf)")
    width: int = num(512, "[1, inf)")
    heads: int = num(8, "[1, inf)")
    layers: int = num(12, "[0, inf)")

    def __post_init__(self) -> None:
        check_fields(self, "text config")


@dataclass
class ModelConfig:
    """Everything that defines a CG-CLIP network (architecture + preprocessing).

    Feature names follow the paper: ``f`` frame-averaged CLS token (width D), ``v`` its CLIP
    projection (embed_dim E), ``s`` the TFE tracklet feature (width D). ``embedding`` lists the parts
    concatenated (pre-BN, then L2-normalised) into the test/tracking feature; ``None`` picks
    ``("f",)`` for ``pooling="tfe"`` (the winner of the synthetic ablation in
    docs/reid-ablation.md, where adding ``s`` cost 2-3 mAP) and ``("v",)`` (the plain CLIP image
    embedding, in the text encoder's space) for ``pooling="mean"``.
    """

    embed_dim: int = num(512, "[1, inf)")
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    quick_gelu: bool = False
    mean: tuple[float, float, float] = OPENAI_MEAN
    std: tuple[float, float, float] = OPENAI_STD
    clip_len: int = num(
        8, "[1, inf)"
    )  # frames per tracklet (RRS chunks) in training and evaluation
    # Temporal pooling: TFE (learnable queries) or a plain mean over the same keys.
    pooling: str = choice("tfe", POOLINGS)
    tfe_keys: str = choice(
        "all", TOKEN_KEYS
    )  # keys/values: all T*(P+1) tokens, or the T CLS tokens
    tfe_queries: int = num(15, "[1, inf)")
    tfe_blocks: int = num(1, "[1, inf)")
    tfe_heads: int = num(0, "[0, inf)")  # 0: width // 64 (at least 1)
    # Caption-guided memory refinement (training only).
    use_cmr: bool = True
    cmr_blocks: int = num(2, "[1, inf)")
    cmr_heads: int = num(8, "[1, inf)")
    cmr_keys: str = choice("all", TOKEN_KEYS)
    cmr_temperature: float = num(0.07, "(0, inf)")
    memory_update: str = choice("video", MEMORY_UPDATES)
    memory_momentum: float = num(0.2, "[0, 1]")
    # Heads.
    # 0: no ID classifiers and no memory (an inference-only model)
    num_classes: int = num(0, "[0, inf)")
    num_cameras: int = num(0, "[0, inf)")  # >0 enables the camera embedding (SIE) added to CLS
    sie_coef: float = num(1.0, "[0, inf)")
    embedding: tuple[str, ...] | None = None
    grad_checkpointing: bool = False

    def __post_init__(self) -> None:
        check_fields(self, "model config")  # types, finiteness, ranges, choices (above)
        if self.embedding is not None:
            self.embedding = tuple(self.embedding)
            bad = [p for p in self.embedding if p not in EMBEDDING_PARTS]
            if bad or not self.embedding or len(set(self.embedding)) != len(self.embedding):
                raise UserError(
                    f"embedding={list(self.embedding)} is invalid: use a non-empty subset of "
                    f"{list(EMBEDDING_PARTS)} without repeats"
                )
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
        return from_mapping(cls, data, "model config")


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
