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
- :func:`build_embedder` maps the CLI's ``--reid`` value to one of them (or ``None``) through
  :mod:`cgclip.runtime.load`, the one resolver (this module only adapts what it returns).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

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
        """``K`` windows, each ``(T_k, *F)`` with ``T_k >= 1`` (an array, or a sequence of
        ``T_k`` per-frame arrays) -> ``(K, E)`` L2-normalised."""
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
        out: np.ndarray | None = None
        for idx in _by_length(windows).values():  # one (K, T, E) array per window length
            pooled = np.asarray([windows[i] for i in idx], dtype=np.float32).mean(axis=1)
            if out is None:
                out = np.empty((len(windows), pooled.shape[1]), np.float32)
            out[idx] = pooled
        return l2_normalize(out)


def _by_length(windows: Sequence[Any]) -> dict[int, list[int]]:
    """Window indices grouped by window length (equal lengths batch into one array)."""
    groups: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        groups.setdefault(len(w), []).append(i)
    return groups


class CgclipEmbedder:
    """Adapter from the CG-CLIP model API (DEVELOPING.md) to :class:`Embedder`.

    ``model.encode_frames((N, 3, H, W)) -> (N, L, D)`` tokens and
    ``model.encode_tracklet((B, T, L, D)) -> (B, E)``; ``crop_fn(frame, boxes, preprocess)``
    cuts the crops as ``(N, H, W, 3)`` uint8 RGB (default: ``cgclip.model.crop_pixels``), and
    ``model.preprocess.normalize`` turns them into the encoder's input on its device, so the host
    copies bytes, not floats, and does no per-pixel arithmetic. ``crop_on_device`` (default:
    on CUDA, with the default crops) instead uploads the frame once and cuts and resizes every
    crop there (``cgclip.model.crop_on_device``). A track's window keeps only
    the tokens its tracklet embedding reads, which ``encode_frames`` returns by default
    (``model.tokens_per_frame``): all ``1 + P`` when the embedding includes TFE's ``s`` over every
    token, the CLS token alone otherwise (the default ``f``, or ``--reid clip``). Windows hold float16 numpy arrays on the host, so a long video's memory is
    bounded by (tracks alive) x W x L x D x 2 bytes whatever the device.
    """

    def __init__(
        self,
        model: Any,
        *,
        device: str = "cpu",
        crop_fn: Callable[[np.ndarray, np.ndarray, Any], Any] | None = None,
        batch_size: int = 64,
        name: str | None = None,
        crop_on_device: bool | None = None,
    ) -> None:
        import torch

        self.name = name or f"cgclip:{getattr(model, 'name', type(model).__name__)}"
        default_crops = crop_fn is None
        if default_crops:  # import at the edge: cgclip.model pulls in open_clip
            from cgclip.model import crop_pixels as crop_fn
        from cgclip.runtime.load import resolve_device

        self.device = resolve_device(device)
        # Cut and resize the crops on the GPU (cgclip.model.crop_on_device): by default on CUDA
        # with the default crops; on the CPU cv2's resize is faster and is the training path.
        if crop_on_device is None:
            crop_on_device = default_crops and self.device.type == "cuda"
        self.crop_on_device = bool(crop_on_device)
        self.model = model.eval().to(self.device) if hasattr(model, "eval") else model
        self.crop_fn = crop_fn
        self.batch_size = int(batch_size)
        self._torch = torch

    @property
    def embedding_dim(self) -> int | None:
        return getattr(self.model, "embedding_dim", None)

    def embed_frame(self, frame: np.ndarray, boxes_xyxy: np.ndarray) -> FrameFeatures:
        """One batched encoder pass over the frame's ``N`` boxes -> tokens ``(N, L, D)`` float16
        and single-frame embeddings ``(N, E)`` (TFE over a window of one)."""
        torch = self._torch
        boxes = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return FrameFeatures(np.zeros((0, 0, 0), np.float16), np.zeros((0, 0), np.float32))
        preprocess = self.model.preprocess
        tokens, embs = [], []
        with torch.inference_mode():
            if self.crop_on_device:
                from cgclip.model import crop_on_device

                crops = crop_on_device(frame, boxes, preprocess, self.device)  # (N, 3, H, W)
            else:
                crops = torch.from_numpy(self.crop_fn(frame, boxes, preprocess))  # (N, H, W, 3)
            for i in range(0, len(crops), self.batch_size):
                chunk = crops[i : i + self.batch_size]
                if not self.crop_on_device:  # uint8 up, normalised on the device
                    chunk = preprocess.normalize(chunk.to(self.device))
                # (n, L, D): by default the model keeps the tokens its embedding reads
                tok = self.model.encode_frames(chunk)
                emb = self.model.encode_tracklet(tok[:, None])  # a one-frame tracklet per crop
                tokens.append(tok.to(torch.float16).cpu().numpy())
                embs.append(emb.float().cpu().numpy())
        return FrameFeatures(np.concatenate(tokens), l2_normalize(np.concatenate(embs)))

    def embed_tracklets(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """``K`` windows ``(T_k, L, D)`` -> ``(K, E)``: equal-length windows share one TFE call."""
        torch = self._torch
        if not windows:
            return np.zeros((0, 0), dtype=np.float32)
        out: list[np.ndarray | None] = [None] * len(windows)
        with torch.inference_mode():
            for idx in _by_length(windows).values():
                batch = torch.from_numpy(np.asarray([windows[i] for i in idx]))
                batch = batch.to(self.device, non_blocking=True).float()
                emb = self.model.encode_tracklet(batch).float().cpu().numpy()
                for k, i in enumerate(idx):
                    out[i] = emb[k]
        return l2_normalize(np.stack(out))


def build_embedder(
    reid: str | None,
    *,
    device: str = "auto",
    backend: str = "eager",
    precision: str | None = None,
) -> Embedder | None:
    """Map a ``--reid`` value (``none | clip | clip:PATH | checkpoint``) to an embedder.

    The value is resolved by :func:`cgclip.runtime.load.load_reid` (``none`` gives ``None``,
    motion-only tracking); ``backend``/``precision`` run the image encoder through
    :mod:`cgclip.runtime` (eager fp32 is the model itself). Every failure is a one-line
    :class:`~cgclip.errors.UserError` naming the alternatives.
    """
    from cgclip.runtime.load import is_none, load_reid

    if is_none(reid):  # no torch import for motion-only tracking
        return None
    loaded = load_reid(reid, backend=backend, precision=precision, device=device)
    return CgclipEmbedder(loaded.model, device=str(loaded.device), name=loaded.name)


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Rows (or ``axis``) scaled to unit length; zero vectors stay zero."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), 1e-12)
