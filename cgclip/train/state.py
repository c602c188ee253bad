"""Resumable training state without pickle: optimizer tensors in safetensors, the rest in JSON.

``<stem>.train.safetensors`` holds the optimizer's per-parameter tensors (Adam's moments and step)
and ``<stem>.train.json`` its param-group settings plus the run's bookkeeping (epoch, best score,
metric history, config). Both are written atomically; the model itself is a normal checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from cgclip.errors import UserError
from cgclip.io.atomic import atomic_path, atomic_write_json


def _paths(stem: Path) -> tuple[Path, Path]:
    return stem.with_name(stem.name + ".train.safetensors"), stem.with_name(
        stem.name + ".train.json"
    )


def save_train_state(
    stem: str | Path, optimizer: torch.optim.Optimizer, info: dict[str, Any]
) -> None:
    from safetensors.torch import save_file

    tensors_path, json_path = _paths(Path(stem))
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, pstate in sd["state"].items():
        for name, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{pid}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(pid), {})[name] = value
    with atomic_path(tensors_path) as tmp:
        save_file(tensors, str(tmp))
    atomic_write_json(
        json_path,
        {"param_groups": sd["param_groups"], "scalars": scalars, "info": info},
    )


def load_train_state(stem: str | Path, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore ``optimizer`` in place and return the saved ``info``."""
    from safetensors.torch import load_file

    tensors_path, json_path = _paths(Path(stem))
    if not tensors_path.is_file() or not json_path.is_file():
        raise UserError(
            f"training state {tensors_path.name}/{json_path.name} missing next to {stem}; "
            "cannot resume (set run.resume=false to start over in another output_dir)"
        )
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
        flat = load_file(str(tensors_path))
    except Exception as err:
        raise UserError(f"cannot read training state {json_path} ({err}); it is corrupt") from None
    state: dict[int, dict[str, Any]] = {}
    for key, value in flat.items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    for pid, values in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(values)
    groups = meta["param_groups"]
    for group in groups:  # JSON turned tuples (Adam's betas) into lists
        for key, value in group.items():
            if isinstance(value, list) and key != "params":
                group[key] = tuple(value)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as err:
        raise UserError(f"training state in {json_path} does not fit this model ({err})") from None
    return meta["info"]
