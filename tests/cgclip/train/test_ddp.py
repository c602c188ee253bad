"""DDP: two CPU processes under torchrun (gloo) train in lock-step."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import hashlib, json, os, sys
    from pathlib import Path
    import torch
    from tests.cgclip.train.conftest import make_dataset
    from cgclip.train import load_train_config, train

    rank = int(os.environ["RANK"])
    out = Path({out!r})
    ds = make_dataset(out / "data")  # both ranks write the same files (same content)
    cfg = load_train_config(None, [
        "model.name=test-tiny", "model.pretrained=null", "model.overrides.clip_len=2",
        "sampler.ids_per_batch=2", "sampler.tracklets_per_id=2", "optim.lr=1e-3",
        "optim.warmup_epochs=0", "optim.epochs=1", "data.num_workers=0", "data.val_fraction=0",
        "data.text=idtext", "run.max_steps_per_epoch=2", f"run.output_dir={{out / 'run'}}",
    ])
    result = train(ds, cfg, progress=False)
    model = result.model
    params = {{n: p.detach() for n, p in model.named_parameters()}}
    params["cmr.memory"] = model.cmr.memory
    digest = {{n: hashlib.sha1(t.numpy().tobytes()).hexdigest() for n, t in params.items()}}
    (out / f"rank{{rank}}.json").write_text(json.dumps({{
        "digest": digest, "steps": result.history[-1]["steps"], "world": int(os.environ["WORLD_SIZE"]),
    }}))
    """
)


@pytest.mark.slow
def test_two_process_gloo_training_keeps_replicas_identical(tmp_path, subprocess_env):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT.format(out=str(tmp_path)))
    env = {**subprocess_env, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    proc = subprocess.run(
        [*cmd, str(script)], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["world"] == r1["world"] == 2
    assert r0["steps"] == r1["steps"] == 2
    assert r0["digest"] == r1["digest"]  # gradients were all-reduced; memory updates agreed
    # and training did move the weights away from the shared initialisation
    import torch
    from safetensors.torch import load_file

    import cgclip

    torch.manual_seed(0)
    init = cgclip.create_model("test-tiny", num_classes=8, clip_len=2)
    last = load_file(str(tmp_path / "run" / "last.safetensors"))
    w = "image_encoder.visual.conv1.weight"
    assert not torch.equal(last[w], init.state_dict()[w])
