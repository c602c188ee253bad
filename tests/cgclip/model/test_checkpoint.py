"""Checkpoint round trip (safetensors + JSON sidecar) and clear errors for wrong files."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

import cgclip
from cgclip.errors import UserError
from cgclip.model import read_sidecar, save_checkpoint


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = cgclip.create_model("test-tiny", num_classes=4, tfe_keys="cls")
    model.cmr.set_memory(torch.randn(4, 32))
    path = save_checkpoint(model, tmp_path / "ckpt.safetensors", {"epoch": 3})
    return model, path


def test_round_trip_gives_the_same_model(saved):
    model, path = saved
    loaded = cgclip.load_model(path, device="cpu")
    assert not loaded.training
    # the same config, with the default test feature written out
    assert model.config.embedding is None
    assert loaded.config == replace(model.config, embedding=("f",))
    assert loaded.preprocess == model.preprocess
    assert loaded.checkpoint_meta == {"epoch": 3}
    x = torch.randn(2, 3, 3, 64, 32)
    torch.testing.assert_close(loaded.encode_tracklet(x), model.encode_tracklet(x))
    torch.testing.assert_close(loaded.cmr.memory, model.cmr.memory)


def test_sidecar_carries_the_preprocessing(saved):
    _, path = saved
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["format"] == "cgclip"
    assert side["preprocess"]["size"] == [64, 32]
    assert side["preprocess"]["clip_len"] == 8
    assert len(side["preprocess"]["mean"]) == 3
    assert side["config"]["tfe_keys"] == "cls"
    assert side["config"]["embedding"] == ["f"]
    assert read_sidecar(path)["name"] == "test-tiny"


def test_writes_leave_no_temporary_files(saved):
    _, path = saved
    assert sorted(p.name for p in path.parent.iterdir()) == ["ckpt.json", "ckpt.safetensors"]


def test_load_via_the_sidecar_path(saved):
    _, path = saved
    assert cgclip.load_model(path.with_suffix(".json")).name == "test-tiny"


def test_missing_checkpoint(tmp_path):
    with pytest.raises(UserError, match="checkpoint not found"):
        cgclip.load_model(tmp_path / "nope.safetensors")


def test_not_a_safetensors_file(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"a": torch.zeros(1)}, path)
    with pytest.raises(UserError, match="not a cgclip checkpoint"):
        cgclip.load_model(path)


def test_missing_sidecar(saved):
    _, path = saved
    path.with_suffix(".json").unlink()
    with pytest.raises(UserError, match="no config sidecar"):
        cgclip.load_model(path)


def test_foreign_sidecar(saved):
    _, path = saved
    path.with_suffix(".json").write_text(json.dumps({"model": "something else"}))
    with pytest.raises(UserError, match="not a cgclip checkpoint"):
        cgclip.load_model(path)


def test_broken_sidecar_json(saved):
    _, path = saved
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        cgclip.load_model(path)


def test_corrupt_weights(saved):
    _, path = saved
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(UserError, match="corrupt or truncated"):
        cgclip.load_model(path)


def test_weights_from_another_config(saved, tmp_path):
    _, path = saved
    other = cgclip.create_model("test-tiny", num_classes=9)
    side = read_sidecar(path)
    other_path = save_checkpoint(other, tmp_path / "other.safetensors")
    other_path.with_suffix(".json").write_text(json.dumps(side))  # sidecar says 4 classes
    with pytest.raises(UserError, match="do not match its sidecar"):
        cgclip.load_model(other_path)


def test_checkpoint_path_must_be_safetensors(tmp_path):
    with pytest.raises(UserError, match=r"\.safetensors"):
        save_checkpoint(cgclip.create_model("test-tiny"), tmp_path / "model.pt")
