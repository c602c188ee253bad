"""Build CMR's text memory: per training identity, the mean frozen-CLIP feature of its texts.

Texts per identity (``data.text``): ``caption`` (its captions), ``idtext`` (only "The person's ID
is <id>."), or ``both`` (each caption followed by the ID text; Table S.5's best). An identity with
no caption falls back to the ID text alone, with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from tqdm import tqdm

from cgclip.captions import id_text, with_id_text
from cgclip.model.cgclip import CGCLIP


def identity_texts(
    pids: Sequence[int],
    captions: Mapping[int, Sequence[str]] | None,
    source: str = "both",
    max_per_id: int = 0,
) -> list[list[str]]:
    """Texts for each identity in ``pids`` (in label order)."""
    out: list[list[str]] = []
    missing: list[int] = []
    captions = captions or {}
    for pid in pids:
        caps = [c.strip() for c in captions.get(pid, []) if c and c.strip()]
        if max_per_id > 0:
            caps = caps[:max_per_id]
        if source == "idtext":
            texts = [id_text(pid)]
        elif not caps:
            missing.append(pid)
            texts = [id_text(pid)]
        elif source == "both":
            texts = [with_id_text(c, pid) for c in caps]
        else:
            texts = caps
        out.append(texts)
    if missing and source != "idtext":
        warnings.warn(
            f"{len(missing)} of {len(pids)} training identities have no caption (e.g. pid "
            f"{missing[0]}); their text memory uses the ID text only",
            stacklevel=2,
        )
    return out


@torch.no_grad()
def build_text_memory(
    model: CGCLIP, texts: Sequence[Sequence[str]], batch_size: int = 256, progress: bool = True
) -> torch.Tensor:
    """texts[k] -> memory (K, E): normalize(mean_k normalize(text_feature)) per identity."""
    flat = [(k, t) for k, group in enumerate(texts) for t in group]
    sums = torch.zeros(len(texts), model.config.embed_dim, device=model.device)
    for i in tqdm(range(0, len(flat), batch_size), desc="text memory", disable=not progress):
        chunk = flat[i : i + batch_size]
        feats = model.encode_text([t for _, t in chunk]).float()
        index = torch.tensor([k for k, _ in chunk], device=model.device)
        sums.index_add_(0, index, feats)
    return F.normalize(sums, dim=-1)
