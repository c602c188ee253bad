"""Per-detection CG-CLIP features of MOT sequences, computed once and replayed.

Tuning runs the tracker hundreds of times over the same public detections; the image encoder's
output for a detection does not depend on the tracker settings, so it is computed once per
(checkpoint, sequence) with the real :class:`tracker.embedding.CgclipEmbedder` (the exact code
``tracker.run --reid`` uses, one batched pass per frame) and stored next to the data:

    CACHE/<checkpoint digest>-<parts>/<split>/<seq>.npz        frame (N,), box xyxy (N, 4),
                                                               embedding (N, E) float32
    CACHE/<checkpoint digest>-<parts>/<split>/<seq>.tokens.npy (N, L, D) float16, memory-mapped

``<parts>`` is the embedding the model reads (``f``, ``s``, ``f+s``...): it decides both the
single-frame embedding and which tokens a window keeps, so it is part of the key.

Rows follow ``read_mot(det.txt)`` order. :class:`ReplayEmbedder` serves them back to
:class:`tracker.Tracker` (and the same embeddings go to the BoxMOT peers), while the tracklet
embeddings still run TFE on the fly over each track's window, as in a live run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from cgclip.io.atomic import atomic_path
from cgclip.io.mot import DET_TXT, find_sequences, read_mot, read_seqinfo, rows_to_xyxy, write_mot
from cgclip.io.video import open_video
from tracker.config import TrackerConfig
from tracker.embedding import EMBEDDING_KEY, CgclipEmbedder, FrameFeatures
from tracker.outputs import MotRows
from tracker.pipeline import iter_tracked, open_source
from tracker.tracker import Tracker


def checkpoint_digest(path: str | Path) -> str:
    """First 16 hex digits of the SHA-256 of a checkpoint's weights (the cache key)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def load_embedder(
    checkpoint: str | Path, *, embedding: Sequence[str] | None = None, device: str = "cpu"
) -> CgclipEmbedder:
    """The tracker's :class:`CgclipEmbedder` for ``checkpoint``; ``embedding`` (e.g. ``("s",)``)
    overrides the checkpoint's embedding parts (``ModelConfig.embedding``)."""
    import cgclip

    model = cgclip.load_model(checkpoint, device=device)
    if embedding:  # replace() re-runs the config's validation of the parts
        model.config = dataclasses.replace(model.config, embedding=tuple(embedding))
    return CgclipEmbedder(model, device=device)


def cache_key(checkpoint: str | Path, embedder: CgclipEmbedder) -> str:
    """``<checkpoint digest>-<embedding parts>``, the cache folder name."""
    parts = "+".join(embedder.model.config.embedding_parts)
    return f"{checkpoint_digest(checkpoint)}-{parts}"


def embed_sequence(
    seq_dir: Path, embedder: CgclipEmbedder, out: Path, video: Path | None = None
) -> Path:
    """Embed every ``det.txt`` box of a sequence, frame by frame; writes ``out`` (.npz) and its
    ``.tokens.npy``. Returns ``out``. Frames come from ``seq_dir/img1``, or from ``video`` (a
    sequence folder that holds only ``det.txt`` and ``seqinfo.ini`` beside a video file)."""
    rows = read_mot(seq_dir / DET_TXT, kind="det")
    boxes = rows_to_xyxy(rows)  # as ReplayDetector builds them
    frames = rows[:, 0].astype(np.int64)
    length = read_seqinfo(seq_dir).seq_length
    starts = np.searchsorted(frames, np.arange(1, length + 2))
    embs: np.ndarray | None = None
    tokens: np.ndarray | None = None
    reader = open_video(seq_dir / "img1" if video is None else video)
    try:
        frames_in = itertools.islice(reader, length)  # a video may run past the sequence
        for fid, frame in enumerate(
            tqdm(frames_in, total=length, desc=seq_dir.name, leave=False), 1
        ):
            lo, hi = starts[fid - 1], starts[fid]
            if hi == lo:
                continue
            ff = embedder.embed_frame(frame, boxes[lo:hi])
            if embs is None:
                embs = np.zeros((len(rows), ff.embeddings.shape[1]), np.float32)
                tokens = np.zeros((len(rows), *ff.features.shape[1:]), np.float16)
            embs[lo:hi], tokens[lo:hi] = ff.embeddings, ff.features
    finally:
        reader.close()
    if embs is None:
        raise ValueError(f"{seq_dir}: det.txt has no detections to embed")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(tokens_path(out)) as tmp, open(tmp, "wb") as fh:
        np.save(fh, tokens)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, frame=frames, box=boxes, embedding=embs)
    return out


def tokens_path(npz: Path) -> Path:
    return npz.with_name(npz.name.replace(".npz", ".tokens.npy"))


def ensure_cache(
    split_dir: Path,
    checkpoint: Path,
    cache_root: Path,
    *,
    seqs: Sequence[str] | None = None,
    embedding: Sequence[str] | None = None,
    device: str = "cpu",
    videos: Mapping[str, Path] | None = None,
) -> Path:
    """Embed every sequence of ``split_dir`` (or only ``seqs``) not yet cached for
    ``checkpoint`` (with ``embedding`` parts, default the checkpoint's); returns the split's
    cache folder. ``videos``: sequence name -> the video its frames come from (default its
    ``img1`` folder)."""
    embedder = load_embedder(checkpoint, embedding=embedding, device=device)
    folder = cache_root / cache_key(checkpoint, embedder) / split_dir.name
    todo = [
        s
        for s in find_sequences(split_dir, DET_TXT)
        if (seqs is None or s.name in seqs) and not (folder / f"{s.name}.npz").is_file()
    ]
    if todo:
        for seq in todo:
            video = (videos or {}).get(seq.name)
            embed_sequence(seq, embedder, folder / f"{seq.name}.npz", video)
    return folder


class ReplayEmbedder:
    """:class:`tracker.embedding.Embedder` that serves one sequence's cached detection features.

    Call :meth:`at` with the frame number before ``Tracker.update``; ``embed_frame`` then returns
    the cached rows of the boxes it is given (the tracker drops low-confidence boxes first, so rows
    are matched by box). ``embed_tracklets`` runs the model's TFE, as a live run does.
    """

    def __init__(self, npz: Path, tracklet_embedder: CgclipEmbedder | None) -> None:
        data = np.load(npz)
        self.frames, self.boxes, self.embeddings = data["frame"], data["box"], data["embedding"]
        self.tokens = np.load(tokens_path(npz), mmap_mode="r")
        self.inner = tracklet_embedder
        self._starts = np.searchsorted(self.frames, np.arange(1, int(self.frames.max()) + 2))
        self._frame = 0
        self.served = 0  # detections embed_frame was asked for (the encoder's work in a live run)

    def at(self, frame_id: int) -> None:
        self._frame = int(frame_id)

    def rows(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Cache rows of this frame's ``boxes (K, 4)``."""
        f = self._frame
        lo, hi = (self._starts[f - 1], self._starts[f]) if f < len(self._starts) else (0, 0)
        cand = self.boxes[lo:hi]
        if len(boxes_xyxy) == 0:
            return np.zeros(0, np.int64)
        dist = np.abs(np.asarray(boxes_xyxy, np.float64)[:, None] - cand[None]).sum(-1)
        best = dist.argmin(axis=1)
        if (dist[np.arange(len(best)), best] > 0.05).any():
            raise ValueError(f"frame {f}: a box is not in the cached det.txt rows")
        return lo + best

    def embed_frame(self, frame: np.ndarray, boxes_xyxy: np.ndarray) -> FrameFeatures:
        rows = self.rows(boxes_xyxy)
        self.served += len(rows)
        return FrameFeatures(np.asarray(self.tokens[rows]), self.embeddings[rows])

    def embed_tracklets(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        if self.inner is None:
            raise RuntimeError("ReplayEmbedder built without a tracklet embedder")
        return self.inner.embed_tracklets(windows)


_DUMMY_FRAME = np.zeros((1, 1, 3), np.uint8)  # the replayed embedder never reads pixels


class _CachedFeatureDetector:
    """The sequence's :class:`ReplayDetector` that also points the :class:`ReplayEmbedder` at the
    frame it serves (one frame per call, just before ``Tracker.update``), attaches the cached
    single-frame embeddings for ``pooling="mean"`` and counts the detections the tracker keeps."""

    batch_size = 1

    def __init__(self, seq_dir, replay, *, pooling, low_thresh, stats) -> None:
        from tracker.detectors import ReplayDetector

        self.inner = ReplayDetector(seq_dir / DET_TXT)
        self.replay, self.pooling, self.low_thresh, self.stats = replay, pooling, low_thresh, stats
        self.check_video = self.inner.check_video

    def detect(self, frames, frame_ids):
        (det,) = self.inner.detect(frames, frame_ids)
        self.replay.at(frame_ids[0])
        if self.stats is not None:
            kept = int((np.asarray(det.confidence) >= self.low_thresh).sum())
            self.stats["detections"] = self.stats.get("detections", 0) + kept
        if self.pooling == "mean" and len(det):
            det.data[EMBEDDING_KEY] = self.replay.embeddings[self.replay.rows(det.xyxy)]
        return [det]


def track_sequence_replayed(
    seq_dir: Path,
    config: TrackerConfig,
    cache: Path,
    tracklet_embedder: CgclipEmbedder | None,
    *,
    pooling: str = "tfe",
    stats: dict[str, int] | None = None,
) -> np.ndarray:
    """Our tracker on a sequence's public detections with cached CG-CLIP features.

    ``pooling="tfe"``: detections bring tokens, tracks run TFE over their windows (the live
    ``--reid`` path). ``"mean"``: detections bring only their single-frame embedding in
    ``data["embedding"]`` and tracks mean-pool it (what the BoxMOT peers receive).
    ``stats`` (optional) accumulates ``embedded`` (crops the encoder would have run on),
    ``detections`` (those the tracker kept), and per sequence the final appearance ``trust`` and
    ``separability``, and re-identification's ``reid_trust`` and ``reid_separability``. Returns MOT result rows ``(N, 10)`` with the
    tentative frames of confirmed tracks, as ``tracker.run`` writes them.
    """
    replay = ReplayEmbedder(cache / f"{seq_dir.name}.npz", tracklet_embedder)
    detector = _CachedFeatureDetector(
        seq_dir, replay, pooling=pooling, low_thresh=config.low_thresh, stats=stats
    )
    # no pixels unless camera-motion compensation needs them; a placeholder makes the tracker
    # call the (replayed) embedder
    source = open_source(seq_dir, decode=config.cmc, placeholder=_DUMMY_FRAME)
    tracker = Tracker(
        config,
        embedder=replay if pooling == "tfe" else None,
        frame_rate=source.fps,
        image_size=source.info.size,  # the placeholder frames have no size
    )
    rows = MotRows()
    for _ in iter_tracked(source, detector, tracker, sinks=[rows]):
        pass
    if stats is not None:
        stats["embedded"] = stats.get("embedded", 0) + replay.served
        stats.setdefault("trust", []).append(round(tracker.trust, 4))  # at the end, per sequence
        stats.setdefault("separability", []).append(round(tracker.separability, 4))
        stats.setdefault("reid_trust", []).append(round(tracker.reid_trust, 4))
        stats.setdefault("reid_separability", []).append(round(tracker.reid_separability, 4))
    return rows.rows


def run_ours_replayed(
    split_dir: Path,
    seq_names: Sequence[str],
    config_for: Any,
    cache: Path,
    tracklet_embedder: CgclipEmbedder | None,
    out_dir: Path,
    *,
    pooling: str = "tfe",
    stats: dict[str, int] | None = None,
) -> Path:
    """Track ``seq_names`` of a split (config from ``config_for(seq_name)``); ``out_dir/<seq>.txt``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in seq_names:
        rows = track_sequence_replayed(
            split_dir / name,
            config_for(name),
            cache,
            tracklet_embedder,
            pooling=pooling,
            stats=stats,
        )
        write_mot(out_dir / f"{name}.txt", rows)
    return out_dir
