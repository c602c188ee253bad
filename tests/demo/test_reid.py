"""demo.reid: the server's model list, the text-aligned track embedding and search ranking."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import cgclip
from cgclip.errors import UserError
from demo.reid import (
    CLIP,
    NONE,
    ReidRegistry,
    cls_features,
    find_checkpoints,
    rank_tracks,
    text_aligned,
)


@pytest.fixture(scope="module")
def tiny(make_tiny_model):
    return make_tiny_model(seed=1)


def test_checkpoints_are_listed_by_name_and_bad_ones_skipped(tmp_path, tiny_checkpoints, caplog):
    shutil.copytree(tiny_checkpoints, tmp_path / "team" / "v2")
    shutil.copy(tiny_checkpoints / "tiny.safetensors", tmp_path / "no_sidecar.safetensors")
    (tmp_path / "wrong.safetensors").write_bytes(b"x")
    (tmp_path / "wrong.json").write_text(json.dumps({"format": "other"}))
    found = find_checkpoints(tmp_path)
    assert found == {"team/v2/tiny": tmp_path / "team" / "v2" / "tiny.safetensors"}
    assert "no_sidecar.safetensors" in caplog.text and "wrong.safetensors" in caplog.text
    with pytest.raises(UserError, match="no such folder"):
        find_checkpoints(tmp_path / "missing")


def test_choices_and_lookup_by_name_only(tiny_checkpoints):
    registry = ReidRegistry(tiny_checkpoints)
    assert [c.value for c in registry.choices()] == [NONE, CLIP, "ckpt:tiny"]
    assert registry.choices()[2].label == "tiny (CG-CLIP checkpoint)"
    assert registry.model(NONE) is None
    model = registry.model("ckpt:tiny")
    assert model.name == "test-tiny" and not model.training
    assert registry.model("ckpt:tiny") is model  # loaded once per process
    for bad in ("ckpt:../tiny", "ckpt:" + str(tiny_checkpoints / "tiny"), "tiny.safetensors"):
        with pytest.raises(UserError, match="unknown ReID model"):
            registry.model(bad)
    assert [c.value for c in ReidRegistry().choices()] == [NONE, CLIP]


def test_clip_offline_says_how_to_give_the_weights():
    with pytest.raises(UserError) as err:  # tests run with HF_HUB_OFFLINE=1
        ReidRegistry().model(CLIP)
    message = str(err.value)
    assert "open_clip_pytorch_model.bin" in message and "--clip-weights" in message
    assert "\n" not in message


def test_clip_uses_local_weights_and_mean_pooling(monkeypatch, tmp_path):
    """The demo's "clip" is the tracker's --reid clip:PATH: the same resolver, the same model
    (mean pooling over CLS tokens, QuickGELU as the OpenAI weights were trained)."""
    calls = []
    monkeypatch.setattr(cgclip, "create_model", lambda *a, **k: calls.append((a, k)) or "model")
    weights = tmp_path / "open_clip_pytorch_model.bin"
    weights.write_bytes(b"weights")
    registry = ReidRegistry(clip_weights=weights, device="cpu")
    assert "local weights" in registry.choices()[1].label
    assert registry.model(CLIP) == "model"
    expected = dict(
        pretrained=str(weights),
        quick_gelu=True,
        device=torch.device("cpu"),
        pooling="mean",
        tfe_keys="cls",
    )
    assert calls == [(("ViT-B-16",), expected)]
    from tracker.embedding import build_embedder

    build_embedder(f"clip:{weights}", device="cpu")  # the tracker's --reid builds the same
    assert calls[1] == (("ViT-B-16",), expected)


def test_text_aligned_embedding_is_the_models_v_feature(tiny, make_tiny_model):
    """Averaging per-crop CLS then projecting equals the model's own v part for the tracklet
    (a mean-pooling model whose test feature is v alone, sharing the image encoder)."""
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 5, 40, 90], [60, 20, 100, 110], [100, 0, 150, 70]], np.float32)
    crops = cgclip.crop_boxes(frame, boxes, tiny.preprocess)  # (3, 3, H, W)
    cls = cls_features(tiny, crops, batch_size=2)  # two encoder calls
    assert cls.shape == (3, tiny.config.vision.width)
    ours = text_aligned(tiny, cls.mean(0, keepdims=True))  # (1, E)
    v_model = make_tiny_model(pooling="mean", embedding=("v",))
    v_model.image_encoder.load_state_dict(tiny.image_encoder.state_dict())
    with torch.inference_mode():
        expected = v_model.encode_tracklet(crops[None]).numpy()  # a 3-frame tracklet
    assert ours.shape == (1, tiny.config.embed_dim)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    empty = cgclip.crop_boxes(frame, np.zeros((0, 4)), tiny.preprocess)
    assert cls_features(tiny, empty).shape == (0, tiny.config.vision.width)


def test_rank_tracks_orders_by_cosine_to_the_query(tiny):
    captions = ["a dancer in a red top", "blue jersey number 10", "green socks and white shoes"]
    emb = tiny.encode_text(captions).numpy()  # tracks whose embedding is exactly a caption's
    ids = [3, 7, 9]
    ranked = rank_tracks(tiny, "  blue jersey number 10 ", ids, emb)
    assert ranked[0][0] == 7 and ranked[0][1] == pytest.approx(1.0, abs=1e-5)
    expected = emb @ emb[1]
    order = [ids[i] for i in np.argsort(-expected, kind="stable")]
    assert [t for t, _ in ranked] == order
    assert [s for _, s in ranked] == pytest.approx(sorted(expected, reverse=True), abs=1e-5)
    tie = rank_tracks(tiny, "anything", [5, 2], np.stack([emb[0], emb[0]]))
    assert [t for t, _ in tie] == [2, 5]  # equal scores: lower id first
    assert rank_tracks(tiny, "x", [], np.zeros((0, emb.shape[1]))) == []
    with pytest.raises(UserError, match="type a description"):
        rank_tracks(tiny, "   ", ids, emb)


def test_path_kept_out_of_names(tmp_path: Path, tiny_checkpoints):
    """A checkpoint file name with odd characters is still only a key in the server's list."""
    shutil.copy(tiny_checkpoints / "tiny.safetensors", tmp_path / "a b;c.safetensors")
    shutil.copy(tiny_checkpoints / "tiny.json", tmp_path / "a b;c.json")
    registry = ReidRegistry(tmp_path)
    assert registry.checkpoints == {"a b;c": tmp_path / "a b;c.safetensors"}
    assert registry.model("ckpt:a b;c").name == "test-tiny"
