"""The "ID text" augmentation (supplement B.2, Table S.5): append "The person's ID is <id>."

Captions written by an MLLM can describe different people identically; appending the identity
makes every text-memory target unique. Table S.5 shows caption + ID text is the best input. Caption
files store captions *without* it; the trainer appends it when it builds the CMR text memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

ID_TEXT = "The person's ID is {pid}."


def id_text(pid: int) -> str:
    """``id_text(7) == "The person's ID is 7."``"""
    return ID_TEXT.format(pid=int(pid))


def with_id_text(caption: str, pid: int) -> str:
    """The caption followed by its ID text; a caption without final punctuation gets a period."""
    caption = " ".join(caption.split())
    if not caption:
        return id_text(pid)
    if caption[-1] not in ".!?":
        caption += "."
    return f"{caption} {id_text(pid)}"


def memory_texts(
    captions: Mapping[int, list[str]] | None, pids: Iterable[int], use_id_text: bool = True
) -> dict[int, list[str]]:
    """The texts whose mean CLIP feature is each identity's text-memory vector.

    pids without captions get only their ID text (Table S.5's "ID text only" input) when
    ``use_id_text``; otherwise they are left out and the caller decides what to do.
    """
    captions = captions or {}
    out: dict[int, list[str]] = {}
    for pid in pids:
        caps = captions.get(int(pid), [])
        if use_id_text:
            out[int(pid)] = [with_id_text(c, pid) for c in caps] or [id_text(pid)]
        elif caps:
            out[int(pid)] = list(caps)
    return out
