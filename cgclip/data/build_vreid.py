"""Build a video ReID set (SportsVReID, DanceVReID, synthetic) from MOTChallenge-layout sequences.

    python -m cgclip.data.build_vreid --mot-root <SportsMOT|DanceTrack root> --split train,val \
        --out <dir> [--id-map map.csv] [--attributes attributes.csv] [--name sportsvreid]

Supplement A.2: crop every (sequence, track) box per frame clipped to the image, drop boxes that
are too small or too occluded, cut tracks into tracklets of at most 50 frames, and relabel
identities across videos from an optional ``sequence,track_id,global_id`` CSV (without it every
(sequence, track) is its own identity). With ``--attributes`` (a CSV shaped like Table S.1) it
also writes ``captions.json``.

The build is incremental and resumable: each finished sequence leaves ``<split>/<seq>/
tracklets.json`` (written atomically, last) stamped with the options and a hash of its gt.txt;
a re-run skips every sequence whose stamp matches and redoes the rest, so an interrupted build
continues where it stopped. Identity relabelling, the index and the captions are cheap and are
redone on every run, so changing only the id map never re-crops anything.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from cgclip.data.mot_crops import VISIBILITY_SOURCES, CropOptions, build_sequence
from cgclip.data.vreid import CAPTIONS_NAME, INDEX_FORMAT, INDEX_NAME, INDEX_VERSION
from cgclip.errors import UserError, cli
from cgclip.io.atomic import atomic_write_json
from cgclip.io.mot import GT_TXT, find_sequences, split_folder

MARKER = "tracklets.json"


def split_sequences(mot_root: Path, split: str) -> list[Path]:
    """Sequence folders of one split. Accepts the SportsMOT release's extra ``dataset/`` level."""
    folder = split_folder(mot_root, split)
    if folder is None:
        raise UserError(
            f"{mot_root / split}: split folder not found; --mot-root must hold <split>/<sequence>/ "
            "folders (SportsMOT: its dataset/ folder, DanceTrack: its root)"
        )
    seqs = find_sequences(folder, ("gt", "img1", "seqinfo.ini"))
    if not seqs:
        raise UserError(f"{folder}: no sequence folders (each needs img1/ and gt/gt.txt)")
    return seqs


def read_id_map(path: Path) -> dict[tuple[str, int], int]:
    """``sequence,track_id,global_id`` rows (an optional ``split`` column is ignored) -> mapping."""
    if not path.is_file():
        raise UserError(f"{path}: id map not found; give a CSV with sequence,track_id,global_id")
    mapping: dict[tuple[str, int], int] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        need = {"sequence", "track_id", "global_id"}
        if reader.fieldnames is None or not need <= {f.strip() for f in reader.fieldnames}:
            raise UserError(
                f"{path}: header must name the columns sequence,track_id,global_id "
                f"(got {reader.fieldnames})"
            )
        for lineno, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            try:
                key = (row["sequence"], int(row["track_id"]))
                gid = int(row["global_id"])
            except ValueError:
                raise UserError(
                    f"{path}:{lineno}: track_id and global_id must be integers, got {row}"
                ) from None
            if not key[0]:
                raise UserError(f"{path}:{lineno}: empty sequence name")
            if gid < 1:
                raise UserError(f"{path}:{lineno}: global_id must be >= 1 (0 and -1 are reserved)")
            if mapping.get(key, gid) != gid:
                raise UserError(
                    f"{path}:{lineno}: {key[0]} track {key[1]} mapped to both {mapping[key]} and {gid}"
                )
            mapping[key] = gid
    return mapping


def _gt_hash(seq_dir: Path) -> str:
    gt = seq_dir / GT_TXT
    return hashlib.sha1(gt.read_bytes()).hexdigest() if gt.is_file() else ""


def _stamp(seq_dir: Path, opts: CropOptions) -> dict:
    return {"options": opts.as_dict(), "gt_sha1": _gt_hash(seq_dir), "version": INDEX_VERSION}


def _finished(marker: Path, stamp: dict) -> dict | None:
    if not marker.is_file():
        return None
    try:
        done = json.loads(marker.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return done if isinstance(done, dict) and done.get("stamp") == stamp else None


def build_vreid(
    mot_root: str | Path,
    out: str | Path,
    *,
    splits: Sequence[str] = ("train", "val"),
    id_map: str | Path | None = None,
    attributes: str | Path | None = None,
    name: str | None = None,
    options: CropOptions | None = None,
    captions_per_id: int = 10,
    seed: int = 0,
    progress: bool = True,
    workers: int = 1,
) -> Path:
    """Build (or finish building) the set in ``out``; returns the path of ``index.json``.

    ``workers``: threads decoding frames and writing crops within a sequence (on the 2-core CI
    machine, where file creation dominates, more threads gave no measurable gain).
    """
    mot_root, out = Path(mot_root).expanduser().resolve(), Path(out).expanduser().resolve()
    opts = options or CropOptions()
    if not mot_root.is_dir():
        raise UserError(f"{mot_root}: MOT root not found")
    if not splits:
        raise UserError("no split given; use e.g. --split train,val")
    mapping = read_id_map(Path(id_map)) if id_map else {}
    attrs = None
    if attributes:
        from cgclip.captions.attributes import read_attributes

        attrs = read_attributes(Path(attributes))
    jobs = [(split, seq) for split in splits for seq in split_sequences(mot_root, split)]
    names = [seq.name for _, seq in jobs]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise UserError(f"{mot_root}: sequence names repeat across splits ({dup[:3]}); rename them")

    out.mkdir(parents=True, exist_ok=True)
    results: list[tuple[str, str, dict]] = []
    reused = 0
    bar = tqdm(jobs, desc="sequences", unit="seq", disable=not progress)
    for split, seq_dir in bar:
        bar.set_postfix_str(seq_dir.name)
        seq_out = out / split / seq_dir.name
        stamp = _stamp(seq_dir, opts)
        done = _finished(seq_out / MARKER, stamp)
        if done is None:
            if seq_out.exists():  # a partial or outdated build of this sequence
                shutil.rmtree(seq_out)
            result = build_sequence(seq_dir, out, split, opts, progress=progress, workers=workers)
            done = {"stamp": stamp, "tracklets": result.tracklets, "stats": result.stats}
            seq_out.mkdir(parents=True, exist_ok=True)
            atomic_write_json(seq_out / MARKER, done, indent=None)
        else:
            reused += 1
        results.append((split, seq_dir.name, done))

    index = _index(results, mapping, mot_root, opts, name or mot_root.name, id_map)
    pids = sorted({t["pid"] for t in index["tracklets"]})
    if attrs is not None:
        from cgclip.captions.attributes import captions_from_attributes
        from cgclip.captions.store import save_captions

        covered = [p for p in pids if p in attrs]
        if not covered:
            raise UserError(
                f"{attributes}: no identity id matches the built set's pids "
                f"({pids[:5]}...); ids must be the global ids of the id map"
            )
        caps = captions_from_attributes(
            {p: attrs[p] for p in covered}, per_id=captions_per_id, seed=seed
        )
        save_captions(out / CAPTIONS_NAME, caps)
        index["captions"] = CAPTIONS_NAME
        index["captions_missing"] = len(pids) - len(covered)
    atomic_write_json(out / INDEX_NAME, index, indent=None)
    _report(index, reused, len(results), out, progress)
    return out / INDEX_NAME


def _index(
    results: list[tuple[str, str, dict]],
    mapping: dict[tuple[str, int], int],
    mot_root: Path,
    opts: CropOptions,
    name: str,
    id_map: str | Path | None,
) -> dict:
    next_pid = max(mapping.values(), default=0) + 1
    fresh: dict[tuple[str, int], int] = {}
    tracklets = []
    stats: dict[str, int] = {}
    for camid, (split, seq, done) in enumerate(sorted(results)):
        for key, value in done["stats"].items():
            stats[key] = stats.get(key, 0) + value
        for t in done["tracklets"]:
            key = (seq, int(t["track"]))
            pid = mapping.get(key)
            if pid is None:
                pid = fresh.setdefault(key, next_pid + len(fresh))
            tracklets.append(
                {
                    "split": split,
                    "seq": seq,
                    "track": key[1],
                    "pid": pid,
                    "camid": camid,
                    "frames": t["frames"],
                }
            )
    return {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "name": name,
        "source": str(mot_root),
        "id_map": str(id_map) if id_map else None,
        "unmapped_tracks": len(fresh) if mapping else 0,
        "options": opts.as_dict(),
        "sequences": [
            {"split": split, "seq": seq, "camid": camid}
            for camid, (split, seq, _) in enumerate(sorted(results))
        ],
        "stats": stats,
        "captions": None,
        "tracklets": tracklets,
    }


def _report(index: dict, reused: int, total: int, out: Path, progress: bool) -> None:
    if not progress:
        return
    s = index["stats"]
    n_ids = len({t["pid"] for t in index["tracklets"]})
    print(
        f"{out / INDEX_NAME}: {len(index['tracklets'])} tracklets, {n_ids} identities, "
        f"{total} sequences ({reused} reused from an earlier run); boxes kept {s.get('kept', 0)}, "
        f"dropped: small {s.get('small', 0)}, occluded {s.get('occluded', 0)}, "
        f"short pieces {s.get('short', 0)}, not a person {s.get('ignored', 0)}",
        file=sys.stderr,
    )
    if index["unmapped_tracks"]:
        print(
            f"note: {index['unmapped_tracks']} (sequence, track) pairs are not in the id map and "
            "got identities of their own",
            file=sys.stderr,
        )


def build_synthetic(mot_root: Path, progress: bool = True) -> Path:
    """Build ``mot_root/vreid`` from a generated synthetic MOT set (its id map and attributes)."""
    splits = [s for s in ("train", "val") if (mot_root / s).is_dir()]
    id_map = mot_root / "id_map.csv"
    attributes = mot_root / "identities.csv"
    out = mot_root / "vreid"
    build_vreid(
        mot_root,
        out,
        splits=splits,
        id_map=id_map if id_map.is_file() else None,
        attributes=attributes if attributes.is_file() else None,
        name="synthetic",
        progress=progress,
    )
    return out


@cli
def main(argv: Sequence[str] | None = None) -> int:
    defaults = CropOptions()
    p = argparse.ArgumentParser(
        prog="python -m cgclip.data.build_vreid",
        description="Cut MOTChallenge-layout sequences (SportsMOT, DanceTrack, synthetic) into a "
        "video person re-identification set.",
    )
    p.add_argument("--mot-root", required=True, help="folder holding <split>/<sequence>/")
    p.add_argument(
        "--split", default="train,val", help="comma-separated splits (default: %(default)s)"
    )
    p.add_argument("--out", required=True, help="output folder (re-running resumes)")
    p.add_argument("--id-map", help="CSV sequence,track_id,global_id linking people across videos")
    p.add_argument("--attributes", help="attribute CSV (Table S.1 shape, column id = global id)")
    p.add_argument("--name", help="dataset name stored in the index (default: the root's name)")
    p.add_argument("--captions-per-id", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="caption paraphrase choice")
    p.add_argument("--min-height", type=int, default=defaults.min_height, help="pixels")
    p.add_argument("--min-width", type=int, default=defaults.min_width, help="pixels")
    p.add_argument("--min-visibility", type=float, default=defaults.min_visibility)
    p.add_argument("--visibility", choices=VISIBILITY_SOURCES, default=defaults.visibility)
    p.add_argument("--max-len", type=int, default=defaults.max_len, help="frames per tracklet")
    p.add_argument("--min-len", type=int, default=defaults.min_len)
    p.add_argument("--max-gap", type=int, default=defaults.max_gap)
    p.add_argument("--jpeg-quality", type=int, default=defaults.jpeg_quality)
    p.add_argument("--workers", type=int, default=1, help="threads decoding frames / writing crops")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    opts = CropOptions(
        min_height=a.min_height,
        min_width=a.min_width,
        min_visibility=a.min_visibility,
        visibility=a.visibility,
        max_len=a.max_len,
        min_len=a.min_len,
        max_gap=a.max_gap,
        jpeg_quality=a.jpeg_quality,
    )
    if a.captions_per_id < 1:
        raise UserError("--captions-per-id must be >= 1")
    build_vreid(
        a.mot_root,
        a.out,
        splits=[s.strip() for s in a.split.split(",") if s.strip()],
        id_map=a.id_map,
        attributes=a.attributes,
        name=a.name,
        options=opts,
        captions_per_id=a.captions_per_id,
        seed=a.seed,
        progress=not a.quiet,
        workers=a.workers,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
