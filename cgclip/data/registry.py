"""One entry point for every dataset: ``load_dataset(name, root, **options) -> ReidDataset``.

Names (timm/open_clip style registry): ``mars``, ``ilidsvid`` (``split=0..9``,
``train_half``), ``lsvid``, ``sportsvreid``, ``dancevreid`` and ``synthetic``; the last three read
the folder written by :mod:`cgclip.data.build_vreid` (options ``protocol``, ``min_gap``,
``train_split``, ``eval_split``). ``synthetic`` also accepts the root of a generated synthetic MOT
set (``python -m cgclip.data.synthetic generate``) and builds ``ROOT/vreid`` from it on first use.
``crops`` reads the person crops ``python -m tracker.run VIDEO --save-crops ROOT --crops all``
writes (:mod:`cgclip.data.crops`; options ``max_len``, ``min_len``, ``max_gap``): tracking the
user's own footage gives a training set.

Every dataset accepts ``captions=PATH`` (a caption JSON for the CMR text memory); without it,
``ROOT/captions.json`` is used when present (the builder writes one from an attribute CSV).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cgclip.data import crops, ilidsvid, lsvid, mars, vreid
from cgclip.data.tracklets import ReidDataset
from cgclip.errors import UserError
from cgclip.io.mot import find_sequences

SPORTSMOT_SOURCE = (
    "get SportsMOT from https://github.com/MCG-NJU/SportsMOT, then build the set with "
    "`python -m cgclip.data.build_vreid --mot-root <sportsmot>/dataset --split train,val "
    "--out ROOT --name sportsvreid`"
)
DANCETRACK_SOURCE = (
    "get DanceTrack from https://github.com/DanceTrack/DanceTrack, then build the set with "
    "`python -m cgclip.data.build_vreid --mot-root <dancetrack> --split train,val --out ROOT "
    "--name dancevreid`"
)
SYNTHETIC_SOURCE = (
    "generate it with `python -m cgclip.data.synthetic generate --out ROOT` (the VReID folder is "
    "then built under ROOT/vreid on first use)"
)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    reader: Callable[..., ReidDataset]
    source: str  # where to get the data and how to lay it out; shown when the root is missing


def _vreid_reader(
    name: str, source: str, build_from_mot: Callable[[Path], Path] | None = None
) -> Callable[..., ReidDataset]:
    """The reader of a folder written by :mod:`cgclip.data.build_vreid`. Given a MOT dataset
    root instead, it builds the folder with ``build_from_mot`` (the synthetic set) or, without
    one, says how to build it."""

    def read(
        root: Path,
        protocol: str = "auto",
        min_gap: int | None = None,
        train_split: str = "train",
        eval_split: str = "val",
    ) -> ReidDataset:
        if not (root / vreid.INDEX_NAME).is_file() and _looks_like_mot_root(root):
            if build_from_mot is None:
                raise UserError(
                    f"{root}: this is a MOT dataset root, not a built {name} folder; {source}"
                )
            root = build_from_mot(root)
        return vreid.read_vreid(
            root,
            name=name,
            protocol=protocol,
            min_gap=min_gap,
            train_split=train_split,
            eval_split=eval_split,
        )

    return read


def _build_synthetic(root: Path) -> Path:
    from cgclip.data.build_vreid import build_synthetic

    return build_synthetic(root)


def _looks_like_mot_root(root: Path) -> bool:
    return any(find_sequences(root / split) for split in ("train", "val", "test"))


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("mars", mars.read_mars, mars.SOURCE),
        DatasetSpec("ilidsvid", ilidsvid.read_ilidsvid, ilidsvid.SOURCE),
        DatasetSpec("lsvid", lsvid.read_lsvid, lsvid.SOURCE),
        DatasetSpec(
            "sportsvreid", _vreid_reader("sportsvreid", SPORTSMOT_SOURCE), SPORTSMOT_SOURCE
        ),
        DatasetSpec(
            "dancevreid", _vreid_reader("dancevreid", DANCETRACK_SOURCE), DANCETRACK_SOURCE
        ),
        DatasetSpec(
            "synthetic",
            _vreid_reader("synthetic", SYNTHETIC_SOURCE, _build_synthetic),
            SYNTHETIC_SOURCE,
        ),
        DatasetSpec("crops", crops.read_crops, crops.SOURCE),
    )
}


def list_datasets() -> list[str]:
    return sorted(DATASETS)


def load_dataset(name: str, root: str | Path, **options: Any) -> ReidDataset:
    """Read dataset ``name`` from ``root`` (its official layout). See the module doc for options."""
    key = str(name).lower().replace("-", "").replace("_", "")
    spec = DATASETS.get(key)
    if spec is None:
        raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(list_datasets())}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"{root}: {spec.name} dataset root not found; {spec.source}")
    captions = options.pop("captions", None)
    accepted = [p for p in inspect.signature(spec.reader).parameters if p != "root"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        valid = ", ".join(accepted + ["captions"])
        raise UserError(f"unknown option(s) {unknown} for dataset {spec.name}; valid: {valid}")
    dataset = spec.reader(root, **options)
    if captions is not None:
        path = Path(captions).expanduser()
        if not path.is_file():
            raise UserError(
                f"{path}: caption file not found; write one with `python -m cgclip.captions`"
            )
        dataset.captions_path = path.resolve()
    elif dataset.captions_path is None and (root / vreid.CAPTIONS_NAME).is_file():
        dataset.captions_path = (root / vreid.CAPTIONS_NAME).resolve()
    return dataset
