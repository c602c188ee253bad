"""data.generate: the synthetic preset writes its data on first use, and only then."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from cgclip.data.synthetic import PRESETS
from cgclip.data.synthetic.generate import STAMP_NAME
from cgclip.errors import UserError
from cgclip.train.config import load_train_config
from cgclip.train.data import ensure_synthetic, load_training_data


@pytest.fixture()
def tiny_preset(monkeypatch):
    """A 2-sequence, 12-frame preset so generation takes about a second."""
    cfg = replace(PRESETS["test"], frames=12, kinds=("dance",), seqs_per_split=1, write_video=False)
    monkeypatch.setitem(PRESETS, "tiny", cfg)
    return "tiny"


def test_generates_a_missing_root_once_then_reads_it(tmp_path, tiny_preset):
    root = tmp_path / "synthetic"
    assert ensure_synthetic(root, tiny_preset, progress=False)
    stamp = json.loads((root / STAMP_NAME).read_text())
    assert stamp["config"]["frames"] == 12 and stamp["splits"] == {
        "train": ["dance-00"],
        "val": ["dance-01"],
    }
    assert not ensure_synthetic(root, tiny_preset, progress=False)  # finished: left alone


def test_interrupted_generation_is_redone_and_foreign_folders_are_left_alone(tmp_path, tiny_preset):
    partial = tmp_path / "partial"
    (partial / "train" / "dance-00" / "img1").mkdir(parents=True)  # no completion stamp
    assert ensure_synthetic(partial, tiny_preset, progress=False)
    assert (partial / STAMP_NAME).is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert ensure_synthetic(empty, tiny_preset, progress=False)
    foreign = tmp_path / "mine"
    (foreign / "train").mkdir(parents=True)
    (foreign / "notes.txt").write_text("my own data")
    assert not ensure_synthetic(foreign, tiny_preset, progress=False)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt", "train"]
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(UserError, match="is a file"):
        ensure_synthetic(a_file, tiny_preset, progress=False)


def test_training_data_of_a_config_is_generated_with_its_captions(tmp_path, tiny_preset):
    root = tmp_path / "gen"
    cfg = load_train_config(None, [f"data.root={root}", f"data.generate={tiny_preset}"])
    dataset, captions = load_training_data(cfg.data, progress=False)
    assert dataset.name == "synthetic" and dataset.train and dataset.gallery
    train_pids = {t.pid for t in dataset.train}
    assert train_pids <= set(captions) and all(captions[p] for p in train_pids)
    # idtext needs no captions
    cfg = load_train_config(
        None, [f"data.root={root}", f"data.generate={tiny_preset}", "data.text=idtext"]
    )
    assert load_training_data(cfg.data, progress=False)[1] is None
