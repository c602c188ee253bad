"""``cgclip.runtime.load``: one resolver from ``--reid`` to a model or backend, one device rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import cgclip
from cgclip.errors import UserError
from cgclip.runtime import EagerBackend
from cgclip.runtime.load import (
    is_clip,
    load_backend,
    load_reid,
    load_reid_model,
    reid_name,
    resolve_device,
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, copy_checkpoint) -> Path:
    """A copy of the root ``tiny_checkpoint``: load_backend writes artefacts beside it."""
    folder = tmp_path_factory.mktemp("clips")  # a folder named like "clip": still a checkpoint
    return copy_checkpoint(folder)


def test_auto_is_cuda_when_present_else_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected
    assert resolve_device("cpu") == torch.device("cpu")


def test_device_errors_name_the_option():
    with pytest.raises(UserError, match=r"^--device 'banana' is not a torch device; use auto"):
        resolve_device("banana")
    with pytest.raises(UserError, match=r"^run.device cuda:99: "):
        resolve_device("cuda:99", option="run.device")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bare_cuda_is_the_local_rank():
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("auto", local_rank=0) == torch.device("cuda", 0)


def test_none_loads_nothing(checkpoint):
    for value in (None, "none", " None "):
        assert load_reid_model(value) is None and load_reid(value) is None
        assert load_backend(value) is None and reid_name(value, None) == "none"


def test_a_checkpoint_is_the_model_itself_in_eager_fp32(checkpoint):
    assert not is_clip(str(checkpoint)) and is_clip("clip") and is_clip("CLIP:/w.bin")
    loaded = load_reid(str(checkpoint), device="cpu")
    assert isinstance(loaded.model, cgclip.CGCLIP) and loaded.model.name == "test-tiny"
    assert loaded.name == f"cgclip:test-tiny ({checkpoint})" and loaded.device.type == "cpu"


def test_other_backends_wrap_the_model_and_keep_artefacts_beside_the_checkpoint(checkpoint):
    loaded = load_reid(str(checkpoint), precision="bf16", device="cpu")
    assert isinstance(loaded.model, EagerBackend) and loaded.model.precision == "bf16"
    assert loaded.name.endswith(", eager bf16 on cpu (torch " + torch.__version__ + ")")
    backend = load_backend(checkpoint)  # the runtime API: always a backend, eager included
    assert isinstance(backend, EagerBackend) and backend.precision == "fp32"


def test_clip_path_errors_start_with_the_option(tmp_path):
    with pytest.raises(UserError, match=r"^ReID model clip:.*nope.bin: no such file"):
        load_reid_model(f"clip:{tmp_path / 'nope.bin'}", option="ReID model")
    with pytest.raises(UserError, match=r"^--reid .*missing.safetensors: no such file"):
        load_reid_model(str(tmp_path / "missing.safetensors"))


def test_clip_offline_says_how_to_provide_the_file(monkeypatch):
    import open_clip.pretrained

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    import cgclip.model.pretrained as pretrained

    # The hub answers the probe, then the download itself fails.
    monkeypatch.setattr(pretrained, "reachable", lambda host: True)
    monkeypatch.setattr(pretrained, "hf_offline", lambda: False)
    monkeypatch.setattr(open_clip.pretrained, "download_pretrained", offline)
    with pytest.raises(UserError) as err:
        load_reid_model("clip", clip_hint="fetch {file} yourself")
    message = str(err.value)
    assert message.startswith("--reid clip: could not download CLIP weights ViT-B-16/openai")
    assert message.endswith("fetch open_clip_pytorch_model.bin yourself")
    assert "network is unreachable" in message and "\n" not in message


def test_clip_with_the_hub_unreachable_fails_at_once_without_retries(monkeypatch):
    import open_clip.pretrained

    import cgclip.model.pretrained as pretrained

    probes = []
    monkeypatch.setattr(pretrained, "reachable", lambda host: probes.append(host) or False)
    monkeypatch.setattr(pretrained, "hf_offline", lambda: False)
    monkeypatch.setattr(pretrained, "_cached_weights", lambda cfg, cache_dir: None)
    monkeypatch.setattr(
        open_clip.pretrained, "download_pretrained", lambda *a, **k: pytest.fail("downloaded")
    )
    with pytest.raises(UserError) as err:
        load_reid_model("clip")
    assert probes == ["huggingface.co"]
    assert str(err.value) == (
        "--reid clip: this machine cannot reach huggingface.co, so the CLIP weights "
        "ViT-B-16/openai (open_clip_pytorch_model.bin) cannot be downloaded: download "
        "open_clip_pytorch_model.bin from https://huggingface.co/timm/vit_base_patch16_clip_224.openai "
        "where there is internet and pass --reid clip:/path/to/open_clip_pytorch_model.bin, or "
        "use --reid model.safetensors (a cgclip checkpoint) or --reid none (motion only)"
    )


def test_reachable_probe_is_quick_and_honours_the_proxy(monkeypatch):
    import socket
    import time

    from cgclip.io import net

    with socket.socket() as server:  # a local port that accepts: reachable
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert net.reachable("127.0.0.1", port)
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        assert net.reachable("huggingface.co")  # the probe goes to the proxy
    monkeypatch.delenv("HTTPS_PROXY")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        free = closed.getsockname()[1]
    started = time.monotonic()
    assert not net.reachable("127.0.0.1", free, timeout=1.0)  # refused
    assert not net.reachable("no-such-host.invalid", timeout=1.0)
    assert time.monotonic() - started < 3.5
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert net.hf_offline()


def test_track_cli_prints_the_device_it_chose(sample_clip, checkpoint, tmp_path, capsys):
    from tracker.run import main

    video, det = str(sample_clip / "sample.mp4"), str(sample_clip / "det.txt")
    common = ["--detections", det, "--no-video", "--max-frames", "3", "--output-dir"]
    assert main([video, *common, str(tmp_path / "a"), "--reid", str(checkpoint)]) == 0
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert f"device: {expected} (auto)" in capsys.readouterr().err.splitlines()
    # nothing runs on a device (replayed detections, motion only): no torch, nothing printed
    assert main([video, *common, str(tmp_path / "b"), "--device", "cpu"]) == 0
    assert "device:" not in capsys.readouterr().err
