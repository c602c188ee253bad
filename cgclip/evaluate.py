"""Evaluate a CG-CLIP checkpoint on a re-identification dataset: CMC (Rank-1/5/10/20) and mAP.

    python -m cgclip.evaluate --checkpoint best.safetensors --dataset mars --root data/MARS
    python -m cgclip.evaluate --checkpoint 'runs/ilids-{split}/best.safetensors' \
        --dataset ilidsvid --root data/iLIDS-VID            # mean over the 10 splits

Each tracklet is sampled as at training time but deterministically (RRS, first frame of each of
``clip_len`` chunks), embedded with ``model.encode_tracklet`` (L2-normalised), and ranked by
Euclidean distance. Exclusions follow the dataset's ``ReidDataset.ignore_mask()`` (MARS: same
identity + same camera and junk removed, distractors kept; LS-VID and MOT-derived sets: whatever
their reader defines). iLIDS-VID trains one model per split, so its checkpoint path takes a
``{split}`` placeholder and the reported result is the mean over the splits.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm import tqdm

from cgclip.data import load_dataset
from cgclip.data.sampling import rrs_indices
from cgclip.errors import ArgumentParser, UserError, cli
from cgclip.io.atomic import atomic_write_json
from cgclip.io.config import number_arg
from cgclip.logs import show_logs
from cgclip.metrics import RankMetrics, distance_matrix, evaluate_rank, mean_metrics
from cgclip.model.preprocess import Preprocess, load_clip
from cgclip.runtime.load import resolve_device

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from cgclip.data import ReidDataset, Tracklet
    from cgclip.model import CGCLIP

ILIDS_SPLITS = 10


class EvalClips(torch.utils.data.Dataset):
    """Deterministic RRS clips of tracklets: item -> ((T, 3, H, W) float, camid)."""

    def __init__(self, tracklets: Sequence[Tracklet], preprocess: Preprocess) -> None:
        self.tracklets = list(tracklets)
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.tracklets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        t = self.tracklets[i]
        idx = rrs_indices(len(t.frames), self.preprocess.clip_len, train=False)
        return self.preprocess.to_tensor(load_clip(t.frames, idx, self.preprocess)), t.camid


@torch.no_grad()
def extract_features(
    model: CGCLIP,
    tracklets: Sequence[Tracklet],
    batch_size: int = 16,
    num_workers: int = 0,
    use_camids: bool = False,
    amp_dtype: torch.dtype | None = None,
    desc: str = "embed",
    progress: bool = True,
) -> torch.Tensor:
    """Embed tracklets -> (N, E) L2-normalised features on the CPU."""
    was_training = model.training
    model.eval()
    loader = torch.utils.data.DataLoader(
        EvalClips(tracklets, model.preprocess),
        batch_size=batch_size,
        num_workers=num_workers,
        shuffle=False,
    )
    device = model.device
    autocast = (
        torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext()
    )
    feats = []
    with autocast:
        for clips, camids in tqdm(loader, desc=desc, disable=not progress, leave=False):
            cams = camids.to(device) if use_camids else None
            feats.append(model.encode_tracklet(clips.to(device), camids=cams).float().cpu())
    model.train(was_training)
    if not feats:
        return torch.empty(0, model.embedding_dim)
    return torch.cat(feats)


def evaluate_model(
    model: CGCLIP,
    query: Sequence[Tracklet],
    gallery: Sequence[Tracklet],
    ignore: np.ndarray | None = None,
    batch_size: int = 16,
    num_workers: int = 0,
    amp_dtype: torch.dtype | None = None,
    progress: bool = True,
) -> RankMetrics:
    """Embed query and gallery (each distinct tracklet once) and score them.

    ``ignore`` is the (Q, G) exclusion mask; None means same identity + same camera, and junk.
    """
    unique: dict[Tracklet, int] = {}
    for t in [*query, *gallery]:
        unique.setdefault(t, len(unique))
    use_camids = model.config.num_cameras > 0
    feats = extract_features(
        model, list(unique), batch_size, num_workers, use_camids, amp_dtype, progress=progress
    )
    qf = feats[[unique[t] for t in query]]
    gf = feats[[unique[t] for t in gallery]]
    distmat = distance_matrix(qf, gf)
    return evaluate_rank(
        distmat,
        [t.pid for t in query],
        [t.pid for t in gallery],
        [t.camid for t in query],
        [t.camid for t in gallery],
        ignore=ignore,
    )


def evaluate_dataset(model: CGCLIP, dataset: ReidDataset, **kwargs: Any) -> RankMetrics:
    """Score ``dataset``'s query against its gallery under its own protocol (``ignore_mask``)."""
    if not dataset.query or not dataset.gallery:
        raise UserError(f"dataset {dataset.name} has an empty query or gallery set")
    return evaluate_model(model, dataset.query, dataset.gallery, dataset.ignore_mask(), **kwargs)


def parse_splits(text: str) -> list[int]:
    """ "3" -> [3]; "0-9" -> [0..9]; "0,2,5" -> [0, 2, 5]."""
    out: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise UserError(f"--splits {text!r}: use N, A-B or a comma list")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        out.extend(range(lo, hi + 1))
    return out


def parse_options(items: Sequence[str]) -> dict[str, Any]:
    import yaml

    opts: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--option {item!r}: expected key=value")
        opts[key] = yaml.safe_load(value)
    return opts


def run_evaluation(
    checkpoint: str,
    dataset: str,
    root: str,
    splits: list[int] | None = None,
    options: dict[str, Any] | None = None,
    device: str = "cpu",
    batch_size: int = 16,
    num_workers: int = 0,
    embedding: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Evaluate and return {"splits": {...}, "mean": {...}} (mean = the single result if one).

    ``embedding`` (e.g. ``["f", "v", "s"]``) scores another test feature than the checkpoint's
    (the pre-BN parts concatenated, then L2-normalised); the weights are the same.
    """
    from dataclasses import replace

    from cgclip.model import load_model

    options = dict(options or {})
    if dataset == "ilidsvid" and splits is None:
        if "{split}" not in checkpoint:
            raise UserError(
                "iLIDS-VID is evaluated over 10 splits with one model per split: pass --checkpoint "
                "with a {split} placeholder (e.g. 'runs/ilidsvid-{split}/best.safetensors') or "
                "choose --splits N"
            )
        splits = list(range(ILIDS_SPLITS))
    results: dict[str, RankMetrics] = {}
    for split in splits if splits is not None else [None]:
        ckpt = checkpoint.format(split=split) if split is not None else checkpoint
        opts = {**options, "split": split} if split is not None else options
        model = load_model(ckpt, device=device)
        if embedding is not None:
            model.config = replace(model.config, embedding=tuple(embedding))
        data = load_dataset(dataset, root, **opts)
        label = "all" if split is None else str(split)
        results[label] = evaluate_dataset(
            model, data, batch_size=batch_size, num_workers=num_workers
        )
        log.info("%s split %s: %s", dataset, label, results[label])
    mean = mean_metrics(list(results.values()))
    if len(results) > 1:
        log.info("%s mean over %d splits: %s", dataset, len(results), mean)
    return {
        "checkpoint": checkpoint,
        "dataset": dataset,
        "embedding": list(model.config.embedding_parts),
        "splits": {k: v.to_dict() for k, v in results.items()},
        "mean": mean.to_dict(),
    }


@cli
def main(argv: Sequence[str] | None = None) -> int:
    p = ArgumentParser(prog="python -m cgclip.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="model .safetensors (may contain {split})")
    p.add_argument("--dataset", required=True, help="mars, ilidsvid, lsvid, sportsvreid, ...")
    p.add_argument("--root", required=True, help="dataset root folder")
    p.add_argument("--splits", help="iLIDS-VID splits: N, A-B or a comma list (default 0-9)")
    p.add_argument("--option", action="append", default=[], help="reader option key=value")
    p.add_argument(
        "--device", default="auto", help="auto (CUDA when present, else cpu), cpu, cuda or cuda:N"
    )
    p.add_argument("--batch-size", type=number_arg("[1, inf)", int), default=16)
    p.add_argument("--num-workers", type=number_arg("[0, inf)", int), default=2)
    p.add_argument(
        "--embedding",
        help="test feature to score instead of the checkpoint's: comma list of pre-BN parts "
        "from f (mean CLS), v (its CLIP projection), s (TFE), e.g. f,v,s",
    )
    p.add_argument("--output", help="write the metrics as JSON here")
    args = p.parse_args(argv)
    show_logs(logging.INFO)  # run_evaluation logs each split's metrics as it is scored
    device = str(resolve_device(args.device))
    log.info("device: %s%s", device, " (auto)" if args.device == "auto" else "")
    result = run_evaluation(
        args.checkpoint,
        args.dataset,
        args.root,
        splits=parse_splits(args.splits) if args.splits else None,
        options=parse_options(args.option),
        device=device,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        embedding=[e.strip() for e in args.embedding.split(",")] if args.embedding else None,
    )
    if args.output:
        atomic_write_json(args.output, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
