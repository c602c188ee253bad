"""End-to-end training on the tiny fixture: logs, checkpoints, selection, resume."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys

import pytest
import torch
from safetensors.torch import load_file

import cgclip
from cgclip.errors import UserError
from cgclip.evaluate import evaluate_dataset
from cgclip.train import train
from tests.cgclip.train.conftest import CAPTIONS, TRAINED_RUN, tiny_config


def test_training_writes_logs_checkpoints_and_learns(reid_fixture, trained_run):
    result = trained_run.result  # tiny_config for 4 epochs, validated after each, with CAPTIONS
    out = result.output_dir
    assert any("no caption" in w for w in trained_run.warnings)
    names = {p.name for p in out.iterdir()}
    assert {"best.safetensors", "best.json", "last.safetensors", "last.json"} <= names
    assert {"last.train.safetensors", "metrics.csv", "metrics.json"} <= names
    assert "summary.json" in names and not [n for n in names if n.startswith(".")]
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])  # it learns
    assert {"ce", "triplet", "v2rm", "lr", "val_mAP", "val_R1"} <= set(rows[0])
    assert float(rows[0]["lr"]) == pytest.approx(1e-4)  # warmup starts at warmup_lr
    # selection on the validation identities, never on the dataset's query/gallery
    summary = json.loads((out / "summary.json").read_text())
    assert summary["validation_ids"] == 2 and 1 <= summary["best_epoch"] <= 4
    best = cgclip.load_model(result.best_checkpoint)
    meta = best.checkpoint_meta
    assert meta["epoch"] == result.best_epoch and meta["val"]["mAP"] == result.best_metrics["mAP"]
    assert len(meta["train_pids"]) == 6  # 8 ids minus 2 held out
    assert best.config.num_classes == 6
    test_pids = {t.pid for t in reid_fixture.query}
    assert not test_pids & set(meta["train_pids"])
    metrics = evaluate_dataset(best, reid_fixture, progress=False)
    assert metrics.num_valid == len(reid_fixture.query) and 0 < metrics.mAP <= 1


@pytest.mark.filterwarnings("ignore:.*no caption:UserWarning")
def test_resume_after_a_kill_continues_exactly(reid_fixture, trained_run, tmp_path):
    """Three epochs, "killed", then resumed for the fourth == the shared run's four in one go
    (validation after every epoch, so the selection state is resumed too)."""
    straight = trained_run.result
    interrupted = tmp_path / "b"
    train(
        reid_fixture,
        tiny_config(interrupted, *TRAINED_RUN, "optim.epochs=3"),
        CAPTIONS,
        progress=False,
    )
    resumed = train(reid_fixture, tiny_config(interrupted, *TRAINED_RUN), CAPTIONS, progress=False)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    assert resumed.best_epoch == straight.best_epoch
    assert resumed.best_metrics == straight.best_metrics
    a = load_file(str(straight.last_checkpoint))
    b = load_file(str(resumed.last_checkpoint))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], msg=k)
    assert "cmr.memory" in a  # the momentum-updated memory is part of the resumed state


def test_a_corrupt_training_state_is_a_clear_error(reid_fixture, trained_run_copy):
    out = trained_run_copy
    state = out / "last.train.safetensors"
    state.write_bytes(state.read_bytes()[:1000])
    with pytest.raises(UserError, match="cannot resume from"):
        train(
            reid_fixture, tiny_config(out, *TRAINED_RUN, "optim.epochs=5"), CAPTIONS, progress=False
        )


def test_resume_refuses_a_different_config(reid_fixture, trained_run_copy):
    out = trained_run_copy
    with pytest.raises(UserError, match="different config.*optim.lr"):
        train(
            reid_fixture, tiny_config(out, *TRAINED_RUN, "optim.lr=0.5"), CAPTIONS, progress=False
        )
    fresh = train(
        reid_fixture,
        tiny_config(
            out,
            "optim.epochs=1",
            "optim.lr=0.5",
            "data.text=idtext",
            "run.resume=false",
            "run.overwrite=true",
        ),
        progress=False,
    )
    assert [h["epoch"] for h in fresh.history] == [1]


def test_an_earlier_run_is_replaced_only_with_overwrite(reid_fixture, trained_run_copy):
    out = trained_run_copy
    before = (out / "best.safetensors").read_bytes()
    again = tiny_config(out, *TRAINED_RUN, "run.resume=false")
    with pytest.raises(UserError, match="earlier run.*--overwrite"):
        train(reid_fixture, again, CAPTIONS, progress=False)
    assert (out / "best.safetensors").read_bytes() == before


@pytest.mark.filterwarnings("ignore:.*no caption:UserWarning")
def test_resume_removes_the_temp_file_of_a_killed_save(reid_fixture, trained_run_copy):
    """A run killed (SIGKILL) while writing its state leaves a temp file; resuming removes it."""
    import os

    out = trained_run_copy  # finished its 4 epochs
    dead_pid = 2**22 + 1  # above Linux's pid_max: no such process
    stale = out / f".last.train.{dead_pid}-k1ll3d.tmp.safetensors"
    stale.write_bytes(b"\0" * 4096)
    os.utime(stale, (1, 1))  # written long ago
    live = out / f".last.train.{os.getpid()}-wr1t1ng.tmp.safetensors"  # a writer still running
    live.write_bytes(b"\0")
    os.utime(live, (1, 1))
    resumed = train(
        reid_fixture, tiny_config(out, *TRAINED_RUN, "optim.epochs=5"), CAPTIONS, progress=False
    )
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4, 5]
    assert not stale.exists() and live.exists()


def test_without_validation_the_last_model_is_selected(reid_fixture, tmp_path):
    cfg = tiny_config(
        tmp_path / "run",
        "data.val_fraction=0",
        "optim.epochs=1",
        "model.overrides.pooling=mean",
        "model.overrides.use_cmr=false",
        "run.amp=bf16",
        "optim.grad_clip=1.0",
        "model.camera_embedding=true",
    )
    result = train(reid_fixture, cfg, progress=False)
    assert result.best_epoch == 1 and result.best_metrics is None
    model = cgclip.load_model(result.best_checkpoint)
    assert model.config.num_cameras == 2 and model.tfe is None and model.cmr is None
    torch.testing.assert_close(
        load_file(str(result.best_checkpoint))["image_encoder.visual.proj"],
        load_file(str(result.last_checkpoint))["image_encoder.visual.proj"],
    )


def test_identity_with_fewer_than_k_tracklets_warns(reid_fixture, tmp_path):
    cfg = tiny_config(
        tmp_path / "run",
        "sampler.tracklets_per_id=6",
        "optim.epochs=1",
        "data.text=idtext",
        "run.max_steps_per_epoch=1",
        "data.val_fraction=0",
    )
    with pytest.warns(UserWarning, match="fewer than 6 tracklets"):
        train(reid_fixture, cfg, progress=False)


def test_fewer_identities_than_a_batch_needs(reid_fixture, tmp_path):
    cfg = tiny_config(tmp_path / "run", "sampler.ids_per_batch=9", "data.val_fraction=0")
    with pytest.raises(UserError, match="fewer than sampler.ids_per_batch=9"):
        train(reid_fixture, cfg, progress=False)


def test_tensorboard_logging(reid_fixture, tmp_path):
    if importlib.util.find_spec("tensorboard") is None:
        pytest.skip("tensorboard is not installed (pip install '.[train]')")
    cfg = tiny_config(
        tmp_path / "run",
        "run.tensorboard=true",
        "data.text=idtext",
        "optim.epochs=1",
        "data.val_fraction=0",
    )
    train(reid_fixture, cfg, progress=False)
    events = list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0


def test_tensorboard_missing_is_a_clear_error(reid_fixture, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    cfg = tiny_config(tmp_path / "run", "run.tensorboard=true", "data.text=idtext")
    with pytest.raises(UserError, match="pip install tensorboard"):
        train(reid_fixture, cfg, progress=False)
