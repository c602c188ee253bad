"""Resumable training state in one atomic, pickle-free file: ``<output_dir>/last.train.safetensors``.

It holds the model weights (``model/<name>``), the optimizer's per-parameter tensors
(``optim/<param index>/<name>``: Adam's moments and step) and, as JSON in the safetensors metadata,
the optimizer's param-group settings and the run's bookkeeping (epoch, best score, history,
config). One file written with an atomic rename means a kill at any moment leaves either the
previous epoch's state or the new one, never a mix of the two.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cgclip.errors import UserError
from cgclip.io.atomic import atomic_path

FORMAT = "cgclip-train-state"


def save_train_state(
    path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, info: dict[str, Any]
) -> Path:
    from safetensors.torch import save_file

    sd = optimizer.state_dict()
    tensors = {f"model/{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, pstate in sd["state"].items():
        for name, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim/{pid}/{name}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(pid), {})[name] = value
    state = {"param_groups": sd["param_groups"], "scalars": scalars, "info": info}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "state": json.dumps(state)})
    return Path(path)


def read_train_info(path: str | Path) -> dict[str, Any]:
    """The bookkeeping ``info`` of a training state, without loading any tensor."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        if meta.get("format") != FORMAT:
            raise ValueError("not a cgclip training state")
        return json.loads(meta["state"])["info"]
    except Exception as err:
        raise UserError(
            f"cannot resume from {path} ({err}); delete it or set run.resume=false"
        ) from None


def load_train_state(
    path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore ``model`` and ``optimizer`` in place from ``path``; return the saved ``info``."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise ValueError("not a cgclip training state")
            state = json.loads(meta["state"])
            flat = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
    except Exception as err:
        raise UserError(
            f"cannot resume from {path} ({err}); delete it or set run.resume=false"
        ) from None
    weights = {k[len("model/") :]: v for k, v in flat.items() if k.startswith("model/")}
    opt_state: dict[int, dict[str, Any]] = {}
    for key, value in flat.items():
        if key.startswith("optim/"):
            _, pid, name = key.split("/", 2)
            opt_state.setdefault(int(pid), {})[name] = value
    for pid, values in state["scalars"].items():
        opt_state.setdefault(int(pid), {}).update(values)
    groups = state["param_groups"]
    for group in groups:  # JSON turned tuples (Adam's betas) into lists
        for key, value in group.items():
            if isinstance(value, list) and key != "params":
                group[key] = tuple(value)
    try:
        model.load_state_dict(weights)
        optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
    except (RuntimeError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0]
        raise UserError(f"training state {path} does not fit this model ({first})") from None
    return state["info"]
