"""Command lines: python -m cgclip.train and python -m cgclip.evaluate."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import cgclip.evaluate
import cgclip.train.data
from cgclip.errors import UserError
from cgclip.evaluate import main as evaluate_main
from cgclip.evaluate import parse_splits
from cgclip.train.__main__ import main as train_main
from tests.support import REPO_ROOT

TINY = [
    "model.name=test-tiny",
    "model.pretrained=null",
    "model.overrides.clip_len=2",
    "sampler.ids_per_batch=3",
    "sampler.tracklets_per_id=2",
    "optim.epochs=1",
    "optim.warmup_epochs=0",
    "data.num_workers=0",
    "data.val_fraction=0",
    "data.text=idtext",
    "run.max_steps_per_epoch=2",
]


def overrides(*items):
    return [arg for item in [*TINY, *items] for arg in ("--override", item)]


@pytest.fixture
def fake_readers(monkeypatch, reid_fixture):
    """Stand-in for cgclip.data.load_dataset where training and evaluation call it: an in-memory
    dataset, so these CLI tests need no dataset on disk."""
    calls = []

    def load_dataset(name, root, **options):
        calls.append((name, str(root), options))
        return reid_fixture

    for module in (cgclip.train.data, cgclip.evaluate):
        monkeypatch.setattr(module, "load_dataset", load_dataset)
    return calls


def test_train_cli_end_to_end_then_evaluate(fake_readers, tmp_path, capsys):
    out = tmp_path / "run"
    code = train_main(
        [
            "--config",
            str(REPO_ROOT / "configs/train/synthetic.yaml"),
            "--no-progress",
            # the readers are faked, so the preset's synthetic generation (test_generate.py
            # covers it) would only cost time here
            *overrides(f"run.output_dir={out}", f"data.root={tmp_path}", "data.generate=null"),
        ]
    )
    assert code == 0
    assert fake_readers[0][:2] == ("synthetic", str(tmp_path))
    assert (out / "best.safetensors").is_file()
    assert "best checkpoint" in capsys.readouterr().out

    results = tmp_path / "results.json"
    code = evaluate_main(
        [
            "--checkpoint",
            str(out / "best.safetensors"),
            "--dataset",
            "sportsvreid",
            "--root",
            str(tmp_path),
            "--num-workers",
            "0",
            "--output",
            str(results),
        ]
    )
    assert code == 0
    data = json.loads(results.read_text())
    assert set(data["mean"]) >= {"mAP", "R1", "R5", "R10", "R20"}
    assert 0 <= data["mean"]["mAP"] <= 1


def test_output_folder_is_checked_before_the_data_is_read(fake_readers, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file where the run folder should go")
    argv = ["--no-progress", *overrides(f"run.output_dir={taken}", f"data.root={tmp_path}")]
    assert train_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(taken) in err[0] and "already exists as a file" in err[0]
    assert fake_readers == []  # failed before loading any data, let alone an epoch


def test_an_earlier_run_needs_overwrite(fake_readers, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--no-progress", *overrides(f"run.output_dir={out}", f"data.root={tmp_path}")]
    argv += ["--override", "run.resume=false"]
    assert train_main(argv) == 0
    assert f"results in {out}" in capsys.readouterr().out
    assert train_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "earlier run" in err[0] and "--overwrite" in err[0]
    assert len(fake_readers) == 1  # refused before reading the data again
    assert train_main([*argv, "--overwrite"]) == 0


def test_ilidsvid_evaluates_every_split_and_reports_the_mean(
    fake_readers, tiny_checkpoint, tmp_path
):
    for split in (0, 1):  # one model per split (here the same one twice)
        (tmp_path / f"split{split}").mkdir()
        for suffix in (".safetensors", ".json"):
            (tmp_path / f"split{split}" / f"best{suffix}").write_bytes(
                tiny_checkpoint.with_suffix(suffix).read_bytes()
            )
    results = tmp_path / "ilids.json"
    pattern = str(tmp_path / "split{split}" / "best.safetensors")
    code = evaluate_main(
        [
            "--checkpoint",
            pattern,
            "--dataset",
            "ilidsvid",
            "--root",
            str(tmp_path),
            "--splits",
            "0-1",
            "--num-workers",
            "0",
            "--output",
            str(results),
        ]
    )
    assert code == 0
    data = json.loads(results.read_text())
    assert set(data["splits"]) == {"0", "1"}
    assert [c[2] for c in fake_readers] == [{"split": 0}, {"split": 1}]
    assert data["mean"]["mAP"] == pytest.approx(data["splits"]["0"]["mAP"])  # same model twice


def test_ilidsvid_needs_one_checkpoint_per_split(fake_readers, tmp_path, capsys):
    code = evaluate_main(
        ["--checkpoint", "x.safetensors", "--dataset", "ilidsvid", "--root", str(tmp_path)]
    )
    assert code == 2
    assert "{split} placeholder" in capsys.readouterr().err


def test_missing_dataset_root_is_one_line(tmp_path, capsys):
    code = train_main(["--override", f"data.root={tmp_path / 'MARS'}", *overrides()])
    err = capsys.readouterr().err
    assert code == 2 and "dataset root not found" in err and err.count("\n") == 1


def test_bad_config_key_exits_2_without_traceback(subprocess_env):
    proc = subprocess.run(
        [sys.executable, "-m", "cgclip.train", "--override", "optim.lrr=1"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ")
    assert "unknown setting(s) optim.lrr" in proc.stderr
    assert "valid keys in 'optim'" in proc.stderr and " lr," in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_checkpoint_for_evaluate(fake_readers, tmp_path, capsys):
    code = evaluate_main(
        [
            "--checkpoint",
            str(tmp_path / "x.safetensors"),
            "--dataset",
            "mars",
            "--root",
            str(tmp_path),
        ]
    )
    assert code == 2 and "checkpoint not found" in capsys.readouterr().err


def test_missing_captions_file(fake_readers, tmp_path, capsys):
    code = train_main(
        [
            *overrides(
                f"data.root={tmp_path}", "data.text=both", f"data.captions={tmp_path / 'caps.json'}"
            )
        ]
    )
    assert code == 2 and "caption file not found" in capsys.readouterr().err


def test_parse_splits():
    assert parse_splits("3") == [3]
    assert parse_splits("0-2,5") == [0, 1, 2, 5]
    with pytest.raises(UserError):
        parse_splits("a-b")
