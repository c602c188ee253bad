"""Pretrained CLIP weights: local files (with positional-table interpolation) and offline errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

import cgclip
from cgclip.errors import UserError
from cgclip.model import get_model_config
from cgclip.model.backbone import build_open_clip


def square_clip_state(size: int = 32) -> dict[str, torch.Tensor]:
    """An open_clip state dict of test-tiny's architecture at a square size (2x2 grid)."""
    torch.manual_seed(0)
    cfg = get_model_config("test-tiny", vision={"image_size": (size, size)})
    return {k: v.contiguous() for k, v in build_open_clip(cfg).state_dict().items()}


def test_local_safetensors_weights_load_and_the_grid_is_interpolated(tmp_path):
    state = square_clip_state()
    path = tmp_path / "open_clip_model.safetensors"
    save_file(state, str(path))
    model = cgclip.create_model("test-tiny", pretrained=str(path))
    visual = model.image_encoder.visual
    torch.testing.assert_close(visual.conv1.weight, state["visual.conv1.weight"])
    torch.testing.assert_close(
        model.text_encoder.token_embedding.weight, state["token_embedding.weight"]
    )
    pos = visual.positional_embedding
    assert state["visual.positional_embedding"].shape == (5, 64)  # 2x2 + CLS
    assert pos.shape == (9, 64)  # 4x2 + CLS
    torch.testing.assert_close(pos[0], state["visual.positional_embedding"][0])  # CLS kept
    assert model.pretrained == str(path)


def test_local_bin_weights_are_read_without_unpickling_objects(tmp_path):
    path = tmp_path / "open_clip_pytorch_model.bin"
    torch.save(square_clip_state(), path)
    model = cgclip.create_model("test-tiny", pretrained=str(path))
    assert model.image_encoder.visual.positional_embedding.shape == (9, 64)


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.bin"
    torch.save({"state": object()}, path)
    with pytest.raises(UserError, match="plain state dict"):
        cgclip.create_model("test-tiny", pretrained=str(path))


def test_weights_of_another_architecture(tmp_path):
    path = tmp_path / "other.safetensors"
    state = square_clip_state()
    state["visual.conv1.weight"] = torch.zeros(64, 3, 8, 8)
    save_file(state, str(path))
    with pytest.raises(UserError, match="do not fit"):
        cgclip.create_model("test-tiny", pretrained=str(path))


def test_unknown_tag_lists_the_known_ones():
    with pytest.raises(UserError, match="openai"):
        cgclip.create_model("ViT-B-16", pretrained="not-a-tag")


def test_variant_without_downloads_asks_for_a_file():
    with pytest.raises(UserError, match="no downloadable pretrained weights"):
        cgclip.create_model("test-tiny", pretrained="openai")


def test_offline_openai_download_is_one_clear_line(tmp_path, subprocess_env):
    code = (
        "import cgclip\n"
        "from cgclip.errors import UserError\n"
        "try:\n"
        "    cgclip.create_model('ViT-B-16', pretrained='openai')\n"
        "except UserError as e:\n"
        "    print(e)\n"
    )
    env = {
        **subprocess_env,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    message = out.stdout.strip()
    assert "\n" not in message
    assert "open_clip_pytorch_model.bin" in message
    assert "huggingface.co/timm/vit_base_patch16_clip_224.openai" in message
    assert "pretrained='/path/to/open_clip_pytorch_model.bin'" in message
