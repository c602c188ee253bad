"""The Embedder protocol: mean pooling, the CG-CLIP adapter (on a tiny stand-in model with the
contract's shapes), the --reid options, and appearance re-identification through real frames."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv
import torch

import cgclip
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

    preprocess = cgclip.Preprocess(size=(16, 8), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))

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


def crop_fn(frame: np.ndarray, boxes: np.ndarray, preprocess) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB crops; the embedder normalises them with the model's preprocess."""
    import cv2

    h, w = preprocess.size
    crops = []
    for x1, y1, x2, y2 in boxes.astype(int):
        crop = frame[max(y1, 0) : max(y2, 1), max(x1, 0) : max(x2, 1)]
        crops.append(cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)[:, :, ::-1])
    return np.ascontiguousarray(np.stack(crops))


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


def test_build_embedder_none_and_checkpoint(tiny_checkpoint):
    assert build_embedder("none") is None and build_embedder(None) is None
    emb = build_embedder(str(tiny_checkpoint), device="cpu")
    assert isinstance(emb, CgclipEmbedder) and emb.model.name == "test-tiny"
    assert emb.embedding_dim == emb.model.embedding_dim and "tiny.safetensors" in emb.name
    ff = emb.embed_frame(np.zeros((120, 160, 3), np.uint8), np.array([[10, 10, 40, 100]]))
    # test-tiny embeds with f (the frame-averaged CLS feature, the ablation's default), which
    # never reads patch tokens, so windows keep the CLS token only: (N, 1, D) float16
    assert emb.model.config.embedding_parts == ("f",)
    assert ff.features.shape == (1, 1, 64)
    assert ff.features.dtype == np.float16


def test_tfe_embedding_windows_keep_every_token(tiny_checkpoint):
    """With the TFE feature s in the embedding, TFE attends over all 1 + P tokens of each frame,
    so the windows must keep them all."""
    import cgclip

    model = cgclip.load_model(tiny_checkpoint)
    model.config.embedding = ("f", "s")
    emb = CgclipEmbedder(model)
    ff = emb.embed_frame(np.zeros((120, 160, 3), np.uint8), np.array([[10, 10, 40, 100]] * 2))
    assert ff.features.shape == (2, model.config.tokens_per_frame, 64)
    assert model.config.tokens_per_frame > 1
    assert ff.embeddings.shape == (2, model.embedding_dim)


def test_cls_only_models_store_only_the_cls_token(make_tiny_model):
    """A mean-pooled model that embeds with the projected CLS (what ``--reid clip`` builds) never
    reads patch tokens, so track windows hold one token per frame."""
    model = make_tiny_model(pooling="mean")
    emb = CgclipEmbedder(model)
    boxes = np.array([[10, 10, 40, 100], [50, 20, 90, 110]], np.float32)
    frame = np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    ff = emb.embed_frame(frame, boxes)
    assert ff.features.shape == (2, 1, 64)
    # the stored CLS windows give exactly the embedding of the full model call
    crops = cgclip.crop_boxes(frame, boxes, model.preprocess)
    with torch.inference_mode():
        full = model.encode_tracklet(crops[None])  # one tracklet of the two frames
    assert np.allclose(emb.embed_tracklets([ff.features])[0], full[0].numpy(), atol=1e-3)


def _fail_download(*args, **kwargs):
    raise OSError("network is unreachable")


def test_reid_clip_offline_names_the_file_and_alternatives(monkeypatch):
    import open_clip.pretrained

    import cgclip.model.pretrained as pretrained

    monkeypatch.setattr(pretrained, "reachable", lambda host: True)  # the download itself fails
    monkeypatch.setattr(pretrained, "hf_offline", lambda: False)
    monkeypatch.setattr(open_clip.pretrained, "download_pretrained", _fail_download)
    with pytest.raises(UserError) as err:
        build_embedder("clip")
    msg = str(err.value)
    assert "\n" not in msg and "open_clip_pytorch_model.bin" in msg
    assert "network is unreachable" in msg
    for alternative in ("--reid none", "--reid clip:/path/to/", "cgclip checkpoint"):
        assert alternative in msg


def test_reid_bad_inputs(tmp_path, tiny_checkpoint):
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"  # a real safetensors file, not from cgclip
    save_file({"w": torch.zeros(2, 2)}, str(foreign))
    foreign.with_suffix(".json").write_text('{"format": "cgclip", "version": 1, "config": {}}')
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model\n")
    lone = tmp_path / "lone.safetensors"  # cgclip weights without their sidecar
    lone.write_bytes(tiny_checkpoint.read_bytes())
    state = tmp_path / "small_clip.bin"  # open_clip-style weights of the wrong architecture
    torch.save({"visual.proj": torch.zeros(3, 3)}, state)
    cases = {
        str(tmp_path / "nope.safetensors"): "no such file",
        str(foreign): "not a cgclip checkpoint",
        str(garbage): "not a cgclip checkpoint",
        str(notes): "not a cgclip checkpoint",
        str(lone): "no config sidecar",
        f"clip:{tmp_path / 'nope.bin'}": "no such file",
        f"clip:{state}": "do not fit",
    }
    for reid, needle in cases.items():
        with pytest.raises(UserError, match=needle) as err:
            build_embedder(reid)
        assert "\n" not in str(err.value) and str(err.value).startswith("--reid ")


def test_reid_device_checks(tiny_checkpoint):
    with pytest.raises(UserError, match="not a torch device"):
        build_embedder(str(tiny_checkpoint), device="banana")
    with pytest.raises(UserError, match="CUDA"):
        build_embedder(str(tiny_checkpoint), device="cuda:99")


def test_crops_cut_on_the_device_give_the_host_path_embeddings(tiny_checkpoint):
    """``crop_on_device`` (the default on CUDA) run here on the CPU: the same embeddings as the
    host crops up to resampling rounding."""
    import cv2

    frame = cv2.GaussianBlur(
        np.random.default_rng(2).integers(0, 255, (120, 160, 3), dtype=np.uint8), (0, 0), 2
    )
    boxes = np.array([[10, 10, 40, 100], [50, 20, 90, 110], [-5, 60, 30, 130]], np.float32)
    host = build_embedder(str(tiny_checkpoint), device="cpu")
    assert host.crop_on_device is False  # the CPU default: cv2, as in training
    on_device = CgclipEmbedder(host.model, crop_on_device=True)
    a, b = host.embed_frame(frame, boxes), on_device.embed_frame(frame, boxes)
    assert (a.embeddings * b.embeddings).sum(axis=1).min() > 0.999


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cgclip_embedder_on_cuda_matches_cpu(tiny_checkpoint):
    frame = np.random.default_rng(2).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 40, 100], [50, 20, 90, 110]], np.float32)
    cpu, gpu = (build_embedder(str(tiny_checkpoint), device=d) for d in ("cpu", "cuda"))
    assert gpu.crop_on_device  # the CUDA default
    gpu_host_crops = CgclipEmbedder(gpu.model, device="cuda", crop_on_device=False)
    a, b = cpu.embed_frame(frame, boxes), gpu_host_crops.embed_frame(frame, boxes)
    assert np.allclose(a.embeddings, b.embeddings, atol=1e-3)
    assert np.allclose(
        cpu.embed_tracklets([a.features]), gpu.embed_tracklets([b.features]), atol=1e-3
    )
    c = gpu.embed_frame(frame, boxes)  # crops cut on the GPU: resampling rounding only
    assert (a.embeddings * c.embeddings).sum(axis=1).min() > 0.999


def _red_and_blue(embedder) -> tuple[set[int], set[int]]:
    """Blue stands still; red walks for 40 frames (long enough for the gap-aged calibration to
    learn that these looks hold over a second), is away 60 frames, and comes back elsewhere."""
    tracker = Tracker(
        TrackerConfig(min_hits=2, max_time_lost=20, reid_thresh=0.05), embedder=embedder
    )
    red_ids, blue_ids = set(), set()
    for f in range(140):
        frame = np.full((200, 400, 3), 40, np.uint8)
        frame[50:140, 300:330] = (255, 0, 0)
        boxes = [[300, 50, 330, 140]]
        red = (
            [20 + 4 * f, 60, 50 + 4 * f, 150]
            if f < 40
            else [200, 100, 230, 190]
            if f >= 100
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


def test_cgclip_embedder_drops_in_with_the_real_tiny_model(make_tiny_model):
    """The adapter on cgclip's own ``test-tiny`` model and ``crop_boxes`` (random weights)."""
    model = make_tiny_model()
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


def test_reid_through_a_runtime_backend(tiny_checkpoint):
    """``--backend``/``--precision`` wrap the model in a ``cgclip.runtime`` backend; the
    embeddings stay close to eager fp32 and the embedder says what runs."""
    frame = np.random.default_rng(3).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 40, 100], [50, 20, 90, 110]], np.float32)
    eager = build_embedder(str(tiny_checkpoint), device="cpu")  # also on a GPU machine
    bf16 = build_embedder(str(tiny_checkpoint), backend="eager", precision="bf16", device="cpu")
    assert "eager bf16 on cpu" in bf16.name
    a, b = eager.embed_frame(frame, boxes), bf16.embed_frame(frame, boxes)
    assert a.features.shape == b.features.shape
    assert (a.embeddings * b.embeddings).sum(1).min() > 0.99
    with pytest.raises(UserError, match="unknown backend"):
        build_embedder(str(tiny_checkpoint), backend="warp-drive")


def test_embedding_module_imports_numpy_only():
    """The protocol and adapters need numpy alone at import time: no scipy (via matching), no
    torch; the model side is reached through cgclip.runtime.load when a model is asked for."""
    import ast
    import inspect

    import tracker.embedding

    tree = ast.parse(inspect.getsource(tracker.embedding))
    top = set()
    for node in tree.body:  # module-level imports only (functions import at the edge)
        if isinstance(node, ast.Import):
            top |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            top.add(node.module)
    assert top == {"__future__", "collections.abc", "dataclasses", "typing", "numpy"}
