"""Resolve and load pretrained CLIP weights through open_clip (lazily, into the user cache).

``pretrained`` is either an open_clip tag for the variant's architecture (``"openai"`` for
ViT-B-16: open_clip downloads it from the Hugging Face Hub into the HF cache, or ``cache_dir``), or
a local file (``.safetensors``, or ``.bin``/``.pt``/``.pth`` read with ``weights_only=True``; never
unpickled). Nothing downloads at import time. When the download fails (offline), the error names
the file and how to provide it; when the download host cannot be reached at all (or
``HF_HUB_OFFLINE`` is set) and the file is not cached, it fails within seconds
(:func:`cgclip.io.net.reachable`) instead of letting the hub client retry for minutes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from torch import nn

from cgclip.errors import UserError
from cgclip.io.net import hf_offline, reachable
from cgclip.model.config import OPEN_CLIP_ARCH


def pretrained_tag_config(name: str, pretrained: str) -> dict[str, Any] | None:
    """open_clip's config for tag ``pretrained`` of variant ``name``; None if it is not a tag."""
    arch = OPEN_CLIP_ARCH.get(name)
    if arch is None or os.path.isfile(pretrained):
        return None
    from open_clip.pretrained import get_pretrained_cfg

    return get_pretrained_cfg(arch, pretrained) or None


DEFAULT_HOW_TO_PROVIDE = (
    "Download {source} on a machine with internet and pass pretrained='/path/to/{file}', "
    "or place it in the Hugging Face cache (HF_HOME) and set HF_HUB_OFFLINE=1"
)


def resolve_pretrained(
    name: str,
    pretrained: str,
    cache_dir: str | None = None,
    *,
    how_to_provide: str = DEFAULT_HOW_TO_PROVIDE,
) -> Path:
    """A local path to the weights for ``pretrained`` (a tag or a file), downloading if needed.

    This is the only place that downloads weights. When the download fails, the error names the
    file, then says ``how_to_provide`` it (``{file}``: the weights file name; ``{source}``: it
    and where it comes from), so each caller can name its own option (``--reid clip:PATH``,
    ``--clip-weights``) and leave out what its reader cannot use (a URL, for a web visitor).
    """
    if os.path.isfile(pretrained):
        return Path(pretrained)
    tag_cfg = pretrained_tag_config(name, pretrained)
    if tag_cfg is None:
        arch = OPEN_CLIP_ARCH.get(name)
        if arch is None:
            raise UserError(
                f"model {name!r} has no downloadable pretrained weights; pass pretrained=None "
                f"(random init) or a path to an open_clip state dict (pretrained={pretrained!r} "
                "is not a file)"
            )
        from open_clip import list_pretrained_tags_by_model

        raise UserError(
            f"pretrained={pretrained!r} is neither a file nor a known tag for {name}; "
            f"tags: {list_pretrained_tags_by_model(arch)}"
        )
    from open_clip.pretrained import download_pretrained

    cached = _cached_weights(tag_cfg, cache_dir)
    if cached is not None:
        return cached
    host = _download_host(tag_cfg)
    if host is not None and (hf_offline() or not reachable(host)):
        fname, where = _weights_source(tag_cfg)
        why = "HF_HUB_OFFLINE is set" if hf_offline() else f"this machine cannot reach {host}"
        raise UserError(
            f"{why}, so the CLIP weights {name}/{pretrained} ({fname}) cannot be downloaded: "
            + how_to_provide.format(file=fname, source=where)
        )
    try:
        path = download_pretrained(tag_cfg, cache_dir=cache_dir)
    except Exception as err:  # network errors come in many types; all mean "not available"
        raise UserError(_download_hint(name, pretrained, tag_cfg, err, how_to_provide)) from None
    if not path:
        reason = "no download source"
        raise UserError(_download_hint(name, pretrained, tag_cfg, reason, how_to_provide))
    return Path(path)


def _download_host(cfg: dict[str, Any]) -> str | None:
    """Where open_clip would download ``cfg`` from (the Hub prefers ``hf_hub`` over ``url``)."""
    if cfg.get("hf_hub"):
        endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
        return urlsplit(endpoint).hostname
    return urlsplit(cfg["url"]).hostname if cfg.get("url") else None


def _cached_weights(cfg: dict[str, Any], cache_dir: str | None) -> Path | None:
    """The weights for ``cfg`` already in the Hugging Face cache (no network), else None."""
    if not cfg.get("hf_hub"):
        return None
    from huggingface_hub import try_to_load_from_cache

    repo = os.path.split(cfg["hf_hub"])[0]
    fname = _weights_source(cfg)[0]
    names = [fname]
    try:  # open_clip prefers a .safetensors twin of the file when the hub has one
        from open_clip.pretrained import _get_safe_alternatives

        names = list(_get_safe_alternatives(fname)) + names
    except ImportError:
        pass
    for candidate in names:
        hit = try_to_load_from_cache(repo, candidate, cache_dir=cache_dir)
        if isinstance(hit, str) and os.path.isfile(hit):
            return Path(hit)
    return None


def _weights_source(cfg: dict[str, Any]) -> tuple[str, str]:
    """The weights file's name and where it comes from (a Hub repository or a URL)."""
    if cfg.get("hf_hub"):
        repo, fname = os.path.split(cfg["hf_hub"])  # open_clip's "org/model/[file]" convention
        fname = fname or "open_clip_pytorch_model.bin"
        return fname, f"{fname} from https://huggingface.co/{repo}"
    return Path(cfg.get("url", "weights.pt")).name, cfg.get("url", "?")


def _download_hint(name: str, tag: str, cfg: dict[str, Any], err: object, todo: str) -> str:
    fname, where = _weights_source(cfg)
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    todo = todo.format(file=fname, source="that file")  # the message names the source already
    return f"could not download CLIP weights {name}/{tag} ({where}): {reason}. {todo}"


def load_pretrained_into(clip: nn.Module, path: Path) -> None:
    """Load an open_clip state dict into ``clip`` (strict), resizing the positional grid.

    open_clip's loader converts legacy layouts and interpolates the (square) pretrained
    positional table to this model's grid, e.g. 14x14 -> 16x8 for 256x128 crops.
    """
    import open_clip

    try:
        open_clip.load_checkpoint(clip, str(path), strict=True, weights_only=True)
    except FileNotFoundError:
        raise UserError(f"pretrained weights not found: {path}") from None
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise UserError(
            f"weights in {path} do not fit this CLIP architecture ({first}); pass the state dict "
            "of the matching open_clip model"
        ) from None
    except Exception as err:  # unpickling refused, corrupt zip, wrong format
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"cannot read pretrained weights {path} as a plain state dict ({first}); use an "
            "open_clip .safetensors/.bin state dict (TorchScript and pickled objects are refused)"
        ) from None
