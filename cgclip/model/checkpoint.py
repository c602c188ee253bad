"""CG-CLIP checkpoints: ``name.safetensors`` (weights) + ``name.json`` (config sidecar).

The sidecar holds everything needed to rebuild the model and feed it: the architecture config, the
preprocessing (crop size, mean/std, clip length) and free-form metadata (epoch, metrics, ...). Both
files are written atomically. Loading never unpickles anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cgclip.errors import UserError
from cgclip.io.atomic import atomic_path, atomic_write_json
from cgclip.io.config import read_json
from cgclip.model.cgclip import CGCLIP
from cgclip.model.config import ModelConfig

FORMAT = "cgclip"
FORMAT_VERSION = 1


def sidecar_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def save_checkpoint(model: CGCLIP, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``path`` (.safetensors) and its ``.json`` sidecar atomically; returns ``path``."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise UserError(f"checkpoint path must end in .safetensors, got {path}")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format": FORMAT, "version": str(FORMAT_VERSION)})
    atomic_write_json(sidecar_path(path), checkpoint_sidecar(model, meta))
    return path


def checkpoint_sidecar(model: CGCLIP, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    config = model.config.to_dict()
    # The test feature is written out, so a later change of the default cannot change what an
    # existing checkpoint embeds.
    config["embedding"] = list(model.config.embedding_parts)
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": model.name,
        "pretrained": model.pretrained,
        "config": config,
        "preprocess": model.preprocess.to_dict(),
        "meta": meta or {},
    }


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """The validated sidecar of checkpoint ``path``; UserError if it is not a cgclip checkpoint.

    This is the one format check: an existing ``.safetensors`` file must also say
    ``"format": "cgclip"`` in its header (CLIP weights or any other safetensors file do not).
    """
    path = Path(path)
    if path.suffix == ".safetensors" and path.is_file() and not _has_cgclip_header(path):
        raise UserError(
            f"{path} is not a cgclip checkpoint (its safetensors header has no "
            f'"format": "{FORMAT}"); open_clip CLIP weights load as clip:PATH, and '
            "python -m cgclip.train writes cgclip checkpoints"
        )
    side = sidecar_path(path)
    if not side.is_file():
        raise UserError(
            f"{path} has no config sidecar {side.name} next to it; a cgclip checkpoint is a "
            ".safetensors file plus its .json sidecar (both written by cgclip.train)"
        )
    data = read_json(
        side,
        FORMAT,
        FORMAT_VERSION,
        what="cgclip checkpoint sidecar",
        hint="re-export the checkpoint, or upgrade cgclip if it was written by a newer one",
    )
    if not isinstance(data.get("config"), dict):
        raise UserError(f"{side} has no model config")
    return data


def _has_cgclip_header(path: Path) -> bool:
    """True when the safetensors metadata says ``format: cgclip``; reads the header only (8
    bytes of length, then that much JSON), never the weights. A header cut short is a
    corrupt or truncated file (UserError), not a foreign one."""
    import json
    import struct

    with path.open("rb") as fh:
        head = fh.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        if not 0 < n <= 100_000_000:
            return False
        raw = fh.read(n)
    if len(raw) < n:
        raise UserError(f"cannot read weights {path}; the file is corrupt or truncated")
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def load_model(path: str | Path, device: str | torch.device = "cpu") -> CGCLIP:
    """Rebuild a CG-CLIP model from ``path`` (.safetensors, or its .json sidecar), in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix == ".json":
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    if path.suffix != ".safetensors":
        raise UserError(
            f"{path} is not a cgclip checkpoint: expected a .safetensors file with a .json sidecar"
        )
    side = read_sidecar(path)
    config = ModelConfig.from_dict(side["config"])
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise UserError(
            f"cannot read weights {path} ({err}); the file is corrupt or truncated"
        ) from None
    model = CGCLIP(config, name=side.get("name", "custom"))
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        first = str(err).strip().splitlines()[-1].strip()
        raise UserError(f"weights in {path} do not match its sidecar config ({first})") from None
    if missing or unexpected:
        raise UserError(
            f"weights in {path} do not match its sidecar config (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}); the two files come from different models"
        )
    model.pretrained = side.get("pretrained")
    model.checkpoint_meta = side.get("meta", {})
    return model.to(device).eval()
