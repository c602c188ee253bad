"""Real footage: our presets against BoxMOT's ByteTrack and OC-SORT on MOTChallenge sequences.

    python -m benchmarks.tracker_real --mot15 PATH/MOT15/train --mot17 PATH/MOT17/train

Every other tracker benchmark runs on our generator. This one runs on footage filmed by others,
with two kinds of input, each on the same ``det.txt`` for every contender:

- **MOT15 public detections** (``--mot15``): the seven 2D MOT 2015 training sequences with the
  benchmark's own ACF detections and ground truth; real people, real cameras (static and moving,
  7-30 fps, 640x480 to 1920x1080), a real detector's misses and false positives. ACF scores are
  raw (about -1 to 140), so every contender gets them as ranks in [0, 1]
  (:func:`tracker.detectors.rank_scores`, what ``tracker.run`` does with such a file).
- **MOT17 motion, simulated detections** (``--mot17``): the seven MOT17 training sequences' ground
  truth (real trajectories, crowds, occlusion, moving cameras) with detections drawn from our
  ``dpm`` and ``frcnn`` detector profiles (:mod:`cgclip.data.synthetic.profiles`). The motion is
  real; the detector noise is ours.

No frames are needed: the trackers run motion only (appearance needs the images, which are not
redistributable). The sets come from MOTChallenge (motchallenge.net; CC BY-NC-SA 3.0) or
TrackEval's data archive, and are never committed; the JSON records the sha256 of every file
read. Nothing here was used to choose a preset: the presets are chosen on the generator
(``benchmarks.tracker_crossdomain``), and this is their held-out check on the world.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks.tracker_common import (
    RESULTS_DIR,
    at_least,
    loss_table,
    machine_info,
    track_sequence,
)
from benchmarks.tracker_quality import run_peer
from cgclip.errors import ArgumentParser, UserError, cli
from cgclip.io.atomic import atomic_write_json
from cgclip.io.mot import (
    DET_TXT,
    GT_TXT,
    find_sequences,
    read_mot,
    read_seqinfo,
    write_mot,
    write_seqinfo,
)
from tracker.config import load_preset
from tracker.detectors import rank_scores
from tracker.eval import evaluate

PRESETS = ("default", "dance", "sports", "street")
PEERS = ("bytetrack", "ocsort")
PROFILES = ("frcnn", "dpm")
METRICS = ("HOTA", "IDF1", "MOTA", "DetA", "AssA", "IDSW")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy_sequence(seq: Path, dst: Path, name: str | None = None) -> Path:
    """``dst/<name>`` with ``seq``'s ground truth and seqinfo.ini (name: ``seq``'s own)."""
    out = dst / (name or seq.name)
    (out / "gt").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(seq / GT_TXT, out / GT_TXT)
    write_seqinfo(out, replace(read_seqinfo(seq), name=out.name))
    return out


def prepare_mot15(src: Path, dst: Path) -> dict[str, dict[str, str]]:
    """Copy every sequence with ``det/det.txt`` and ``gt/gt.txt`` under ``src`` to ``dst``, the
    scores as ranks; ``{seq: {file: sha256}}`` of what was read."""
    seqs = [s for s in find_sequences(src, DET_TXT) if (s / GT_TXT).is_file()]
    if not seqs:
        raise UserError(
            f"{src}: no sequences with det/det.txt and gt/gt.txt; point --mot15 at MOT15/train"
        )
    hashes = {}
    for seq in seqs:
        out = _copy_sequence(seq, dst)
        (out / "det").mkdir(exist_ok=True)
        rows = rank_scores(read_mot(seq / DET_TXT, kind="det"), seq / DET_TXT)
        write_mot(out / DET_TXT, rows)
        hashes[seq.name] = {"det": _sha256(seq / DET_TXT), "gt": _sha256(seq / GT_TXT)}
    return hashes


def prepare_mot17(
    src: Path, dst: Path, profiles: tuple[str, ...], seed: int
) -> dict[str, dict[str, str]]:
    """One sequence per MOT17 video (``MOT17-02``; the -DPM/-FRCNN/-SDP copies share their
    ground truth) and detector profile: ``dst/MOT17-02-frcnn-sim`` with the real ground truth and
    detections drawn from the profile over its pedestrians (class 1, marked to consider)."""
    from cgclip.data.synthetic.profiles import PROFILES as PROFILE_TABLE
    from cgclip.data.synthetic.profiles import profile_detections

    videos: dict[str, Path] = {}
    for seq in find_sequences(src, GT_TXT):
        videos.setdefault("-".join(seq.name.split("-")[:2]), seq)
    if not videos:
        raise UserError(f"{src}: no sequences with gt/gt.txt; point --mot17 at MOT17/train")
    hashes = {}
    for i, (video, seq) in enumerate(sorted(videos.items())):
        gt = read_mot(seq / GT_TXT, kind="gt")
        people = gt[(gt[:, 6] == 1) & (gt[:, 7] == 1)][:, :9]
        info = read_seqinfo(seq)
        for j, profile in enumerate(profiles):
            out = _copy_sequence(seq, dst, f"{video}-{profile}-sim")
            rng = np.random.default_rng([seed, i, j])
            rows = profile_detections(
                people,
                frames=info.seq_length,
                fps=info.frame_rate,
                width=info.im_width,
                height=info.im_height,
                rng=rng,
                profile=PROFILE_TABLE[profile],
            )
            (out / "det").mkdir(exist_ok=True)
            write_mot(out / DET_TXT, rows)
            hashes[out.name] = {"gt": _sha256(seq / GT_TXT)}
    return hashes


def _short(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in METRICS}


def score_set(data: Path, presets: tuple[str, ...], peers: tuple[str, ...]) -> dict[str, Any]:
    """Every preset and peer on every sequence of ``data``: ``{contender: {"sequences": {...},
    "combined": {...}}}`` (:data:`METRICS`)."""
    seqs = find_sequences(data, DET_TXT)
    paths = [str(s) for s in seqs]
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tracker-real-") as tmp:
        for preset in tqdm(presets, desc=f"{data.name}: ours", unit="preset"):
            out = Path(tmp) / f"ours-{preset}"
            out.mkdir()
            for seq in seqs:
                write_mot(out / f"{seq.name}.txt", track_sequence(seq, load_preset(preset)))
            rows[f"ours ({preset})"] = evaluate(paths, out)
        for peer in tqdm(peers, desc=f"{data.name}: peers", unit="peer"):
            (out,) = run_peer(peer, data, [s.name for s in seqs], [{}], Path(tmp))
            rows[f"{peer} (default)"] = evaluate(paths, out)
    return {
        k: {
            "sequences": {s: _short(r) for s, r in v["sequences"].items()},
            "combined": _short(v["combined"]),
        }
        for k, v in rows.items()
    }


def checks(sets: dict[str, Any]) -> dict[str, Any]:
    """Per set: is ``default`` at least every peer on combined HOTA and IDF1, and in how many
    sequences is it at least every peer on both."""
    out = {}
    for name, rows in sets.items():
        ours = rows["ours (default)"]
        peers = [k for k in rows if not k.startswith("ours")]
        seqs = list(ours["sequences"])
        out[name] = {
            "combined_at_least_peers": all(
                at_least(ours["combined"], rows[p]["combined"]) for p in peers
            ),
            "sequences_at_least_peers": sum(
                all(at_least(ours["sequences"][s], rows[p]["sequences"][s]) for p in peers)
                for s in seqs
            ),
            "sequences": len(seqs),
        }
    return out


@cli
def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(prog="python -m benchmarks.tracker_real", description=__doc__.split("\n")[0])
    p.add_argument("--mot15", type=Path, help="MOT15 training sequences (det/, gt/, seqinfo.ini)")
    p.add_argument("--mot17", type=Path, help="MOT17 training sequences (gt/, seqinfo.ini)")
    p.add_argument("--profiles", default=",".join(PROFILES), help="detector profiles for MOT17")
    p.add_argument("--presets", default=",".join(PRESETS))
    p.add_argument("--peers", default=",".join(PEERS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "tracker_real.json")
    args = p.parse_args(argv)
    if not args.mot15 and not args.mot17:
        raise UserError("give --mot15 and/or --mot17 (MOTChallenge training folders)")
    presets = tuple(x for x in args.presets.split(",") if x)
    peers = tuple(x for x in args.peers.split(",") if x)
    t0 = time.time()
    result: dict[str, Any] = {"machine": machine_info(), "sets": {}, "inputs": {}}
    with tempfile.TemporaryDirectory(prefix="tracker-real-data-") as tmp:
        if args.mot15:
            data = Path(tmp) / "mot15-public"
            result["inputs"]["mot15-public"] = prepare_mot15(args.mot15, data)
            result["sets"]["mot15-public"] = score_set(data, presets, peers)
        if args.mot17:
            profiles = tuple(x for x in args.profiles.split(",") if x)
            for profile in profiles:
                data = Path(tmp) / f"mot17-{profile}-sim"
                inputs = prepare_mot17(args.mot17, data, (profile,), args.seed)
                result["inputs"][data.name] = inputs
                result["sets"][data.name] = score_set(data, presets, peers)
    result["checks"] = checks(result["sets"])
    result["seconds"] = time.time() - t0
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


SET_TITLES = {
    "mot15-public": "MOT15 train, public ACF detections",
    "mot17-frcnn-sim": "MOT17 train motion, `frcnn`-profile detections",
    "mot17-dpm-sim": "MOT17 train motion, `dpm`-profile detections",
}


def render(result: dict[str, Any]) -> str:
    """Markdown: one row per set (combined HOTA / IDF1 / IDSW per contender), then the checks."""
    sets = result["sets"]
    contenders = list(next(iter(sets.values())))
    head = ["set", *contenders, "default >= peers (combined)", "sequences where it is"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, rows in sets.items():
        check = result["checks"][name]
        cols = [SET_TITLES.get(name, name)]
        for c in contenders:
            r = rows[c]["combined"]
            cols.append(f"{r['HOTA']:.1f} / {r['IDF1']:.1f} / {r['IDSW']}")
        cols.append("yes" if check["combined_at_least_peers"] else "**no**")
        cols.append(f"{check['sequences_at_least_peers']} of {check['sequences']}")
        lines.append("| " + " | ".join(cols) + " |")
    lines += ["", "HOTA / IDF1 / ID switches over all sequences of a set (TrackEval, combined)."]
    peers = [c for c in contenders if not c.startswith("ours")]
    title = {name: SET_TITLES.get(name, name) for name in sets}
    ours = {title[n]: rows["ours (default)"]["combined"] for n, rows in sets.items()}
    theirs = {
        p.split(" ")[0]: {title[n]: rows[p]["combined"] for n, rows in sets.items()} for p in peers
    }
    return "\n".join([*lines, "", *loss_table(ours, theirs, "set")])


if __name__ == "__main__":
    raise SystemExit(main())
