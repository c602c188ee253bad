"""Training clips and augmentation, the validation carve, text memory, LR schedule, train state."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cgclip
from cgclip.captions import id_text
from cgclip.data import Tracklet
from cgclip.errors import UserError
from cgclip.train.config import AugmentSection, OptimSection
from cgclip.train.data import TrainClips, carve_validation, random_erase
from cgclip.train.optim import build_optimizer, lr_at_epoch
from cgclip.train.state import load_train_state, save_train_state
from cgclip.train.text_memory import build_text_memory, identity_texts

NO_AUG = AugmentSection(flip_prob=0.0, erase_prob=0.0)


@pytest.fixture(scope="module")
def model(make_tiny_model):
    return make_tiny_model()


def test_train_clip_shapes_and_determinism(reid_fixture, model):
    ds = TrainClips(
        reid_fixture.train[:4], [0, 0, 0, 0], model.preprocess, AugmentSection(), seed=3
    )
    x, label, camid = ds[1]
    assert x.shape == (8, 3, 64, 32) and label == 0 and camid == 1
    torch.testing.assert_close(ds[1][0], x)  # same (seed, epoch, index) -> same clip
    ds.set_epoch(1)
    assert not torch.equal(ds[1][0], x)


def test_flip_is_the_same_for_the_whole_tracklet(reid_fixture, model):
    t = [reid_fixture.train[0]]
    plain = TrainClips(t, [0], model.preprocess, NO_AUG, seed=0)[0][0]
    flipped = TrainClips(t, [0], model.preprocess, AugmentSection(flip_prob=1.0, erase_prob=0.0))
    x = flipped[0][0]
    # Same seed -> same RRS frames; every frame is the mirror image of the unflipped one.
    torch.testing.assert_close(x, plain.flip(-1))


def test_random_erasing_blanks_one_rectangle():
    rng = np.random.default_rng(0)
    frame = torch.ones(3, 64, 32)
    erased = random_erase(frame, rng, (0.1, 0.2), 0.3)
    zero = (erased == 0).all(0)
    assert 0.1 * 64 * 32 * 0.8 <= zero.sum() <= 0.2 * 64 * 32 * 1.2
    rows, cols = zero.any(1).nonzero(), zero.any(0).nonzero()
    assert zero.sum() == len(rows) * len(cols)  # a rectangle
    assert frame.min() == 1  # the input is untouched


def _tracklets(pids_cams):
    return [Tracklet(frames=(f"{i}.png",), pid=p, camid=c) for i, (p, c) in enumerate(pids_cams)]


def test_validation_identities_are_held_out_of_training():
    train = _tracklets([(p, j % 2) for p in range(10) for j in range(3)])
    kept, val = carve_validation(train, fraction=0.2, min_ids=2, keep_ids=4, seed=0)
    assert val.num_ids == 2
    assert not {t.pid for t in kept} & {t.pid for t in val.query}
    assert len(kept) + len(val.query) == len(train)
    assert val.ignore.diagonal().all()  # a query never matches itself
    # same pid, same camera is ignored; same pid, other camera counts
    q = val.query
    for i in range(len(q)):
        for j in range(len(q)):
            if i != j and q[i].pid == q[j].pid:
                assert val.ignore[i, j] == (q[i].camid == q[j].camid)


def test_block_carve_holds_out_consecutive_identities():
    # pids 0..9; pid 3 has one tracklet, so it cannot be a validation identity
    train = _tracklets([(p, j % 2) for p in range(10) for j in range(1 if p == 3 else 3)])
    eligible = [p for p in range(10) if p != 3]
    n = len(eligible)
    windows = {frozenset(eligible[(s + i) % n] for i in range(3)) for s in range(n)}
    seen = set()
    for seed in range(8):
        kept, val = carve_validation(train, 0.3, min_ids=2, keep_ids=4, seed=seed, mode="block")
        held = frozenset(t.pid for t in val.query)
        assert held in windows  # consecutive eligible pids, wrapping around
        assert not held & {t.pid for t in kept}
        assert len(kept) + len(val.query) == len(train)
        seen.add(held)
    assert len(seen) > 1  # the block's start depends on the seed
    with pytest.raises(ValueError, match="carve mode"):
        carve_validation(train, 0.3, min_ids=2, keep_ids=4, seed=0, mode="teams")


def test_single_camera_validation_falls_back_to_ignoring_only_the_query_itself():
    train = _tracklets([(p, 0) for p in range(6) for _ in range(2)])
    _, val = carve_validation(train, fraction=0.34, min_ids=2, keep_ids=2, seed=0)
    np.testing.assert_array_equal(val.ignore, np.eye(len(val.query), dtype=bool))


def test_too_few_identities_trains_without_validation():
    train = _tracklets([(p, 0) for p in range(3) for _ in range(2)])
    with pytest.warns(UserWarning, match="without validation"):
        kept, val = carve_validation(train, fraction=0.5, min_ids=2, keep_ids=2, seed=0)
    assert val is None and kept == train


def test_identity_texts_sources_and_fallback():
    caps = {1: ["A man in red.", "A tall man"], 2: []}
    both = identity_texts([1], caps, "both")
    assert both[0] == [f"A man in red. {id_text(1)}", f"A tall man. {id_text(1)}"]
    assert identity_texts([1], caps, "caption") == [["A man in red.", "A tall man"]]
    assert identity_texts([1, 2], caps, "idtext") == [[id_text(1)], [id_text(2)]]
    assert identity_texts([1], caps, "caption", max_per_id=1) == [["A man in red."]]
    with pytest.warns(UserWarning, match="1 of 2 training identities have no caption"):
        assert identity_texts([1, 2], caps, "both")[1] == [id_text(2)]
    assert id_text(7) == "The person's ID is 7."


def test_text_memory_is_the_normalised_mean_text_feature(model):
    texts = [["a red shirt", "blue shoes"], ["a hat"]]
    memory = build_text_memory(model, texts, batch_size=2, progress=False)
    f = model.encode_text(["a red shirt", "blue shoes", "a hat"])
    torch.testing.assert_close(memory[0], F.normalize(f[0] + f[1], dim=0))
    torch.testing.assert_close(memory[1], f[2])


def test_learning_rate_schedule_of_table_s7():
    cfg = OptimSection(milestones=(30, 50, 70), epochs=80)
    assert lr_at_epoch(0, cfg) == pytest.approx(5e-7)
    assert lr_at_epoch(5, cfg) == pytest.approx(5e-7 + 0.5 * (5e-6 - 5e-7))
    assert lr_at_epoch(10, cfg) == pytest.approx(5e-6)
    assert lr_at_epoch(29, cfg) == pytest.approx(5e-6)
    assert lr_at_epoch(30, cfg) == pytest.approx(5e-7)
    assert lr_at_epoch(50, cfg) == pytest.approx(5e-8)
    assert lr_at_epoch(79, cfg) == pytest.approx(5e-9)


def test_weight_decay_only_on_matrices_and_frozen_parts_excluded(make_tiny_model):
    model = make_tiny_model(num_classes=3)
    opt = build_optimizer(model, OptimSection(weight_decay=2.5e-4))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 2.5e-4 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"])
    text = {id(p) for p in model.text_encoder.parameters()}
    assert not text & {id(p) for g in opt.param_groups for p in g["params"]}


def test_training_state_round_trip(tmp_path, make_tiny_model):
    model = make_tiny_model(seed=0, num_classes=3)
    opt = build_optimizer(model, OptimSection(lr=1e-3))
    model.image_encoder.visual.conv1.weight.sum().backward()
    opt.step()
    path = save_train_state(tmp_path / "last.train.safetensors", model, opt, {"epoch": 4})
    assert [p.name for p in tmp_path.iterdir()] == ["last.train.safetensors"]  # one file
    fresh_model = make_tiny_model(seed=1, num_classes=3)  # other weights, overwritten by the load
    fresh = build_optimizer(fresh_model, OptimSection(lr=1e-3))
    assert load_train_state(path, fresh_model, fresh) == {"epoch": 4}
    for k, v in model.state_dict().items():
        torch.testing.assert_close(fresh_model.state_dict()[k], v)
    a, b = opt.state_dict(), fresh.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for pid, state in a["state"].items():
        for k, v in state.items():
            torch.testing.assert_close(b["state"][pid][k], v)


def test_a_model_checkpoint_is_not_a_training_state(tmp_path, make_tiny_model):
    model = make_tiny_model(num_classes=3)
    path = cgclip.save_checkpoint(model, tmp_path / "m.safetensors")
    with pytest.raises(UserError, match="not a cgclip training state"):
        load_train_state(path, model, build_optimizer(model, OptimSection()))
