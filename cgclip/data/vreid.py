"""Video ReID sets cut from MOT sequences (SportsVReID, DanceVReID, synthetic): the reader.

:mod:`cgclip.data.build_vreid` writes a folder::

    OUT/index.json                           every tracklet: split, seq, track, pid, camid, frames
    OUT/<split>/<seq>/<track:05d>/<frame:06d>.jpg   one crop per (track, frame)
    OUT/<split>/<seq>/tracklets.json         per-sequence result, the resume marker
    OUT/captions.json                        when the build was given an attribute CSV

and :func:`read_vreid` turns it into a :class:`ReidDataset`: ``train`` from the train split, query
and gallery from the evaluation split (``val``; the MOT test splits have no ground truth).

Evaluation protocol for these single-camera sets (also in docs/datasets.md):

- every sequence is a camera (``camid`` = sequence index), so the usual "same identity, same
  camera" exclusion removes the query's own track and all its adjacent pieces: two tracklets cut
  from the same track are never a match;
- ``protocol="cross-video"``: queries are, for each identity present in two or more evaluation
  sequences (identities linked with an id-map CSV) and each such sequence, the middle tracklet
  (by start frame) of that identity in that sequence; the gallery is every evaluation tracklet,
  and only other sequences can hold true matches;
- ``protocol="temporal"`` (when no identity spans two videos, e.g. no id map): a same-sequence
  tracklet of the same identity counts as a match only when at least ``min_gap`` frames separate
  it from the query (default ``2 * max_len`` of the build, 100 frames); closer ones are ignored,
  neither match nor non-match. The query of each (identity, sequence) is its earliest tracklet
  that has a valid match;
- ``protocol="auto"`` (default) picks cross-video when any evaluation identity spans two
  sequences, else temporal. Query choice uses no random numbers.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cgclip.data.tracklets import ReidDataset, Tracklet
from cgclip.errors import UserError
from cgclip.io.config import read_json

INDEX_NAME = "index.json"
INDEX_FORMAT = "cgclip-vreid"
INDEX_VERSION = 1
CAPTIONS_NAME = "captions.json"
PROTOCOLS = ("auto", "cross-video", "temporal")


def crop_dir(root: Path, split: str, seq: str, track: int) -> Path:
    return root / split / seq / f"{track:05d}"


def crop_name(frame: int) -> str:
    return f"{frame:06d}.jpg"


@dataclass(frozen=True)
class _Item:
    tracklet: Tracklet
    end: int  # last frame number (the tracklet's first is tracklet.start)


def read_index(root: Path) -> dict[str, Any]:
    path = root / INDEX_NAME
    hint = (
        "build it with `python -m cgclip.data.build_vreid --mot-root <MOT root> "
        f"--split train,val --out {root}`"
    )
    index = read_json(path, INDEX_FORMAT, INDEX_VERSION, what="VReID index", hint=hint)
    if not isinstance(index.get("tracklets"), list):
        raise UserError(f"{path}: no 'tracklets' list; {hint}")
    return index


def read_vreid(
    root: Path,
    *,
    name: str = "vreid",
    train_split: str = "train",
    eval_split: str = "val",
    protocol: str = "auto",
    min_gap: int | None = None,
) -> ReidDataset:
    """Read a folder written by the VReID builder. ``protocol``/``min_gap``: see the module doc."""
    root = Path(root).resolve()
    if protocol not in PROTOCOLS:
        raise UserError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    index = read_index(root)
    items: dict[str, list[_Item]] = defaultdict(list)
    for i, rec in enumerate(index["tracklets"]):
        item = _item(root, rec, i)
        items[rec["split"]].append(item)
    train = [it.tracklet for it in items.get(train_split, [])]
    evals = items.get(eval_split, [])
    if not train and not evals:
        splits = sorted(items) or "none"
        raise UserError(
            f"{root / INDEX_NAME}: no tracklets in split {train_split!r} nor {eval_split!r} "
            f"(built: {splits}); rebuild with --split {train_split},{eval_split}"
        )
    if min_gap is None:
        min_gap = 2 * int(index.get("options", {}).get("max_len", 50))
    if min_gap < 0:
        raise UserError(f"min_gap must be >= 0 frames, got {min_gap}")
    query, gallery, ignore = evaluation_split(evals, protocol=protocol, min_gap=min_gap)
    captions = index.get("captions")
    captions_path = root / captions if captions and (root / captions).is_file() else None
    return ReidDataset(
        name=name,
        train=train,
        query=query,
        gallery=gallery,
        root=root,
        captions_path=captions_path,
        ignore=ignore,
    )


def _item(root: Path, rec: Any, i: int) -> _Item:
    try:
        split, seq, track = str(rec["split"]), str(rec["seq"]), int(rec["track"])
        frames = [int(f) for f in rec["frames"]]
        base = f"{crop_dir(root, split, seq, track)}{os.sep}"  # strings: pathlib is slow per frame
        tracklet = Tracklet(
            frames=tuple(base + crop_name(f) for f in frames),
            pid=int(rec["pid"]),
            camid=int(rec["camid"]),
            seq=seq,
            track=track,
            start=frames[0],
        )
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise UserError(
            f"{root / INDEX_NAME}: tracklet entry {i} is malformed ({type(err).__name__}: {err}); "
            "rebuild the set"
        ) from None
    return _Item(tracklet=tracklet, end=frames[-1])


def evaluation_split(
    items: list[_Item], *, protocol: str, min_gap: int
) -> tuple[list[Tracklet], list[Tracklet], np.ndarray | None]:
    """Query, gallery and the ignore mask (``None`` = the default same-id-same-camera rule)."""
    if not items:
        return [], [], None
    groups: dict[tuple[int, int], list[_Item]] = defaultdict(list)
    seqs_of_pid: dict[int, set[int]] = defaultdict(set)
    for it in items:
        groups[(it.tracklet.pid, it.tracklet.camid)].append(it)
        seqs_of_pid[it.tracklet.pid].add(it.tracklet.camid)
    for members in groups.values():
        members.sort(key=lambda it: it.tracklet.start)
    if protocol == "auto":
        spans = any(len(cams) > 1 for cams in seqs_of_pid.values())
        protocol = "cross-video" if spans else "temporal"
    gallery = [it.tracklet for it in items]

    if protocol == "cross-video":
        query = [
            members[len(members) // 2].tracklet
            for (pid, _cam), members in sorted(groups.items())
            if len(seqs_of_pid[pid]) > 1
        ]
        return query, gallery, None

    query_items: list[_Item] = []
    for (pid, _cam), members in sorted(groups.items()):
        other_videos = len(seqs_of_pid[pid]) > 1
        for cand in members:
            if other_videos or any(_gap(cand, m) >= min_gap for m in members):
                query_items.append(cand)
                break
    ignore = _temporal_ignore(query_items, items, min_gap)
    return [it.tracklet for it in query_items], gallery, ignore


def _gap(a: _Item, b: _Item) -> int:
    """Frames strictly between two tracklets of one sequence (-1 when they overlap)."""
    return max(b.tracklet.start - a.end, a.tracklet.start - b.end) - 1


def _temporal_ignore(queries: list[_Item], gallery: list[_Item], min_gap: int) -> np.ndarray:
    def cols(its: list[_Item]) -> tuple[np.ndarray, ...]:
        return (
            np.array([it.tracklet.pid for it in its])[:, None],
            np.array([it.tracklet.camid for it in its])[:, None],
            np.array([it.tracklet.start for it in its])[:, None],
            np.array([it.end for it in its])[:, None],
        )

    qp, qc, qs, qe = cols(queries)
    gp, gc, gs, ge = (c.T for c in cols(gallery))
    gap = np.maximum(gs - qe, qs - ge) - 1
    return (qp == gp) & (qc == gc) & (gap < min_gap) | (gp == -1)
