"""The ReID ablation benchmark: one tiny row per seed end to end, resume, and the summary maths."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks.reid_ablation import (
    CONFIG,
    EMBEDDINGS,
    ROWS,
    best_update,
    main,
    markdown_tables,
    row_overrides,
    summarize,
)
from cgclip.data import load_dataset
from cgclip.errors import UserError
from cgclip.evaluate import evaluate_dataset
from cgclip.model import create_model
from cgclip.train.config import load_train_config

TINY = [
    "model.name=test-tiny",
    "model.overrides.clip_len=4",
    "optim.epochs=1",
    "optim.warmup_epochs=0",
    "run.max_steps_per_epoch=2",
    "run.eval_every=1",
    "data.num_workers=0",
    "sampler.ids_per_batch=4",
]


def _args(root, tmp_path, rows, extra=()):
    overrides = [*TINY, f"data.root={root}", *extra]
    return [
        "--rows",
        *rows,
        "--seeds",
        "1",
        "--output",
        str(tmp_path / "ablation.json"),
        "--work-dir",
        str(tmp_path / "work"),
        "--no-progress",
        *[a for o in overrides for a in ("--override", o)],
    ]


@pytest.mark.filterwarnings("ignore:.*fewer than 4 tracklets:UserWarning")
def test_ablation_runs_rows_and_resumes(synthetic_root, tmp_path, capsys):
    assert main(_args(synthetic_root, tmp_path, ["untrained", "cmr-video"])) == 0
    data = json.loads((tmp_path / "ablation.json").read_text())
    assert data["machine"]["cpu"] and data["machine"]["torch"] == torch.__version__
    runs = {r["row"]: r for r in data["runs"]}
    assert set(runs) == {"untrained", "cmr-video"}
    trained = runs["cmr-video"]
    assert trained["steps"] == 2 and trained["best_epoch"] == 1
    assert "model.overrides.memory_update=video" in trained["overrides"]
    assert set(trained["embeddings"]) == set(EMBEDDINGS)
    for run in runs.values():
        assert 0 < run["selected"]["mAP"] <= 100
        assert run["selected"] == run["embeddings"][run["embedding"]]
    assert not (tmp_path / "work" / "cmr-video-seed0").exists()  # checkpoints removed
    assert data["summary"]["cmr-video"]["selected"]["mAP"][1] == 0.0  # one seed: no spread
    out = capsys.readouterr().out
    assert "| cmr-video |" in out and "f+v+s" in out

    # The untrained row is the initial model, scored as cgclip.evaluate scores it.
    cfg = load_train_config(CONFIG, TINY)
    torch.manual_seed(0)
    model = create_model("test-tiny", **cfg.model.overrides)
    expected = evaluate_dataset(model, load_dataset("synthetic", synthetic_root), progress=False)
    assert runs["untrained"]["selected"]["mAP"] == pytest.approx(100 * expected.mAP, abs=1e-4)
    assert runs["untrained"]["embedding"] == "".join(model.config.embedding_parts) == "f"

    # Running again with the same settings trains nothing; the text rows pick the best update.
    before = trained["seconds"]
    assert main(_args(synthetic_root, tmp_path, ["cmr-video", "text-idtext"])) == 0
    data = json.loads((tmp_path / "ablation.json").read_text())
    runs = {r["row"]: r for r in data["runs"]}
    assert runs["cmr-video"]["seconds"] == before
    assert "model.overrides.memory_update=video" in runs["text-idtext"]["overrides"]
    assert "data.text=idtext" in runs["text-idtext"]["overrides"]

    # Other shared settings are another ablation: earlier runs are not reused.
    args = _args(synthetic_root, tmp_path, ["untrained"], extra=["run.eval_every=2"])
    assert main(args) == 0
    data = json.loads((tmp_path / "ablation.json").read_text())
    assert [r["row"] for r in data["runs"]] == ["untrained"]


def test_text_rows_need_a_memory_update_and_rows_must_exist(tmp_path, capsys):
    with pytest.raises(UserError, match="needs the memory update"):
        row_overrides("text-caption", None)
    assert "model.overrides.memory_update=refined" in row_overrides("text-caption", "refined")
    assert "model.overrides.use_cmr=false" in row_overrides("mean", None)
    assert "model.overrides.embedding=[v]" in row_overrides("mean", None)
    with pytest.raises(UserError, match="unknown row"):
        row_overrides("tfe-deluxe", None)
    assert main(["--table-only", "--output", str(tmp_path / "none.json")]) == 2
    assert "holds no runs" in capsys.readouterr().err


def _record(row, seed, m, r1):
    scores = {e: {"mAP": m + (e == "f"), "R1": r1, "R5": r1} for e in EMBEDDINGS}
    return {
        "row": row,
        "seed": seed,
        "description": ROWS[row][0],
        "selected": {"mAP": m, "R1": r1},
        "last": {"mAP": m - 1, "R1": r1 - 1},
        "embeddings": scores,
        "train_s": 10.0 * (seed + 1),
    }


def test_summary_is_mean_and_sample_std_over_seeds():
    runs = [
        _record("tfe", 0, 50.0, 60.0),
        _record("tfe", 1, 54.0, 70.0),
        _record("cmr-none", 0, 40.0, 50.0),
        _record("cmr-video", 0, 60.0, 70.0),
        _record("cmr-video", 1, 62.0, 70.0),
    ]
    s = summarize(runs)
    # mean 52, sample std sqrt(((50-52)^2 + (54-52)^2) / 1) = sqrt(8)
    assert s["tfe"]["selected"]["mAP"] == pytest.approx([52.0, 8**0.5])
    assert s["tfe"]["selected"]["R1"] == pytest.approx([65.0, 50**0.5])
    assert s["tfe"]["last"]["mAP"] == pytest.approx([51.0, 8**0.5])
    assert s["tfe"]["embeddings"]["f"]["mAP"] == pytest.approx([53.0, 8**0.5])
    assert s["tfe"]["train_s"] == pytest.approx(15.0)
    assert s["tfe"]["seeds"] == [0, 1]
    # paired by seed against the tfe row: (60 - 50, 62 - 54) -> mean 9, std sqrt(2)
    assert s["cmr-video"]["delta_vs_reference"]["f"] == pytest.approx([9.0, 2**0.5])
    assert s["cmr-none"]["delta_vs_reference"]["v"] == pytest.approx([-10.0, 0.0])  # seed 0 only
    assert s["tfe"]["delta_vs_fvs"]["f"] == [1.0, 0.0]  # f scores 1 above f+v+s in every run
    assert s["tfe"]["delta_vs_fvs"]["v"] == [0.0, 0.0]
    assert best_update(runs) == "video"
    assert best_update(runs[:2]) is None
    table = markdown_tables(s, "f")
    row = "| tfe | TFE, no CMR | 53.0 ± 2.8 | 65.0 ± 7.1 | +0.0 ± 0.0 | 52.0 ± 2.8 | 51.0 ± 2.8 | 15 |"
    assert row in table
    assert "| cmr-video |" in table and "| +9.0 ± 1.4 |" in table
    assert "| mAP (f+v+s) |" in markdown_tables(s, "fvs")
