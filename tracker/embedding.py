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
    makes the normalised crops (default: ``cgclip.model.crop_boxes``). A track's window keeps only
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
    ) -> None:
        import torch

        self.name = name or f"cgclip:{getattr(model, 'name', type(model).__name__)}"
        if crop_fn is None:  # import at the edge: cgclip.model pulls in open_clip
            from cgclip.model import crop_boxes as crop_fn
        self.device = resolve_device(device)
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
        crops = torch.as_tensor(self.crop_fn(frame, boxes, self.model.preprocess))
        tokens, embs = [], []
        with torch.inference_mode():
            for i in range(0, len(crops), self.batch_size):
                chunk = crops[i : i + self.batch_size].to(self.device, non_blocking=True)
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


def resolve_device(device: str) -> Any:
    """``torch.device`` for ``--device``; a one-line :class:`UserError` when it cannot be used."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UserError(
            f"--device {device!r} is not a torch device; use cpu, cuda or cuda:N"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(
                f"--device {device}: CUDA is not available on this machine (torch "
                f"{torch.__version__}); use --device cpu"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserError(
                f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"--device {device}: MPS is not available; use --device cpu")
    return dev


CLIP_PREFIX = "clip:"
CLIP_WEIGHTS_FILE = "open_clip_pytorch_model.bin"


def build_embedder(
    reid: str | None,
    *,
    device: str = "cpu",
    backend: str = "eager",
    precision: str | None = None,
) -> Embedder | None:
    """Map a ``--reid`` value to an embedder.

    - ``none`` (or ``None``): ``None``, motion-only tracking;
    - ``clip``: pretrained CLIP ViT-B/16 (``openai``, downloaded once by open_clip into the
      Hugging Face cache) with mean pooling in place of the untrained TFE; ``clip:PATH`` reads
      those weights from a local open_clip file;
    - anything else is a cgclip checkpoint (``.safetensors`` + ``.json`` sidecar), loaded with
      :func:`cgclip.load_model`.

    ``backend``/``precision`` run the image encoder through :mod:`cgclip.runtime` (``eager`` fp32
    is the model itself; ONNX/TensorRT artefacts of a checkpoint are kept beside it). Every
    failure (offline download, missing file, a file that is not a cgclip checkpoint, a device or
    backend that is not there) is a one-line :class:`UserError` naming the alternatives.
    """
    if reid is None or str(reid).strip().lower() == "none":
        return None
    reid = str(reid).strip()
    dev = resolve_device(device)
    artefacts: dict[str, Any] = {}
    if reid.lower() == "clip":
        model = _clip_model(_download_clip_weights(), dev)
        name = "clip:ViT-B-16/openai (mean pooling)"
    elif reid.lower().startswith(CLIP_PREFIX):
        path = Path(reid[len(CLIP_PREFIX) :]).expanduser()
        if not path.is_file():
            raise UserError(
                f"--reid {reid}: no such file; give the path of open_clip's ViT-B-16 'openai' "
                f"weights ({CLIP_WEIGHTS_FILE}), or use --reid clip (download), a cgclip "
                "checkpoint, or --reid none"
            )
        try:
            model = _clip_model(path, dev)
        except UserError as err:
            raise UserError(f"--reid {reid}: {err}") from None
        name = f"clip:{path} (mean pooling)"
    else:
        path = Path(reid)
        model = _cgclip_checkpoint(path, dev)
        name = f"cgclip:{model.name} ({reid})"
        artefacts = {"cache_dir": path.resolve().parent, "prefix": path.stem}
    if backend != "eager" or precision not in (None, "fp32"):
        from cgclip.runtime import make_backend

        model = make_backend(model, backend, precision=precision, device=dev, **artefacts)
        name += f", {model.describe()}"
    return CgclipEmbedder(model, device=str(dev), name=name)


def _clip_model(weights: Path, device: Any) -> Any:
    """Pretrained CLIP ViT-B/16 as a CG-CLIP model with mean pooling (TFE would be untrained)."""
    import cgclip

    return cgclip.create_model("ViT-B-16", pretrained=str(weights), pooling="mean", device=device)


def _download_clip_weights() -> Path:
    """The open_clip ``ViT-B-16`` / ``openai`` weights file, downloaded once into the cache."""
    from open_clip.pretrained import download_pretrained

    from cgclip.model.pretrained import pretrained_tag_config

    cfg = pretrained_tag_config("ViT-B-16", "openai") or {}
    repo = str(cfg.get("hf_hub", "")).rstrip("/")
    source = f"https://huggingface.co/{repo}" if repo else cfg.get("url", "the open_clip hub")
    try:
        path, reason = download_pretrained(cfg), "no download source"
    except Exception as err:  # network errors come in many types; all mean "not available"
        path, reason = None, (str(err).strip().splitlines() or [type(err).__name__])[0]
    if not path:
        reason = reason.split(". ")[0]
        raise UserError(
            f"--reid clip: could not download the CLIP ViT-B/16 'openai' weights "
            f"{CLIP_WEIGHTS_FILE} from {source} ({reason}); download that file where there is "
            f"internet and pass --reid clip:/path/to/{CLIP_WEIGHTS_FILE}, or use --reid "
            "model.safetensors (a cgclip checkpoint) or --reid none (motion only)"
        )
    return Path(path)


def _cgclip_checkpoint(path: Path, device: Any) -> Any:
    """``cgclip.load_model(path)`` with errors that say what ``--reid`` accepts."""
    import cgclip

    if not path.exists():
        raise UserError(f"--reid {path}: no such file; use 'clip', 'none' or a cgclip checkpoint")
    if path.is_file() and path.suffix == ".safetensors" and not _is_cgclip_safetensors(path):
        raise UserError(
            f"--reid {path}: not a cgclip checkpoint (its safetensors header has no "
            '"format": "cgclip"); for open_clip CLIP weights use --reid clip:PATH, or train one '
            "with python -m cgclip.train"
        )
    try:
        return cgclip.load_model(path, device=device)
    except UserError as err:
        raise UserError(f"--reid {path}: {err}") from None


def _is_cgclip_safetensors(path: Path) -> bool:
    """True when the file's safetensors metadata says ``format: cgclip`` (read from the header
    only: 8 bytes of length, then that much JSON)."""
    import json
    import struct

    try:
        with path.open("rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            if n > 100_000_000:
                return False
            header = json.loads(fh.read(n))
    except (OSError, struct.error, ValueError, UnicodeDecodeError):
        return False
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return isinstance(meta, dict) and meta.get("format") == "cgclip"
