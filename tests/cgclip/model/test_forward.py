"""Inference API and training forward of the tiny CG-CLIP."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import cgclip


@pytest.fixture
def model():
    """The tiny model with every part in its embedding, so TFE's behaviour shows in it."""
    torch.manual_seed(0)
    return cgclip.create_model("test-tiny", embedding=("f", "v", "s"))


def crops(*shape):
    return torch.randn(*shape, 3, 64, 32, generator=torch.Generator().manual_seed(1))


def test_encode_frames_and_tracklet_shapes(model):
    tokens = model.encode_frames(crops(6))
    assert tokens.shape == (6, 9, 64)  # 4x2 patches + CLS
    emb = model.encode_tracklet(tokens.view(2, 3, 9, 64))
    assert emb.shape == (2, model.embedding_dim) == (2, 64 + 32 + 64)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(2))


def test_tracklet_from_crops_equals_tracklet_from_tokens(model):
    x = crops(2, 3)
    from_crops = model.encode_tracklet(x)
    from_tokens = model.encode_tracklet(model.encode_frames(x.flatten(0, 1)).view(2, 3, 9, 64))
    torch.testing.assert_close(from_crops, from_tokens)


def test_single_crop_is_a_tracklet_of_length_one(model):
    tokens = model.encode_frames(crops(1))
    emb, attn = model.encode_tracklet(tokens[None], return_attention=True)
    assert emb.shape == (1, model.embedding_dim)
    torch.testing.assert_close(attn, torch.ones(1, 1))


def test_wrong_crop_size_is_rejected(model):
    with pytest.raises(ValueError, match=r"\(N, 3, 64, 32\)"):
        model.encode_frames(torch.zeros(1, 3, 256, 128))


@pytest.mark.parametrize("pooling", ["tfe", "mean"])
def test_padded_frames_are_ignored(pooling):
    model = cgclip.create_model("test-tiny", pooling=pooling, embedding=("f", "v", "s"))
    tokens = model.encode_frames(crops(5)).view(1, 5, 9, 64)
    alone = model.encode_tracklet(tokens[:, :3])
    padded = torch.cat([tokens[:, :3], torch.randn(1, 2, 9, 64) * 100], dim=1)
    mask = torch.tensor([[True, True, True, False, False]])
    emb, attn = model.encode_tracklet(padded, frame_mask=mask, return_attention=True)
    torch.testing.assert_close(emb, alone, atol=1e-5, rtol=1e-4)
    assert attn[0, 3:].abs().max() == 0
    torch.testing.assert_close(attn.sum(1), torch.ones(1))


def test_batched_tracks_of_different_lengths_match_one_by_one(model):
    a = model.encode_frames(crops(4)).view(1, 4, 9, 64)
    b = model.encode_frames(crops(2) * 2).view(1, 2, 9, 64)
    batch = torch.cat([a, torch.cat([b, torch.zeros(1, 2, 9, 64)], 1)])
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    emb = model.encode_tracklet(batch, frame_mask=mask)
    torch.testing.assert_close(emb[0:1], model.encode_tracklet(a), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(emb[1:2], model.encode_tracklet(b), atol=1e-5, rtol=1e-4)


def test_frame_attention_is_per_frame_mass_and_sums_to_one(model):
    tokens = model.encode_frames(crops(8)).view(1, 8, 9, 64)
    out = model.tfe(tokens, need_weights=True)
    assert out.frame_attention.shape == (1, 4, 8)  # (B, N_Q, T)
    torch.testing.assert_close(out.frame_attention.sum(-1), torch.ones(1, 4))
    fast = model.tfe(tokens, need_weights=False)  # SDPA path gives the same feature
    torch.testing.assert_close(fast.feature, out.feature, atol=1e-5, rtol=1e-4)


def test_cls_keys_need_only_cls_tokens():
    model = cgclip.create_model("test-tiny", tfe_keys="cls", embedding=("s",))
    full = model.encode_frames(crops(4), keep="all").view(1, 4, 9, 64)
    cls_only = model.encode_frames(crops(4)).view(1, 4, 1, 64)
    torch.testing.assert_close(model.encode_tracklet(full), model.encode_tracklet(cls_only))


@pytest.mark.parametrize("keys", ["all", "cls"])
def test_tfe_cost_is_linear_in_t(model, keys):
    model.tfe.keys = keys

    def flops(t):
        with FlopCounterMode(display=False) as counter:
            model.tfe(torch.randn(2, t, 9, 64))
        return counter.get_total_flops()

    f4, f8, f16 = flops(4), flops(8), flops(16)
    # cost = a + b*T (query-side work is constant): equal increments for equal steps in T
    assert f16 - f8 == 2 * (f8 - f4)
    assert f8 - f4 > 0


def test_image_encoder_matches_open_clip(model):
    x = crops(3)
    tokens, projected = model.image_encoder(x)
    torch.testing.assert_close(projected, model.image_encoder.visual(x))  # open_clip's forward
    assert tokens.shape == (3, 9, 64)


def test_v_is_the_clip_image_embedding_averaged_over_frames(model):
    x = crops(3)
    tokens, projected = model.image_encoder(x)
    out = model._tracklet_features(tokens[None], None, need_weights=False)
    torch.testing.assert_close(out.v[0], projected.mean(0), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.f[0], tokens[:, 0].mean(0))


def test_default_tfe_embedding_is_the_mean_cls_and_skips_tfe(monkeypatch):
    model = cgclip.create_model("test-tiny")
    assert model.config.embedding_parts == ("f",) and model.embedding_dim == 64
    # f reads only CLS, so encode_frames keeps only CLS by default (what a tracker stores)
    assert model.tokens_per_frame == 1 and model.encode_frames(crops(3)).shape == (3, 1, 64)
    tokens = model.encode_frames(crops(3), keep="all").view(1, 3, 9, 64)
    expected = F.normalize(tokens[0, :, 0].mean(0), dim=0)
    attn_emb, attn = model.encode_tracklet(tokens, return_attention=True)  # TFE runs for this
    assert attn.shape == (1, 3)

    def no_tfe(*args, **kwargs):
        raise AssertionError("TFE ran although the embedding does not use s")

    monkeypatch.setattr(model.tfe, "forward", no_tfe)
    emb = model.encode_tracklet(tokens)
    torch.testing.assert_close(emb[0], expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(attn_emb, emb)
    torch.testing.assert_close(model.encode_tracklet(tokens[:, :, :1])[0], expected)


def test_mean_pooling_embedding_is_the_normalised_mean_clip_embedding():
    model = cgclip.create_model("test-tiny", pooling="mean")
    x = crops(4)
    _, projected = model.image_encoder(x)
    emb = model.encode_tracklet(x[None])
    torch.testing.assert_close(emb[0], F.normalize(projected.mean(0), dim=0), atol=1e-5, rtol=1e-5)


def test_training_forward_and_backward_reach_every_trainable_part():
    model = cgclip.create_model("test-tiny", num_classes=5).train()
    model.cmr.set_memory(torch.randn(5, 32))
    labels = torch.tensor([0, 1, 2, 3])
    out = model(crops(4, 3))
    assert {k: tuple(v.shape) for k, v in out.logits.items()} == {
        "f": (4, 5),
        "v": (4, 5),
        "s": (4, 5),
    }
    assert out.v2rm_logits.shape == (4, 5) and out.refined.shape == (4, 5, 32)
    loss = sum(F.cross_entropy(lg, labels) for lg in out.logits.values())
    loss = loss + F.cross_entropy(out.v2rm_logits, labels)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    missing = [n for n, g in grads.items() if g is None and "proj_out" not in n]
    assert not missing, missing
    assert model.image_encoder.visual.conv1.weight.grad.abs().sum() > 0
    assert model.cmr.proj_out.weight.grad.abs().sum() > 0  # zero-init output still learns
    assert all(not p.requires_grad for p in model.text_encoder.parameters())
    assert not model.heads["f"].bn.bias.requires_grad  # BNNeck bias frozen


def test_no_cmr_outside_training_or_when_disabled():
    model = cgclip.create_model("test-tiny", num_classes=3)
    model.cmr.set_memory(torch.randn(3, 32))
    assert model(crops(2, 2)).v2rm_logits is None  # eval mode
    off = cgclip.create_model("test-tiny", num_classes=3, use_cmr=False).train()
    assert off.cmr is None and off(crops(2, 2)).v2rm_logits is None


def test_camera_embedding_changes_the_features():
    model = cgclip.create_model("test-tiny", num_cameras=3)
    x = crops(1, 2)
    a = model.encode_tracklet(x, camids=torch.tensor([0]))
    b = model.encode_tracklet(x, camids=torch.tensor([2]))
    assert not torch.allclose(a, b)
    assert model.image_encoder.camera_embedding.shape == (3, 64)


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = cgclip.create_model("test-tiny", num_classes=3).train()
    ckpt = cgclip.create_model("test-tiny", num_classes=3, grad_checkpointing=True).train()
    ckpt.load_state_dict(plain.state_dict())
    for m in (plain, ckpt):
        m.cmr.set_memory(torch.eye(3, 32))
        out = m(crops(2, 2))
        (out.v2rm_logits.sum() + out.logits["s"].sum()).backward()
    g1 = plain.image_encoder.visual.conv1.weight.grad
    g2 = ckpt.image_encoder.visual.conv1.weight.grad
    torch.testing.assert_close(g1, g2)


def test_encode_text_is_normalised_and_truncates_long_captions(model):
    long = "a player in a blue jersey " * 40  # far beyond 77 tokens
    feats = model.encode_text(["a dancer in a red top", long])
    assert feats.shape == (2, 32)
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(2))


def test_encode_text_skips_padding_after_the_last_eot_without_changing_features(model):
    """The text tower runs only up to the batch's last EOT token; the features equal the full
    77-token pass, and a text's feature does not depend on the other texts in its batch."""
    enc = model.text_encoder
    texts = ["red", "a dancer in a red top and white shoes with a ponytail"]
    tokens = enc.tokenize(texts)
    with torch.no_grad():
        x = enc.token_embedding(tokens) + enc.positional_embedding
        x = enc.ln_final(enc.transformer(x, attn_mask=enc.attn_mask))
        full = x[torch.arange(2), tokens.argmax(-1)] @ enc.text_projection
    full = torch.nn.functional.normalize(full, dim=-1)
    torch.testing.assert_close(model.encode_text(texts), full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.encode_text(["red"])[0], full[0], atol=1e-5, rtol=1e-5)
