"""The MLLM captioner's whole path on a tiny randomly initialised LLaVA built from a config.

As in the transformers test suite, the model is built from a small config (no download), saved
with its processor (a word-level tokenizer made in memory, a CLIP image processor, a chat
template) to a folder, and the captioner loads that folder exactly as it loads a hub model id.
Its generation config suppresses special tokens, so the random model always answers in words.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("transformers")

from cgclip.captions import load_captions, save_captions  # noqa: E402
from cgclip.captions.__main__ import main  # noqa: E402
from cgclip.captions.mllm import (  # noqa: E402
    EXAMPLES,
    INSTRUCTION,
    MllmCaptioner,
    build_prompt,
    caption_tracklets,
    clean_caption,
    select_frames,
)
from cgclip.data.tracklets import Tracklet  # noqa: E402
from cgclip.data.vreid import crop_dir, crop_name  # noqa: E402
from cgclip.errors import UserError  # noqa: E402

WORDS = [
    "a",
    "man",
    "woman",
    "person",
    "is",
    "wearing",
    "white",
    "black",
    "red",
    "blue",
    "green",
    "shirt",
    "pants",
    "shorts",
    "shoes",
    "socks",
    "hair",
    "short",
    "long",
    "and",
    "with",
    "the",
    "he",
    "she",
    "has",
    "jersey",
    "number",
    "USER:",
    "ASSISTANT:",
]
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<image>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'].upper() }}: "
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image> {% elif c['type'] == 'text' %}{{ c['text'] }} {% endif %}"
    "{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_mllm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    vocab = {w: i for i, w in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
    )
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        chat_template=CHAT_TEMPLATE,
        num_additional_image_tokens=1,
    )
    config = LlavaConfig(
        vision_config={
            "model_type": "clip_vision_model",
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 16,
            "patch_size": 8,
            "projection_dim": 16,
        },
        text_config={
            "model_type": "llama",
            "vocab_size": len(vocab),
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "max_position_embeddings": 256,
            "pad_token_id": 0,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
        image_token_index=vocab["<image>"],
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.suppress_tokens = list(range(len(SPECIALS)))
    model.generation_config.pad_token_id = 0
    folder = tmp_path_factory.mktemp("tiny-llava")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def crops(root: Path, n: int) -> list[str]:
    paths = []
    for i in range(n):
        p = root / f"crop{i}.jpg"
        img = np.random.default_rng(i).integers(0, 255, (64, 32, 3), dtype=np.uint8)
        cv2.imwrite(str(p), img)
        paths.append(str(p))
    return paths


def test_prompt_and_cleaning() -> None:
    prompt = build_prompt()
    assert prompt.startswith(INSTRUCTION) and "(Output Examples)" in prompt
    assert all(f"- {e}" in prompt for e in EXAMPLES)
    assert clean_caption("ASSISTANT: - A man in red\nsecond line") == "A man in red."
    assert (
        clean_caption('"a woman with long hair." The person\'s ID is 4.')
        == "A woman with long hair."
    )
    assert clean_caption("1. A man wears shoes!") == "A man wears shoes!"
    assert clean_caption("  \n- . ") == ""


def test_captioner_runs_the_whole_path(tiny_mllm: Path, tmp_path: Path) -> None:
    captioner = MllmCaptioner(str(tiny_mllm), batch_size=2, max_new_tokens=8)
    text = captioner._chat(captioner.prompt, with_image=True)
    assert text.startswith("USER: <image> Write a description") and text.endswith("ASSISTANT:")
    assert all(e in text for e in EXAMPLES)
    paths = crops(tmp_path, 3)
    caps = captioner.caption_images(paths)
    assert len(caps) == 3 and all(c and c.endswith(".") for c in caps)
    assert all(set(c.rstrip(".").lower().split()) <= {w.lower() for w in WORDS} for c in caps)
    # batching does not change the greedy answers, and the path equals a direct generate call
    one = MllmCaptioner(str(tiny_mllm), batch_size=1, max_new_tokens=8)
    assert one.caption_images(paths) == caps
    from PIL import Image

    direct = one._generate([text], [Image.open(paths[0]).convert("RGB")], do_sample=False)
    assert clean_caption(direct[0]) == caps[0]
    para = captioner.paraphrase("A man is wearing a red shirt.", n=3, seed=0)
    assert 1 <= len(para) <= 3 and len(set(para)) == len(para)
    assert all(p != "A man is wearing a red shirt." for p in para)


def test_caption_tracklets_writes_resumable_log(tiny_mllm: Path, tmp_path: Path) -> None:
    frames = crops(tmp_path, 6)
    tracklets = [
        Tracklet(frames=tuple(frames[0:3]), pid=1, camid=0),
        Tracklet(frames=tuple(frames[3:5]), pid=1, camid=1),
        Tracklet(frames=(frames[5],), pid=2, camid=0),
    ]
    assert select_frames(tracklets[0], 1) == [frames[1]]  # the middle frame
    assert select_frames(tracklets[0], 2) == [frames[0], frames[2]]  # evenly spaced
    captioner = MllmCaptioner(str(tiny_mllm), batch_size=2, max_new_tokens=6)
    calls: list[int] = []
    real = captioner.caption_images
    captioner.caption_images = lambda imgs: calls.append(len(imgs)) or real(imgs)  # type: ignore[method-assign]

    log = tmp_path / "log.jsonl"
    caps = caption_tracklets(
        captioner, tracklets, per="tracklet", frames_per_tracklet=2, log_path=log, progress=False
    )
    assert sum(calls) == 5  # 2 + 2 + 1 frames
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(e["image"] for e in entries) == sorted(
        [frames[0], frames[2], frames[3], frames[4], frames[5]]
    )
    assert set(caps) == {1, 2} and all(caps.values())
    save_captions(tmp_path / "c.json", caps)
    assert load_captions(tmp_path / "c.json") == caps

    calls.clear()  # everything logged: nothing is captioned again
    assert (
        caption_tracklets(captioner, tracklets, frames_per_tracklet=2, log_path=log, progress=False)
        == caps
    )
    assert calls == []
    lines = log.read_text().splitlines()  # a crash tore the last line: only that image is redone
    log.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:10])
    assert (
        caption_tracklets(captioner, tracklets, frames_per_tracklet=2, log_path=log, progress=False)
        == caps
    )
    assert calls == [1]

    calls.clear()
    per_image = caption_tracklets(captioner, tracklets, per="image", max_per_id=4, progress=False)
    assert sum(calls) == 5  # pid 1 capped at 4 of its 5 frames, pid 2 has 1
    assert set(per_image) == {1, 2}


def test_cli_captions_a_built_dataset(tiny_mllm: Path, tmp_path: Path) -> None:
    root = tmp_path / "vreid"
    recs = []
    for pid, seq in ((1, "s1"), (2, "s1"), (3, "s2")):
        for f in (1, 2):
            path = crop_dir(root, "train", seq, pid) / crop_name(f)
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), np.full((64, 32, 3), 40 * pid, np.uint8))
        recs.append(
            {"split": "train", "seq": seq, "track": pid, "pid": pid, "camid": 0, "frames": [1, 2]}
        )
    (root / "index.json").write_text(
        json.dumps({"format": "cgclip-vreid", "version": 1, "tracklets": recs})
    )
    out = tmp_path / "mllm.json"
    args = [
        "mllm",
        "--dataset",
        "sportsvreid",
        "--root",
        str(root),
        "--model-id",
        str(tiny_mllm),
        "--out",
        str(out),
    ]
    assert main(args + ["--max-new-tokens", "6"]) == 0
    assert sorted(load_captions(out)) == [1, 2, 3]
    assert (tmp_path / "mllm.json.log.jsonl").is_file()
    more = tmp_path / "more.json"
    assert (
        main(
            [
                "paraphrase",
                "--captions",
                str(out),
                "--model-id",
                str(tiny_mllm),
                "--out",
                str(more),
                "--per-id",
                "3",
                "--max-new-tokens",
                "6",
            ]
        )
        == 0
    )
    extended = load_captions(more)
    assert all(
        extended[p][0] == load_captions(out)[p][0] and 1 < len(extended[p]) <= 3 for p in (1, 2, 3)
    )


def test_unloadable_models_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(
        UserError, match=r"could not load image-text-to-text model 'nobody/no-such-model'"
    ):
        MllmCaptioner("nobody/no-such-model")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=r"could not load image-text-to-text model '.*empty'"):
        MllmCaptioner(str(empty))
