"""The demo's ReID choices and text search.

Users pick a ReID model by *name* from a list the server builds: ``none`` (motion only), ``clip``
(pretrained CLIP ViT-B/16 with mean pooling, downloaded on first use) and every CG-CLIP checkpoint
found under the server's ``--checkpoints`` folder. A name maps to a path only through that list,
so nothing a user sends becomes a path.

Text search ranks tracks by the cosine between the CLIP text feature of the query
(``model.encode_text``) and each track's *text-aligned* image embedding ``v``: the frame-averaged
CLS token projected by the CLIP image projection. For CG-CLIP that is the part CMR trains against
the caption memory; for ``clip`` it is CLIP's own image embedding.

Raw cosines say little on their own ("a red car" scores 0.20-0.235 against dancers), so each score
is compared with a *null distribution*: the scores the same identity gets from :data:`NULL_SIZE`
unrelated captions (person descriptions drawn from random attributes, their words shuffled). The
null captions are encoded once per model (:meth:`ReidRegistry.null_text`, cached); per search the
null scores are one ``(K, E) @ (E, N)`` product. An identity is a good match when its score beats
:data:`MATCH_QUANTILE` of its null scores (:func:`search_tracks`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cgclip.errors import UserError

log = logging.getLogger(__name__)

NONE = "none"
CLIP = "clip"
CHECKPOINT_PREFIX = "ckpt:"
NULL_SIZE = 64  # unrelated captions in each model's null distribution
MATCH_QUANTILE = 0.95  # a good match beats this share of an identity's null scores
SCORE_EPS = 1e-4  # cosines closer than this are a tie (float noise between batched passes)
CLIP_WEIGHTS_HINT = (  # said to a web visitor: the page's controls, not the server's options
    "pick 'none' or a CG-CLIP checkpoint as the ReID model instead (whoever runs this server "
    "can give it the CLIP weights, {file}, with --clip-weights)"
)


@dataclass(frozen=True)
class ReidChoice:
    value: str  # what the UI sends back: "none", "clip" or "ckpt:<name>"
    label: str  # what the user reads


class ReidRegistry:
    """The ReID models this server offers, loaded lazily and cached (one copy per process).

    checkpoints: server-side folder searched recursively for ``*.safetensors`` files with a valid
    cgclip JSON sidecar; each is offered under its path relative to the folder, without suffix.
    clip_weights: optional local open_clip state dict for ``clip`` (servers with no internet).
    """

    def __init__(
        self,
        checkpoints: str | os.PathLike[str] | None = None,
        *,
        device: str = "cpu",
        clip_weights: str | os.PathLike[str] | None = None,
    ) -> None:
        self.device = device
        self.clip_weights = str(clip_weights) if clip_weights else None
        self.checkpoints: dict[str, Path] = {}
        if checkpoints is not None:
            self.checkpoints = find_checkpoints(checkpoints)
        self._models: dict[str, Any] = {}
        self._null: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def choices(self) -> list[ReidChoice]:
        clip_from = "local weights" if self.clip_weights else "downloads about 600 MB once"
        out = [
            ReidChoice(NONE, "none (motion only)"),
            ReidChoice(CLIP, f"clip (pretrained CLIP ViT-B/16, {clip_from})"),
        ]
        out += [
            ReidChoice(CHECKPOINT_PREFIX + name, f"{name} (CG-CLIP checkpoint)")
            for name in self.checkpoints
        ]
        return out

    def model(self, value: str) -> Any | None:
        """The model for choice ``value`` (None for ``none``); UserError for an unknown name."""
        if value == NONE:
            return None
        if value != CLIP and value.removeprefix(CHECKPOINT_PREFIX) not in self.checkpoints:
            names = [c.value for c in self.choices()]
            raise UserError(f"unknown ReID model {value!r}; pick one of {names}")
        with self._lock:  # two first requests must not load the same weights twice
            if value not in self._models:
                self._models[value] = self._load(value)
            return self._models[value]

    def null_text(self, value: str) -> np.ndarray:
        """The :func:`null_captions` encoded by model ``value``: ``(NULL_SIZE, E)``, computed on
        the first call and cached for the life of the server (one text pass per model)."""
        model = self.model(value)
        if model is None:
            raise UserError("text search needs a ReID model")
        with self._lock:
            if value not in self._null:
                self._null[value] = encode_texts(model, null_captions())
            return self._null[value]

    def text_note(self, value: str) -> str | None:
        """A warning when model ``value``'s text side was never trained on real captions (read
        from the checkpoint's sidecar), else None. See :func:`text_training_note`."""
        if value in (NONE, CLIP):
            return None
        from cgclip.model import read_sidecar
        from tracker.sources import checkpoint_datasets

        path = self.checkpoints[value.removeprefix(CHECKPOINT_PREFIX)]
        return text_training_note(read_sidecar(path), checkpoint_datasets(str(path)))

    def _load(self, value: str) -> Any:
        # The same resolver as the tracker's --reid (cgclip.runtime.load): "clip" is pretrained
        # CLIP with mean pooling over CLS tokens, a checkpoint loads through its sidecar.
        from cgclip.runtime.load import CLIP_PREFIX, load_reid_model

        if value == CLIP:
            reid = CLIP_PREFIX + self.clip_weights if self.clip_weights else CLIP
        else:
            reid = str(self.checkpoints[value.removeprefix(CHECKPOINT_PREFIX)])
        return load_reid_model(
            reid, device=self.device, option="ReID model", clip_hint=CLIP_WEIGHTS_HINT
        )


def find_checkpoints(folder: str | os.PathLike[str]) -> dict[str, Path]:
    """``{name: path}`` of the cgclip checkpoints under ``folder`` (sorted by name).

    Files whose sidecar is missing or invalid are skipped with a warning, so one stray file does
    not take the server down."""
    from cgclip.model import read_sidecar

    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"--checkpoints {root}: no such folder")
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.safetensors")):
        name = path.relative_to(root).with_suffix("").as_posix()
        try:
            read_sidecar(path)
        except UserError as err:
            log.warning("skipping checkpoint %s: %s", path, err)
            continue
        found[name] = path
    return found


def cls_features(model: Any, crops: Any, batch_size: int = 32) -> np.ndarray:
    """Normalised crops ``(N, 3, H, W)`` (``cgclip.model.crop_boxes``) -> CLS tokens ``(N, D)``."""
    import torch

    out = [np.zeros((0, model.config.vision.width), np.float32)]
    with torch.inference_mode():
        for i in range(0, len(crops), batch_size):
            cls = model.encode_frames(crops[i : i + batch_size], keep="cls")[:, 0]  # (n, D)
            out.append(cls.float().cpu().numpy())
    return np.concatenate(out)


def text_aligned(model: Any, cls_mean: np.ndarray) -> np.ndarray:
    """Frame-averaged CLS tokens ``(K, D)`` -> L2-normalised ``v = f @ proj`` ``(K, E)``.

    The projection is linear, so projecting the mean equals averaging the per-crop projections."""
    import torch

    with torch.inference_mode():
        proj = model.image_encoder.proj.detach().float().cpu()  # (D, E)
        v = torch.from_numpy(np.asarray(cls_mean, np.float32)) @ proj
        return torch.nn.functional.normalize(v, dim=1).numpy()


def rank_tracks(
    model: Any, query: str, ids: Sequence[int], embeddings: np.ndarray
) -> list[tuple[int, float]]:
    """Tracks ``ids`` ranked by cosine(text(query), embeddings (K, E)), best first (ties by id)."""
    query = (query or "").strip()
    if not query:
        raise UserError('type a description to search for, e.g. "blue jersey number 10"')
    if len(ids) == 0:
        return []
    text = model.encode_text([query]).float().cpu().numpy()[0]  # (E,) L2-normalised
    scores = np.asarray(embeddings, np.float32) @ text  # (K,)
    order = sorted(range(len(ids)), key=lambda i: (-float(scores[i]), int(ids[i])))
    return [(int(ids[i]), float(scores[i])) for i in order]


# --------------------------------------------------------------------------- calibrated search

_NULL_ACTIVITIES = (
    "dance",
    "ballet",
    "hip hop",
    "basketball",
    "soccer",
    "volleyball",
    "tennis",
    "",
)
_NULL_GENDERS = ("man", "woman", "")
_NULL_COLORS = (
    "red", "blue", "green", "yellow", "white", "black", "orange", "purple", "pink", "gray",
    "brown", "navy", "red, white", "black, yellow",
)  # fmt: skip
_NULL_DETAILS = (
    "ponytail", "white shoes", "black socks", "glasses", "headband", "short hair", "long hair",
    "red shoes", "knee pads", "bun hair", "beard", "wristband", "cap", "tattoo",
)  # fmt: skip


def null_captions(n: int = NULL_SIZE, seed: int = 0) -> list[str]:
    """``n`` unrelated captions: person descriptions from random attributes (the caption
    templates of :mod:`cgclip.captions.attributes`), each with its words shuffled. Fixed by
    ``seed``, so every server calibrates a model the same way."""
    import random

    from cgclip.captions.attributes import captions_for_person, person_from_row

    rng = random.Random(seed)
    out: list[str] = []
    for pid in range(1, n + 1):
        row = {
            "scene": rng.choice(_NULL_ACTIVITIES),
            "gender": rng.choice(_NULL_GENDERS),
            "uniform": rng.choice(_NULL_COLORS),
            "number": str(rng.randint(1, 99)) if rng.random() < 0.5 else "",
            "others": "; ".join(rng.sample(_NULL_DETAILS, rng.randint(0, 2))),
        }
        caption = captions_for_person(person_from_row(pid, row), per_id=1, seed=seed)[0]
        words = caption.rstrip(".").split()
        rng.shuffle(words)
        out.append(" ".join(words).lower())
    return out


def encode_texts(model: Any, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """``model.encode_text`` over ``texts`` in batches -> ``(N, E)`` float32, L2-normalised."""
    import torch

    parts = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            parts.append(model.encode_text(list(texts[i : i + batch_size])).float().cpu().numpy())
    return np.concatenate(parts)


def text_training_note(sidecar: dict[str, Any], datasets: Sequence[str] | None) -> str | None:
    """Why text search with this checkpoint cannot be trusted, or None.

    sidecar: the checkpoint's (``read_sidecar``); datasets: what it was trained on
    (``tracker.sources.checkpoint_datasets``, the tracker's synthetic-domain check reads the
    same). The text tower is frozen in training (``cgclip.model.backbone.TextEncoder``), so it
    knows real captions only when the checkpoint started from pretrained CLIP (``pretrained``
    in the sidecar). Its image side is tied to text only through the captions it was trained
    with: a checkpoint trained only on the synthetic set has seen synthetic captions only."""
    from tracker.sources import SYNTHETIC_DATASETS

    if not sidecar.get("pretrained"):
        return (
            "this checkpoint's text encoder is random-init (no pretrained CLIP weights) and was "
            "never trained on real captions: its search scores are noise"
        )
    if datasets and all(d.lower() in SYNTHETIC_DATASETS for d in datasets):
        return (
            "this checkpoint's text encoder is pretrained CLIP, but its image side was trained "
            "on synthetic captions only: expect rough matches on real clips"
        )
    return None


@dataclass(frozen=True)
class Match:
    """One identity's search score and where it falls in its null distribution."""

    track_id: int
    score: float  # cosine(text(query), v)
    threshold: float  # the MATCH_QUANTILE quantile of this identity's null scores
    beats: float  # share of the null captions this score is above, in [0, 1]

    @property
    def good(self) -> bool:
        return self.score > self.threshold + SCORE_EPS


def search_tracks(
    model: Any,
    query: str,
    ids: Sequence[int],
    embeddings: np.ndarray,
    null_text: np.ndarray,
    quantile: float = MATCH_QUANTILE,
) -> list[Match]:
    """Every track ranked by cosine to ``query`` (best first, ties by id), each with its own
    threshold: the ``quantile`` of the scores ``null_text`` ``(N, E)`` gives that track.

    Comparing a track with its own null removes what makes raw cosines mislead: some tracks
    score high against any text, and some models' cosines all sit in a narrow band."""
    ranked = rank_tracks(model, query, ids, embeddings)
    if not ranked:
        return []
    rows = {int(t): i for i, t in enumerate(ids)}
    order = [rows[t] for t, _ in ranked]
    emb = np.asarray(embeddings, np.float32)[order]  # (K, E) in ranked order
    null = emb @ np.asarray(null_text, np.float32).T  # (K, N)
    scores = np.array([s for _, s in ranked], np.float32)
    thresholds = np.quantile(null, quantile, axis=1)
    beats = (null < (scores - SCORE_EPS)[:, None]).mean(axis=1)
    return [
        Match(tid, score, float(thr), float(b))
        for (tid, score), thr, b in zip(ranked, thresholds, beats, strict=True)
    ]


# --------------------------------------------------------------------------- attention strip


def tfe_note(model: Any | None) -> tuple[bool, str]:
    """``(has_tfe, what the attention strip means for this model)``, in the page's words."""
    if model is None:
        return False, "No ReID model: the attention strip needs a CG-CLIP checkpoint with TFE."
    config = getattr(model, "config", None)
    if getattr(model, "tfe", None) is None or config is None:
        return False, (
            "This model has no TFE: it averages its frames, so every frame counts the same and "
            "there is no attention to show."
        )
    if "s" in config.embedding_parts:
        return True, (
            "TFE attention: the share of the tracklet feature each frame got (faded crops and "
            "short bars counted little, e.g. occluded frames). TFE's feature is part of this "
            "checkpoint's tracking embedding."
        )
    parts = "+".join(config.embedding_parts)
    return True, (
        "TFE attention: the share of TFE's tracklet feature each frame got (faded crops and short "
        f"bars counted little). This checkpoint tracks with `{parts}`, the frames' mean, so "
        "in tracking every frame counts the same; the strip shows what TFE itself weighs."
    )


def frame_attention(model: Any, crops_rgb: Sequence[np.ndarray]) -> np.ndarray:
    """TFE's attention mass per frame ``(T,)`` (sums to 1) for one tracklet of RGB crops, from
    ``model.encode_tracklet(..., return_attention=True)``."""
    import torch

    if len(crops_rgb) == 0:
        return np.zeros(0, np.float32)
    x = model.preprocess(list(crops_rgb))[None]  # (1, T, 3, H, W)
    with torch.inference_mode():
        _, attention = model.encode_tracklet(x, return_attention=True)
    return attention[0].float().cpu().numpy()
