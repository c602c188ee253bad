"""Appearance for association: the ``Embedder`` protocol and its backends.

An embedder does two things, mirroring CG-CLIP's split between the frame encoder and TFE:

1. :meth:`Embedder.embed_frame` runs one batched image-encoder pass over all detections of a
   frame and returns each detection's per-frame *features* (what a track stores in its rolling
   window: token sets ``(L, D)`` or plain vectors ``(E,)``) and its *embedding* (TFE over that
   single frame, ``(E,)`` L2-normalised).
2. :meth:`Embedder.embed_tracklets` turns each track's window of the last ``W`` per-frame
   features into one tracklet embedding ``(E,)``, batched over tracks.

Backends:
- :class:`MeanPoolEmbedder` - no encoder; pools per-frame vectors. It is also what the tracker
  uses for embeddings that arrive with the detections (``Detections.data["embedding"]``).
- :class:`CgclipEmbedder` - adapts a CG-CLIP model (``encode_frames`` / ``encode_tracklet``).
- :func:`build_embedder` maps the CLI's ``--reid`` value to one of them (or ``None``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from cgclip.errors import UserError
from tracker.matching import l2_normalize

EMBEDDING_KEY = "embedding"


@dataclass(frozen=True)
class FrameFeatures:
    """What :meth:`Embedder.embed_frame` returns for ``N`` detections.

    ``features``: ``(N, *F)`` per-frame features kept in track windows.
    ``embeddings``: ``(N, E)`` L2-normalised detection embeddings.
    """

    features: np.ndarray
    embeddings: np.ndarray


@runtime_checkable
class Embedder(Protocol):
    """Appearance backend used by :class:`tracker.Tracker`."""

    def embed_frame(self, frame: np.ndarray, boxes_xyxy: np.ndarray) -> FrameFeatures:
        """``frame (H, W, 3)`` BGR and ``boxes (N, 4)`` -> per-detection features/embeddings."""
        ...

    def embed_tracklets(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """``K`` windows, each ``(T_k, *F)`` with ``T_k >= 1`` -> ``(K, E)`` L2-normalised."""
        ...


class MeanPoolEmbedder:
    """Tracklet embedding = L2-normalised mean of the window's per-frame vectors.

    With ``vector_fn`` it is a full embedder (``vector_fn(frame, boxes) -> (N, E)``); without it,
    it only pools (the tracker feeds it vectors that came with the detections).
    """

    def __init__(
        self, vector_fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    ) -> None:
        self.vector_fn = vector_fn

    def embed_frame(self, frame: np.ndarray, boxes_xyxy: np.ndarray) -> FrameFeatures:
        if self.vector_fn is None:
            raise RuntimeError("MeanPoolEmbedder has no vector_fn; pass embeddings in detections")
        vecs = l2_normalize(np.asarray(self.vector_fn(frame, boxes_xyxy), dtype=np.float32))
        return FrameFeatures(features=vecs, embeddings=vecs)

    def embed_tracklets(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        if not windows:
            return np.zeros((0, 0), dtype=np.float32)
        return l2_normalize(
            np.stack([np.asarray(w, dtype=np.float32).mean(axis=0) for w in windows])
        )


class CgclipEmbedder:
    """Adapter from the CG-CLIP model API (DEVELOPING.md) to :class:`Embedder`.

    ``model.encode_frames((N, 3, H, W)) -> (N, L, D)`` tokens and
    ``model.encode_tracklet((B, T, L, D)) -> (B, E)``; ``crop_fn(frame, boxes, preprocess)``
    makes the normalised crops (default: ``cgclip.model.crop_boxes``). Windows store the
    tokens as float16 numpy arrays to keep a 30-player scene in tens of megabytes.
    """

    def __init__(
        self,
        model: Any,
        *,
        device: str = "cpu",
        crop_fn: Callable[[np.ndarray, np.ndarray, Any], Any] | None = None,
        batch_size: int = 64,
    ) -> None:
        import torch

        if crop_fn is None:  # the model package lands separately; import at the edge
            from cgclip.model import crop_boxes as crop_fn
        self.model = model.eval().to(device) if hasattr(model, "eval") else model
        self.device = torch.device(device)
        self.crop_fn = crop_fn
        self.batch_size = int(batch_size)

    def embed_frame(self, frame: np.ndarray, boxes_xyxy: np.ndarray) -> FrameFeatures:
        import torch

        boxes = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return FrameFeatures(np.zeros((0, 0, 0), np.float16), np.zeros((0, 0), np.float32))
        crops = torch.as_tensor(self.crop_fn(frame, boxes, self.model.preprocess))
        tokens, embs = [], []
        with torch.inference_mode():
            for i in range(0, len(crops), self.batch_size):
                tok = self.model.encode_frames(crops[i : i + self.batch_size].to(self.device))
                emb = self.model.encode_tracklet(tok[:, None])  # a one-frame tracklet per crop
                tokens.append(tok.float().cpu().numpy().astype(np.float16))
                embs.append(emb.float().cpu().numpy())
        return FrameFeatures(np.concatenate(tokens), l2_normalize(np.concatenate(embs)))

    def embed_tracklets(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        if not windows:
            return np.zeros((0, 0), dtype=np.float32)
        out: list[np.ndarray | None] = [None] * len(windows)
        by_len: dict[int, list[int]] = {}
        for i, w in enumerate(windows):  # equal-length windows share one batched TFE call
            by_len.setdefault(len(w), []).append(i)
        with torch.inference_mode():
            for idx in by_len.values():
                batch = torch.from_numpy(np.stack([windows[i] for i in idx]).astype(np.float32))
                emb = self.model.encode_tracklet(batch.to(self.device)).float().cpu().numpy()
                for k, i in enumerate(idx):
                    out[i] = emb[k]
        return l2_normalize(np.stack(out))


def build_embedder(reid: str | None, *, device: str = "cpu") -> Embedder | None:
    """Map the ``--reid`` value to an embedder: ``none`` -> ``None`` (motion only).

    ``clip`` and checkpoint paths need the CG-CLIP model package, which this build does not
    include yet; they raise a one-line :class:`UserError` instead of failing later.
    """
    if reid is None or str(reid).lower() == "none":
        return None
    if str(reid).lower() != "clip":
        path = Path(reid)
        if not path.exists():
            raise UserError(
                f"{path}: ReID checkpoint not found; give a cgclip .safetensors checkpoint, "
                "'clip' for pretrained CLIP, or 'none' for motion-only tracking"
            )
    raise UserError(
        f"--reid {reid}: the CG-CLIP embedder is not available in this build of the tracker; "
        "use --reid none (motion only) for now"
    )
