"""The caption file: JSON mapping identity (the dataset's pid, as a string) to a list of captions.

::

    {"1": ["A female basketball player is wearing a yellow uniform with the number 5.", ...],
     "2": [...]}

Captions are stored without the ID text (see :mod:`cgclip.captions.idtext`). Loading validates
the shape and reports the first problem with the file name and the identity.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cgclip.errors import UserError
from cgclip.io.atomic import atomic_write_json
from cgclip.io.config import read_json


def validate_captions(obj: Any, source: str = "captions") -> dict[int, list[str]]:
    """Check a decoded caption JSON and return it as ``{pid: [caption, ...]}``."""
    if not isinstance(obj, dict):
        raise UserError(
            f"{source}: expected a JSON object mapping identity to a list of captions, "
            f"got {type(obj).__name__}"
        )
    if not obj:
        raise UserError(f"{source}: holds no identities")
    out: dict[int, list[str]] = {}
    for key, caps in obj.items():
        try:
            pid = int(key)
        except (TypeError, ValueError):
            raise UserError(f"{source}: key {key!r} is not an integer identity") from None
        if str(pid) != str(key).strip():
            raise UserError(f"{source}: key {key!r} is not a plain integer identity")
        if not isinstance(caps, list) or not caps:
            raise UserError(f"{source}: identity {key} needs a non-empty list of captions")
        clean = []
        for i, cap in enumerate(caps):
            if not isinstance(cap, str) or not cap.strip():
                raise UserError(f"{source}: identity {key}, caption {i} is not a non-empty string")
            clean.append(" ".join(cap.split()))
        if pid in out:
            raise UserError(f"{source}: identity {pid} appears twice")
        out[pid] = clean
    return out


def load_captions(path: str | os.PathLike[str]) -> dict[int, list[str]]:
    """Read and validate a caption JSON: ``{pid: [caption, ...]}`` (captions without ID text)."""
    p = Path(path)
    obj = read_json(p, what="caption file", hint="write one with `python -m cgclip.captions`")
    return validate_captions(obj, str(p))


def save_captions(path: str | os.PathLike[str], captions: Mapping[int, list[str]]) -> Path:
    """Validate and write atomically, identities in numeric order."""
    data = {str(pid): list(caps) for pid, caps in sorted(captions.items())}
    validate_captions(data, str(path))
    return atomic_write_json(path, data)


def missing_identities(captions: Mapping[int, list[str]], pids: Any) -> list[int]:
    """Identities of ``pids`` that have no caption (sorted)."""
    return sorted({int(p) for p in pids} - set(captions))
