"""Captions for CG-CLIP's text memory: attributes -> captions, ID text, MLLM captioner, JSON file.

``load_captions(path) -> {pid: [caption, ...]}`` (no ID text) is what the trainer reads;
``with_id_text(caption, pid)`` / ``id_text(pid)`` / ``memory_texts(captions, pids)`` append the
"The person's ID is <id>." suffix of Table S.5. The MLLM captioner lives in
:mod:`cgclip.captions.mllm` (imports ``transformers`` only when used).
"""

from cgclip.captions.attributes import captions_from_attributes, read_attributes
from cgclip.captions.idtext import id_text, memory_texts, with_id_text
from cgclip.captions.store import (
    load_captions,
    missing_identities,
    save_captions,
    validate_captions,
)

__all__ = [
    "captions_from_attributes",
    "id_text",
    "load_captions",
    "memory_texts",
    "missing_identities",
    "read_attributes",
    "save_captions",
    "validate_captions",
    "with_id_text",
]
