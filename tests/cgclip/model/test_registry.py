"""Named variants, overrides and their validation."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import cgclip
from cgclip.errors import UserError
from cgclip.model import get_model_config


def test_list_models_has_the_paper_model_and_test_variants():
    names = cgclip.list_models()
    assert {"ViT-B-16", "test-tiny", "cpu-small"} <= set(names)


def test_vit_b_16_is_the_papers_geometry():
    cfg = get_model_config("ViT-B-16")
    assert cfg.vision.image_size == (256, 128)
    assert cfg.vision.grid == (16, 8)
    assert cfg.vision.num_tokens == 129
    assert (cfg.vision.width, cfg.embed_dim, cfg.tfe_queries, cfg.cmr_blocks) == (768, 512, 15, 2)
    assert cfg.quick_gelu  # OpenAI CLIP weights use QuickGELU
    # the synthetic ablation's test feature (docs/reid-ablation.md)
    assert cfg.embedding_parts == ("f",)
    assert cfg.embedding_dim == 768


def test_vit_b_16_random_init_produces_129_tokens_of_width_768():
    model = cgclip.create_model("ViT-B-16")
    tokens = model.encode_frames(torch.zeros(1, 3, 256, 128), keep="all")
    assert tokens.shape == (1, 129, 768)
    emb = model.encode_tracklet(tokens[None])
    assert emb.shape == (1, 768)


def test_overrides_reach_the_model():
    model = cgclip.create_model(
        "test-tiny", pooling="mean", tfe_keys="cls", vision={"image_size": (128, 64)}
    )
    assert model.tfe is None
    assert model.config.embedding_parts == ("v",)
    assert model.tokens_per_frame == 1
    assert model.preprocess.size == (128, 64)
    assert model.encode_frames(torch.zeros(2, 3, 128, 64)).shape == (2, 1, 64)


def test_num_queries_override_and_default_heads():
    model = cgclip.create_model("test-tiny", tfe_queries=7, tfe_heads=0)
    assert model.tfe.queries.shape == (7, 64)
    assert model.config.resolved_tfe_heads == 1  # width 64 // 64


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"not_a_key": 1}, r"model config: unknown setting\(s\) not_a_key"),
        ({"vision": {"depth": 3}}, r"unknown setting\(s\) vision.depth"),
        ({"cmr_temperature": float("nan")}, "cmr_temperature must be a finite number"),
        ({"pooling": "max"}, "pooling"),
        ({"tfe_keys": "patches"}, "tfe_keys"),
        ({"memory_update": "ema"}, "memory_update"),
        ({"embedding": ("f", "x")}, "embedding"),
        ({"memory_momentum": 1.5}, "memory_momentum"),
        ({"vision": {"image_size": (70, 32)}}, "multiple of patch_size"),
    ],
)
def test_bad_overrides_are_user_errors(overrides, message):
    with pytest.raises(UserError, match=message):
        cgclip.create_model("test-tiny", **overrides)


def test_unknown_model_name_lists_the_available_ones():
    with pytest.raises(UserError, match="available models"):
        cgclip.create_model("ViT-H-99")


def test_importing_cgclip_does_not_import_torch():
    code = "import sys, cgclip, cgclip.errors; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
