"""The Embedder protocol: mean pooling, the CG-CLIP adapter (on a tiny stand-in model with the
contract's shapes), the --reid options, and appearance re-identification through real frames."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv
import torch

from cgclip.errors import UserError
from tracker import (
    CgclipEmbedder,
    Embedder,
    MeanPoolEmbedder,
    Tracker,
    TrackerConfig,
    build_embedder,
)


class TinyCgclip(torch.nn.Module):
    """Stand-in with the model API: crops (N, 3, 16, 8) -> tokens (N, 4, 6) -> tracklets (B, 6).

    Tokens are a fixed linear map of the crop's per-row-band mean colour, so two crops of the
    same colours embed alike; encode_tracklet mean-pools over frames and tokens."""

    preprocess = {"size": (16, 8), "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(3, 6, bias=False)
        with torch.no_grad():
            self.proj.weight.copy_(
                torch.tensor(
                    [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, -1, 0], [0, 1, -1], [-1, 0, 1.0]]
                )
            )

    def encode_frames(self, crops: torch.Tensor) -> torch.Tensor:
        bands = (
            crops.reshape(crops.shape[0], 3, 4, -1).mean(-1).transpose(1, 2)
        )  # (N, 4 bands, 3 rgb)
        return self.proj(bands)  # (N, L=4, D=6)

    def encode_tracklet(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(tokens.mean(dim=(1, 2)), dim=-1)  # (B, 6)


def crop_fn(frame: np.ndarray, boxes: np.ndarray, preprocess) -> torch.Tensor:
    import cv2

    h, w = preprocess["size"]
    crops = []
    for x1, y1, x2, y2 in boxes.astype(int):
        crop = frame[max(y1, 0) : max(y2, 1), max(x1, 0) : max(x2, 1)]
        crop = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
        crops.append(torch.from_numpy(crop[:, :, ::-1].copy()).permute(2, 0, 1).float() / 255)
    return torch.stack(crops)


def test_mean_pool_embedder():
    pool = MeanPoolEmbedder(lambda frame, boxes: np.ones((len(boxes), 4)))
    ff = pool.embed_frame(np.zeros((10, 10, 3)), np.zeros((2, 4)))
    assert ff.embeddings.shape == (2, 4) and np.allclose(np.linalg.norm(ff.embeddings, axis=1), 1)
    out = pool.embed_tracklets([np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.0, 2.0]])])
    assert np.allclose(out, [[np.sqrt(0.5), np.sqrt(0.5)], [0.0, 1.0]])
    assert isinstance(pool, Embedder)


def test_cgclip_embedder_shapes_and_batched_tracklets():
    emb = CgclipEmbedder(TinyCgclip(), crop_fn=crop_fn, batch_size=2)
    assert isinstance(emb, Embedder)
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[:, :40] = (0, 0, 255)  # red left half (BGR)
    frame[:, 40:] = (255, 0, 0)  # blue right half
    boxes = np.array([[0, 0, 20, 50], [45, 0, 70, 50], [5, 5, 25, 55]], dtype=np.float32)
    ff = emb.embed_frame(frame, boxes)
    assert ff.features.shape == (3, 4, 6) and ff.features.dtype == np.float16
    assert ff.embeddings.shape == (3, 6)
    assert ff.embeddings[0] @ ff.embeddings[2] > 0.99 > ff.embeddings[0] @ ff.embeddings[1]
    windows = [ff.features[[0, 2]], ff.features[[1]], ff.features[[0, 1]]]  # T = 2, 1, 2
    batched = emb.embed_tracklets(windows)
    single = np.concatenate([emb.embed_tracklets([w]) for w in windows])
    assert batched.shape == (3, 6) and np.allclose(batched, single, atol=1e-6)


def test_build_embedder_options(tmp_path):
    assert build_embedder("none") is None and build_embedder(None) is None
    with pytest.raises(UserError, match="not available in this build"):
        build_embedder("clip")
    with pytest.raises(UserError, match="checkpoint not found"):
        build_embedder(str(tmp_path / "nope.safetensors"))
    fake = tmp_path / "model.safetensors"
    fake.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not available in this build"):
        build_embedder(str(fake))


def _red_and_blue(embedder) -> tuple[set[int], set[int]]:
    """Blue stands still; red walks out, is away 60 frames, and comes back somewhere else."""
    tracker = Tracker(
        TrackerConfig(min_hits=2, max_time_lost=20, reid_thresh=0.05), embedder=embedder
    )
    red_ids, blue_ids = set(), set()
    for f in range(100):
        frame = np.full((200, 400, 3), 40, np.uint8)
        frame[50:140, 300:330] = (255, 0, 0)
        boxes = [[300, 50, 330, 140]]
        red = (
            [20 + 4 * f, 60, 50 + 4 * f, 150]
            if f < 15
            else [200, 100, 230, 190]
            if f >= 75
            else None
        )
        if red is not None:
            frame[red[1] : red[3], red[0] : red[2]] = (0, 0, 255)
            boxes.append(red)
        d = sv.Detections(
            xyxy=np.array(boxes, np.float32), confidence=np.full(len(boxes), 0.9, np.float32)
        )
        out = tracker.update(d, frame)
        for box, tid in zip(out.xyxy, out.tracker_id, strict=True):
            (blue_ids if box[0] == 300 else red_ids).add(int(tid))
    return blue_ids, red_ids


def test_tracker_reidentifies_by_appearance_from_frames():
    blue, red = _red_and_blue(CgclipEmbedder(TinyCgclip(), crop_fn=crop_fn))
    assert blue == {1} and red == {2}
    blue, red = _red_and_blue(None)  # motion only: the returning player is a new id
    assert blue == {1} and red == {2, 3}


def test_cgclip_embedder_drops_in_with_the_real_tiny_model():
    """The adapter on cgclip's own ``test-tiny`` model and ``crop_boxes`` (random weights)."""
    import cgclip

    model = cgclip.create_model("test-tiny")
    emb = CgclipEmbedder(model)  # default crop function: cgclip.model.crop_boxes
    frame = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    ff = emb.embed_frame(frame, np.array([[10, 10, 50, 120], [100, 20, 140, 150]], np.float32))
    assert ff.features.shape[0] == 2 and ff.embeddings.shape == (2, model.embedding_dim)
    tracks = emb.embed_tracklets([ff.features[:1], np.concatenate([ff.features, ff.features])])
    assert tracks.shape == (2, model.embedding_dim)
    assert np.allclose(np.linalg.norm(tracks, axis=1), 1, atol=1e-5)
    tracker = Tracker(TrackerConfig(min_hits=1), embedder=emb)
    d = sv.Detections(
        xyxy=np.array([[10, 10, 50, 120]], np.float32), confidence=np.array([0.9], np.float32)
    )
    assert tracker.update(d, frame).tracker_id.tolist() == [1]
    assert tracker.tracks[0].has_embedding
