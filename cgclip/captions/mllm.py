"""Optional MLLM captioner (supplement A.3): any ``transformers`` image-text-to-text model.

The paper captioned MARS and iLIDS-VID with Phi-4-multimodal, one caption per image, prompting
with the instruction below and few-shot output examples (first written by GPT-4o). Any chat
model that ``AutoModelForImageTextToText`` loads works here (LLaVA, Idefics3, SmolVLM,
Qwen2-VL...; transformers files Phi-4-multimodal under another auto class): the instruction, the
examples and the image go through the model's own chat template, generation is greedy, and the
answer is cleaned to one caption.

:func:`caption_tracklets` captions a dataset per tracklet (a few evenly spaced frames each) or per
image, appending each answer to a JSONL log as it goes, so an interrupted run resumes without
redoing finished images; the result is the usual caption JSON (pid -> captions).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cgclip.data.tracklets import Tracklet
from cgclip.errors import UserError

INSTRUCTION = (
    "Write a description about the overall appearance of the person in the image, including the "
    "attributes: clothes, shoes, hairstyle, gender, belongings."
)
# The supplement's output examples (section A.3).
EXAMPLES = (
    "A man is wearing a white short-sleeved T-shirt and black long pants. His shoes are gray and "
    "he has short hair.",
    "A woman with long black hair is dressed in a pink short-sleeved shirt and short navy blue "
    "pants. She is wearing pink sandals.",
)
PARAPHRASE_INSTRUCTION = (
    "Rewrite the following description of a person with different wording. Keep every attribute "
    "(gender, clothes and their colours, numbers, shoes, hairstyle, belongings) and add nothing. "
    "Answer with the rewritten description only."
)
PARAPHRASE_EXAMPLES = (
    "A female basketball player is wearing a blue uniform with the number 3. She has a ponytail.",
    "A woman basketball player is seen in a blue uniform with the number 7, and she also wears "
    "black shoes.",
)
_ID_SENTENCE = re.compile(r"\s*The person's ID is [^.]*\.?", re.IGNORECASE)
_PREFIX = re.compile(r"^(assistant|answer|output|description|caption)\s*:\s*", re.IGNORECASE)


def build_prompt(instruction: str = INSTRUCTION, examples: Sequence[str] = EXAMPLES) -> str:
    """The instruction followed by the few-shot output examples, as in the supplement."""
    lines = [instruction]
    if examples:
        lines += ["", "(Output Examples)"] + [f"- {e}" for e in examples]
    return "\n".join(lines)


def clean_caption(text: str) -> str:
    """One caption from a raw answer: first non-empty line, no bullet/quotes/role prefix/ID text.

    Returns "" when nothing word-like is left (the caller drops it).
    """
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = _ID_SENTENCE.sub("", line).strip()
    previous = None
    while line != previous:  # "ASSISTANT: - 1. text" -> "text"
        previous = line
        line = _PREFIX.sub("", re.sub(r"^[-*•\d.)\s]+", "", line)).strip().strip("\"'`").strip()
    line = " ".join(line.split())
    if not re.search(r"[A-Za-z]{2,}", line):
        return ""
    line = line[0].upper() + line[1:]
    return line if line[-1] in ".!?" else line + "."


class MllmCaptioner:
    """Caption person crops with an image-text-to-text model from the Hugging Face hub or a folder.

    ``model_id``: a hub id (e.g. ``"HuggingFaceTB/SmolVLM-256M-Instruct"``) or a local folder with
    the model and its processor. ``dtype``: ``"auto"``, ``"float32"``, ``"bfloat16"``...
    """

    def __init__(
        self,
        model_id: str,
        *,
        device: str = "cpu",
        dtype: str = "auto",
        max_new_tokens: int = 80,
        batch_size: int = 4,
        trust_remote_code: bool = False,
        prompt: str | None = None,
    ) -> None:
        try:
            import torch
            from transformers import AutoModelForImageTextToText, AutoProcessor
        except ImportError:
            raise UserError(
                "the MLLM captioner needs transformers: pip install 'cgclip-track[dev]'"
            ) from None
        self._torch = torch
        self.model_id = model_id
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.batch_size = max(1, batch_size)
        self.prompt = prompt or build_prompt()
        try:
            self.processor = AutoProcessor.from_pretrained(
                model_id, trust_remote_code=trust_remote_code
            )
            self.model = AutoModelForImageTextToText.from_pretrained(
                model_id,
                dtype=dtype if dtype == "auto" else getattr(torch, dtype),
                trust_remote_code=trust_remote_code,
            )
        except (OSError, ValueError, AttributeError) as err:
            reason = (
                str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            )
            raise UserError(
                f"could not load image-text-to-text model {model_id!r} ({reason}); pass a hub id "
                "that is downloadable or already in the Hugging Face cache, or a local folder "
                "holding the model and its processor"
            ) from None
        if getattr(self.processor, "chat_template", None) is None:
            raise UserError(
                f"{model_id}: the processor has no chat template; use an instruct model"
            )
        self.model.to(device).eval()
        tokenizer = getattr(self.processor, "tokenizer", None)
        if tokenizer is not None:
            tokenizer.padding_side = "left"  # generation appends on the right

    def _generate(self, texts: list[str], images: list[Any] | None, **gen: Any) -> list[str]:
        kwargs: dict[str, Any] = {"text": texts, "return_tensors": "pt", "padding": True}
        if images is not None:
            kwargs["images"] = images
        inputs = self.processor(**kwargs).to(self.device)
        with self._torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, **gen)
        new = out[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(new, skip_special_tokens=True)

    def _chat(self, prompt: str, with_image: bool) -> str:
        content: list[dict[str, str]] = [{"type": "image"}] if with_image else []
        content.append({"type": "text", "text": prompt})
        messages = [{"role": "user", "content": content}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True)

    def caption_images(self, images: Sequence[str | Path | Any]) -> list[str]:
        """One cleaned caption per image (path or PIL image); "" where the answer was unusable."""
        pil = [_open_image(im) for im in images]
        text = self._chat(self.prompt, with_image=True)
        out: list[str] = []
        for i in range(0, len(pil), self.batch_size):
            batch = pil[i : i + self.batch_size]
            answers = self._generate([text] * len(batch), batch, do_sample=False)
            out += [clean_caption(a) for a in answers]
        return out

    def paraphrase(self, caption: str, n: int = 9, seed: int = 0) -> list[str]:
        """Up to ``n`` distinct rewordings of a caption (sampled; text-only prompt)."""
        self._torch.manual_seed(seed)
        prompt = build_prompt(PARAPHRASE_INSTRUCTION, PARAPHRASE_EXAMPLES)
        text = self._chat(f"{prompt}\n\nDescription: {caption}", with_image=False)
        answers = self._generate([text], None, do_sample=True, num_return_sequences=n)
        seen = dict.fromkeys(c for c in map(clean_caption, answers) if c and c != caption)
        return list(seen)


def _open_image(image: Any) -> Any:
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    try:
        with Image.open(image) as im:
            return im.convert("RGB")
    except (OSError, UnidentifiedImageError):
        raise UserError(f"{image}: cannot open image (missing or corrupt)") from None


def select_frames(tracklet: Tracklet, k: int) -> list[str]:
    """``k`` evenly spaced frames (the middle one when ``k == 1``)."""
    n = len(tracklet.frames)
    k = min(k, n)
    return [tracklet.frames[int((i + 0.5) * n / k)] for i in range(k)]


def _jobs(
    tracklets: Iterable[Tracklet], per: str, frames_per_tracklet: int, max_per_id: int | None
) -> list[tuple[str, int]]:
    jobs: list[tuple[str, int]] = []
    count: dict[int, int] = {}
    for t in sorted(tracklets, key=lambda t: (t.pid, t.camid, t.start, t.frames[0])):
        frames = list(t.frames) if per == "image" else select_frames(t, frames_per_tracklet)
        for f in frames:
            if max_per_id is not None and count.get(t.pid, 0) >= max_per_id:
                break
            count[t.pid] = count.get(t.pid, 0) + 1
            jobs.append((f, t.pid))
    return jobs


def read_log(path: Path) -> dict[str, dict]:
    """Finished entries of a captioning log (a torn last line from a crash is skipped)."""
    done: dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                done[str(rec["image"])] = rec
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return done


def caption_tracklets(
    captioner: MllmCaptioner,
    tracklets: Iterable[Tracklet],
    *,
    per: str = "tracklet",
    frames_per_tracklet: int = 1,
    max_per_id: int | None = None,
    log_path: str | Path | None = None,
    progress: bool = True,
) -> dict[int, list[str]]:
    """Caption a dataset's tracklets; returns ``{pid: [distinct captions]}`` (no ID text).

    ``per="tracklet"``: ``frames_per_tracklet`` evenly spaced frames of each tracklet;
    ``per="image"``: every frame (the paper's MARS/iLIDS-VID setting). ``max_per_id`` caps the
    captioned images per identity. ``log_path``: JSONL of finished images, for resuming.
    """
    if per not in ("tracklet", "image"):
        raise UserError(f"per must be 'tracklet' or 'image', got {per!r}")
    if frames_per_tracklet < 1:
        raise UserError("frames per tracklet must be >= 1")
    jobs = _jobs(tracklets, per, frames_per_tracklet, max_per_id)
    log = Path(log_path) if log_path else None
    done = read_log(log) if log else {}
    todo = [(f, pid) for f, pid in jobs if f not in done]
    fh = log.open("a", encoding="utf-8") if log else None
    try:
        bar = tqdm(total=len(todo), desc="captioning", unit="img", disable=not progress)
        step = captioner.batch_size
        for i in range(0, len(todo), step):
            batch = todo[i : i + step]
            caps = captioner.caption_images([f for f, _ in batch])
            for (f, pid), cap in zip(batch, caps, strict=True):
                done[f] = {"image": f, "pid": pid, "caption": cap}
                if fh:
                    fh.write(json.dumps(done[f]) + "\n")
            if fh:
                fh.flush()
            bar.update(len(batch))
        bar.close()
    finally:
        if fh:
            fh.close()
    out: dict[int, dict[str, None]] = {}
    for f, pid in jobs:
        cap = done[f]["caption"]
        if cap:
            out.setdefault(pid, {})[cap] = None
    return {pid: list(caps) for pid, caps in sorted(out.items())}
