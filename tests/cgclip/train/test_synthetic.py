"""Train and evaluate through the command lines on the project's synthetic builder output."""

from __future__ import annotations

import json

import pytest

import cgclip
from cgclip.evaluate import main as evaluate_main
from cgclip.train.__main__ import main as train_main
from tests.support import REPO_ROOT


# A few synthetic identities have fewer than K=4 tracklets: the sampler says so, by design.
@pytest.mark.filterwarnings("ignore:.*fewer than 4 tracklets:UserWarning")
def test_train_then_evaluate_on_synthetic(synthetic_root, tmp_path, capsys):
    out = tmp_path / "run"
    overrides = [
        "model.name=test-tiny",
        "model.overrides.clip_len=4",
        "optim.epochs=2",
        "optim.warmup_epochs=1",
        "run.max_steps_per_epoch=2",
        "run.eval_every=1",
        "data.num_workers=0",
        f"data.root={synthetic_root}",
        f"run.output_dir={out}",
    ]
    args = ["--config", str(REPO_ROOT / "configs/train/synthetic.yaml"), "--no-progress"]
    assert train_main([*args, *[a for o in overrides for a in ("--override", o)]]) == 0
    model = cgclip.load_model(out / "best.safetensors")
    meta = model.checkpoint_meta
    assert meta["dataset"] == "synthetic" and meta["val"]["num_valid_queries"] > 0
    # the builder's captions.json (found by the reader) went into the text memory
    assert meta["text_memory"] == {"source": "both", "ids_with_captions": len(meta["train_pids"])}
    assert model.config.num_classes == len(meta["train_pids"])

    results = tmp_path / "results.json"
    code = evaluate_main(
        [
            "--checkpoint",
            str(out / "best.safetensors"),
            "--dataset",
            "synthetic",
            "--root",
            str(synthetic_root),
            "--num-workers",
            "0",
            "--output",
            str(results),
        ]
    )
    assert code == 0
    result = json.loads(results.read_text())
    mean = result["mean"]
    assert mean["num_valid_queries"] > 0 and 0 < mean["mAP"] <= 1
    assert result["embedding"] == list(model.config.embedding_parts)

    # another test feature of the same weights, chosen at evaluation time
    common = ["--checkpoint", str(out / "best.safetensors"), "--dataset", "synthetic"]
    common += ["--root", str(synthetic_root), "--num-workers", "0"]
    assert evaluate_main([*common, "--embedding", "v,s", "--output", str(results)]) == 0
    assert json.loads(results.read_text())["embedding"] == ["v", "s"]
    assert evaluate_main([*common, "--embedding", "v,q"]) == 2
    assert "embedding=['v', 'q'] is invalid" in capsys.readouterr().err
