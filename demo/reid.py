"""The demo's ReID choices and text search.

Users pick a ReID model by *name* from a list the server builds: ``none`` (motion only), ``clip``
(pretrained CLIP ViT-B/16 with mean pooling, downloaded on first use) and every CG-CLIP checkpoint
found under the server's ``--checkpoints`` folder. A name maps to a path only through that list,
so nothing a user sends becomes a path.

Text search ranks tracks by the cosine between the CLIP text feature of the query
(``model.encode_text``) and each track's *text-aligned* image embedding ``v``: the frame-averaged
CLS token projected by the CLIP image projection. For CG-CLIP that is the part CMR trains against
the caption memory; for ``clip`` it is CLIP's own image embedding.
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
