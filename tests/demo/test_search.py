"""demo.reid's calibrated search (null captions, per-identity thresholds), the checkpoint's
text-side warning, and the attention-strip readout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from demo.reid import (
    MATCH_QUANTILE,
    NULL_SIZE,
    ReidRegistry,
    frame_attention,
    null_captions,
    search_tracks,
    text_training_note,
    tfe_note,
)


class FakeTextModel:
    """encode_text from a fixed table: queries map to chosen unit vectors."""

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def encode_text(self, texts):
        rows = [self.table[t] / np.linalg.norm(self.table[t]) for t in texts]
        return torch.from_numpy(np.stack(rows).astype(np.float32))


def _unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def test_null_captions_are_fixed_shuffled_person_descriptions():
    caps = null_captions()
    assert len(caps) == NULL_SIZE == len(set(caps))  # distinct
    assert caps == null_captions()  # the same for every server
    assert null_captions(seed=1) != caps
    words = {w for c in caps for w in c.split()}
    assert {"wearing", "jersey"} & words and all(c == c.lower() for c in caps)
    # shuffled: most captions do not start the way the templates do ("A ...", "The ...")
    assert sum(c.split()[0] in ("a", "an", "the") for c in caps) < NULL_SIZE // 2


def test_threshold_is_per_identity_so_a_hub_does_not_win_by_raw_score():
    """Identity 7 scores high against any caption (its null sits near 0.9); identity 3 scores
    near 0. A query scoring 0.8 on #7 and 0.6 on #3 ranks #7 first but only #3 is a match."""
    rng = np.random.default_rng(0)
    null = np.stack([_unit([1, *rng.normal(0, 0.15, 2)]) for _ in range(40)])  # near x
    emb = np.stack([_unit([1, 0, 0]), _unit([0, 1, 0])])  # ids 7 (hub), 3
    model = FakeTextModel({"q": np.array([0.8, 0.6, 0.0]), "far": np.array([0.0, -1.0, 0.0])})
    matches = search_tracks(model, "q", [7, 3], emb, null)
    assert [m.track_id for m in matches] == [7, 3]  # raw order
    hub, other = matches
    assert hub.score == pytest.approx(0.8, abs=1e-5) and not hub.good
    assert hub.threshold == pytest.approx(np.quantile(null @ emb[0], MATCH_QUANTILE), abs=1e-6)
    assert other.good and other.beats == 1.0 and other.threshold < 0.6
    assert hub.beats < 0.2  # most unrelated captions score the hub higher than this query
    assert not any(m.good for m in search_tracks(model, "far", [7, 3], emb, null))
    assert search_tracks(model, "q", [], np.zeros((0, 3)), null) == []


def test_a_caption_of_the_null_itself_is_no_good_match(make_tiny_model):
    """With a real (tiny, random) text tower: an identity whose embedding is a caption's text
    feature matches that caption, and a null caption is not a match for anyone."""
    tiny = make_tiny_model(seed=3)
    caps = null_captions(24)
    null = tiny.encode_text(caps).numpy()
    emb = tiny.encode_text(["woman in a red dress", "man with number 5"]).numpy()
    matches = search_tracks(tiny, "woman in a red dress", [1, 2], emb, null)
    assert matches[0].track_id == 1 and matches[0].good and matches[0].beats == 1.0
    median = caps[int(np.argsort(null @ emb[0])[len(caps) // 2])]  # a middling null caption
    by_id = {m.track_id: m for m in search_tracks(tiny, median, [1, 2], emb, null)}
    assert not by_id[1].good and 0.3 < by_id[1].beats < 0.7


def test_null_text_is_encoded_once_per_model(tiny_checkpoints, monkeypatch):
    registry = ReidRegistry(tiny_checkpoints)
    model = registry.model("ckpt:tiny")
    calls = []
    original = model.encode_text
    monkeypatch.setattr(model, "encode_text", lambda t: calls.append(len(t)) or original(t))
    first = registry.null_text("ckpt:tiny")
    assert first.shape == (NULL_SIZE, model.config.embed_dim) and sum(calls) == NULL_SIZE
    assert registry.null_text("ckpt:tiny") is first and sum(calls) == NULL_SIZE
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1, atol=1e-5)


def test_text_note_from_the_sidecar(tiny_checkpoints):
    assert "random-init" in ReidRegistry(tiny_checkpoints).text_note("ckpt:tiny")
    assert ReidRegistry().text_note("clip") is None and ReidRegistry().text_note("none") is None
    assert "random-init" in text_training_note({"pretrained": None}, ["mars"])
    pretrained = {"pretrained": "openai"}
    assert "synthetic captions only" in text_training_note(pretrained, ["synthetic"])
    assert text_training_note(pretrained, ["synthetic", "mars"]) is None  # real captions too
    assert text_training_note(pretrained, None) is None  # the sidecar does not say


def test_text_note_reads_the_training_sets_from_the_sidecar(tmp_path, make_tiny_model):
    import cgclip

    model = make_tiny_model()
    model.pretrained = "openai"  # as if it had started from CLIP's weights
    cgclip.save_checkpoint(model, tmp_path / "syn.safetensors", meta={"dataset": "synthetic"})
    cgclip.save_checkpoint(model, tmp_path / "real.safetensors", meta={"dataset": "mars"})
    registry = ReidRegistry(tmp_path)
    assert "synthetic captions only" in registry.text_note("ckpt:syn")
    assert registry.text_note("ckpt:real") is None


def test_frame_attention_is_tfe_mass_per_frame(make_tiny_model):
    model = make_tiny_model(seed=2, embedding=("f", "s"))
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 255, (90 + 5 * i, 40, 3), dtype=np.uint8) for i in range(5)]
    weights = frame_attention(model, crops)
    assert weights.shape == (5,) and weights.sum() == pytest.approx(1.0, abs=1e-5)
    with torch.inference_mode():
        _, expected = model.encode_tracklet(model.preprocess(crops)[None], return_attention=True)
    np.testing.assert_allclose(weights, expected[0].numpy(), atol=1e-6)
    assert weights.std() > 0  # TFE's queries do not weigh random frames equally
    assert frame_attention(model, []).shape == (0,)


def test_tfe_note_says_what_the_strip_means(make_tiny_model):
    has, note = tfe_note(make_tiny_model(embedding=("f", "s")))
    assert has and "part of this checkpoint's tracking embedding" in note
    has, note = tfe_note(make_tiny_model())  # TFE trained, but tracking uses f
    assert has and "`f`" in note and "every frame counts the same" in note
    has, note = tfe_note(make_tiny_model(pooling="mean"))
    assert not has and "no TFE" in note
    assert tfe_note(None)[0] is False
