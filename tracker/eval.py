"""``python -m tracker.eval --gt GT --results DIR``: HOTA, DetA, AssA, MOTA, IDF1, IDSW via TrackEval.

``GT`` is a MOTChallenge sequence folder (``<seq>/gt/gt.txt`` + ``seqinfo.ini``), a folder of
such sequences (a split such as ``ROOT/val``), several of either, or one ``gt.txt`` file.
``--results`` is a folder with one results file per sequence, ``<seq>.txt`` (MOTChallenge) or
``<seq>.mot.txt`` (what ``tracker.run`` writes), or, with one ground-truth sequence, one
results file. Prints a table per sequence and combined, and writes the numbers to JSON
(``--out``, default ``tracker_eval.json`` beside the results).

TrackEval wants a fixed folder layout (GT folder, seqmap, tracker/data folder); we build it from
symlinks in a temporary folder so any layout on disk can be evaluated without copying.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cgclip.errors import ArgumentParser, UserError, cli
from cgclip.io.atomic import atomic_write_json
from cgclip.io.mot import GT_TXT, read_mot, read_seqinfo, read_seqmap
from cgclip.io.mot import find_sequences as mot_sequences

METRICS = ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW")


def find_sequences(
    gt: Sequence[str | os.PathLike[str]], seqmap: str | os.PathLike[str] | None = None
) -> dict[str, Path]:
    """``{name: sequence folder, or the gt.txt given}`` for every sequence under the GT paths
    (sorted by name)."""
    seqs: dict[str, Path] = {}
    for item in gt:
        p = Path(item)
        if p.is_file():  # one gt.txt: its sequence is the folder around gt/gt.txt, or its own
            seqs[_gt_name(p)] = p
            continue
        if not p.is_dir():
            raise UserError(f"{p}: ground-truth folder not found")
        found = mot_sequences(p, GT_TXT, include_self=True)
        if not found:
            raise UserError(
                f"{p}: no MOTChallenge sequences (<seq>/gt/gt.txt) here; point --gt at a sequence "
                "folder or a split folder such as ROOT/val"
            )
        for d in found:
            if d.name in seqs and seqs[d.name].resolve() != d.resolve():
                raise UserError(
                    f"two ground-truth sequences are named {d.name!r}: {seqs[d.name]} and {d}"
                )
            seqs[d.name] = d
    if seqmap is not None:
        wanted = read_seqmap(seqmap)
        missing = [s for s in wanted if s not in seqs]
        if missing:
            raise UserError(f"{seqmap}: sequences not found under --gt: {', '.join(missing)}")
        seqs = {s: seqs[s] for s in wanted}
    return dict(sorted(seqs.items()))


def _gt_name(gt_file: Path) -> str:
    folder = gt_file.parent
    return folder.parent.name if folder.name == "gt" else folder.name


def _gt_file(seq: Path) -> Path:
    """A sequence's ground truth: ``seq`` itself when a gt.txt was given, else ``seq/gt/gt.txt``."""
    return seq if seq.is_file() else seq / GT_TXT


def _seq_folder(seq: Path) -> Path:
    gt_file = _gt_file(seq)
    return gt_file.parent.parent if gt_file.parent.name == "gt" else gt_file.parent


def result_files(results: Path, names: Sequence[str]) -> dict[str, Path]:
    """The pairing rule: a folder gives ``<seq>.txt`` or else ``<seq>.mot.txt`` per sequence; one
    file is the results of the one sequence evaluated."""
    if results.is_file():
        if len(names) != 1:
            raise UserError(
                f"{results}: one results file, but --gt has {len(names)} sequences; give a "
                "folder of <seq>.txt / <seq>.mot.txt files, or one sequence"
            )
        return {names[0]: results}
    if not results.is_dir():
        raise UserError(
            f"{results}: results not found; give a folder with one <seq>.txt (or <seq>.mot.txt, "
            "as tracker.run writes) per sequence, or one results file"
        )
    found: dict[str, Path] = {}
    for name in names:
        for candidate in (results / f"{name}.txt", results / f"{name}.mot.txt"):
            if candidate.is_file():
                found[name] = candidate
                break
    missing = [n for n in names if n not in found]
    if missing:
        raise UserError(
            f"{results}: no results for {', '.join(missing)} (expected <seq>.txt or <seq>.mot.txt)"
        )
    return found


def _seq_length(seq_dir: Path, gt_rows: np.ndarray, res_rows: np.ndarray) -> int:
    if (seq_dir / "seqinfo.ini").is_file():
        return read_seqinfo(seq_dir).seq_length
    frames = [int(r[:, 0].max()) for r in (gt_rows, res_rows) if len(r)]
    return max(frames) if frames else 1


def _has_classes(rows: np.ndarray) -> bool:
    """MOT16/17/20 ground truth: column 8 a class id in 1..12, column 9 a visibility >= 0 (it
    may round past 1). 2D MOT 2015 ground truth has world coordinates there (-1 where unknown)
    and no classes."""
    cls, vis = rows[:, 7], rows[:, 8]
    return bool(np.all((cls >= 1) & (cls <= 12) & (cls == np.round(cls)) & (vis >= 0)))


def gt_benchmark(gt_files: dict[str, np.ndarray]) -> str:
    """TrackEval's benchmark style for these ground-truth files: ``"MOT17"`` when every row has
    a class and a visibility (pedestrians are class 1; distractor classes are removed), else
    ``"MOT15"`` (2D MOT 2015: every box is a pedestrian). Under the MOT17 rules a MOT15 ground
    truth would lose every box and score 0, so a mix of the two is refused."""
    styled = {name: _has_classes(r) for name, r in gt_files.items() if len(r)}
    if all(styled.values()):
        return "MOT17"
    if not any(styled.values()):
        return "MOT15"
    mot15 = sorted(n for n, has in styled.items() if not has)
    raise UserError(
        f"ground truth without classes (2D MOT 2015 style: {', '.join(mot15)}) mixed with "
        "MOT16/17/20-style ground truth (class, visibility); evaluate the two kinds separately"
    )


def evaluate(
    gt: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    results: str | os.PathLike[str],
    *,
    seqmap: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Evaluate result txt files against MOTChallenge ground truth.

    Returns ``{"sequences": {seq: {metric: value}}, "combined": {metric: value}}`` with HOTA,
    DetA, AssA, MOTA, IDF1 in percent and IDSW a count.
    """
    import trackeval

    gt_list = [gt] if isinstance(gt, (str, os.PathLike)) else list(gt)
    seqs = find_sequences(gt_list, seqmap)
    res_dir = Path(results)
    files = result_files(res_dir, list(seqs))

    with tempfile.TemporaryDirectory(prefix="tracker-eval-") as tmp:
        gt_root, tr_root = Path(tmp) / "gt", Path(tmp) / "trackers" / "tracker" / "data"
        gt_root.mkdir(parents=True)
        tr_root.mkdir(parents=True)
        seq_info, gt_files = {}, {}
        for name, seq in seqs.items():
            gt_rows = gt_files[name] = read_mot(_gt_file(seq), kind="gt")
            res_rows = read_mot(files[name], kind="results")
            length = _seq_length(_seq_folder(seq), gt_rows, res_rows)
            if len(res_rows) and res_rows[:, 0].max() > length:
                raise UserError(
                    f"{files[name]}: frame {int(res_rows[:, 0].max())} is past the end of "
                    f"sequence {name} ({length} frames)"
                )
            seq_info[name] = length
            (gt_root / name / "gt").mkdir(parents=True)
            (gt_root / name / GT_TXT).symlink_to(_gt_file(seq).resolve())
            (tr_root / f"{name}.txt").symlink_to(files[name].resolve())
        config = {
            "GT_FOLDER": str(gt_root),
            "TRACKERS_FOLDER": str(Path(tmp) / "trackers"),
            "TRACKERS_TO_EVAL": ["tracker"],
            "SKIP_SPLIT_FOL": True,
            "SEQ_INFO": seq_info,
            "BENCHMARK": gt_benchmark(gt_files),
            "PRINT_CONFIG": False,
            "OUTPUT_FOLDER": str(Path(tmp) / "out"),
        }
        per_seq: dict[str, dict[str, dict[str, Any]]] = {}
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # TrackEval prints its configs
                metrics = [
                    trackeval.metrics.HOTA(),
                    trackeval.metrics.CLEAR(),
                    trackeval.metrics.Identity(),
                ]
                dataset = trackeval.datasets.MotChallenge2DBox(config)
                for name in seqs:
                    raw = dataset.get_raw_seq_data("tracker", name)
                    data = dataset.get_preprocessed_seq_data(raw, "pedestrian")
                    per_seq[name] = {m.get_name(): m.eval_sequence(data) for m in metrics}
                combined = {
                    m.get_name(): m.combine_sequences(
                        {s: r[m.get_name()] for s, r in per_seq.items()}
                    )
                    for m in metrics
                }
        except trackeval.utils.TrackEvalException as err:
            raise UserError(f"TrackEval could not evaluate {res_dir}: {err}") from None
    return {
        "sequences": {name: _summary(r) for name, r in per_seq.items()},
        "combined": _summary(combined),
    }


def _summary(res: dict[str, dict[str, Any]]) -> dict[str, float]:
    hota = res["HOTA"]
    return {
        "HOTA": 100 * float(np.mean(hota["HOTA"])),
        "DetA": 100 * float(np.mean(hota["DetA"])),
        "AssA": 100 * float(np.mean(hota["AssA"])),
        "MOTA": 100 * float(res["CLEAR"]["MOTA"]),
        "IDF1": 100 * float(res["Identity"]["IDF1"]),
        "IDSW": int(res["CLEAR"]["IDSW"]),
    }


def format_table(report: dict[str, Any]) -> str:
    rows = list(report["sequences"].items()) + [("COMBINED", report["combined"])]
    width = max(len(n) for n, _ in rows)
    head = f"{'sequence':<{width}} " + " ".join(f"{m:>7}" for m in METRICS)
    lines = [head]
    for name, vals in rows:
        cells = [f"{vals[m]:7d}" if m == "IDSW" else f"{vals[m]:7.2f}" for m in METRICS]
        lines.append(f"{name:<{width}} " + " ".join(cells))
    return "\n".join(lines)


@cli
def main(argv: Sequence[str] | None = None) -> int:
    p = ArgumentParser(
        prog="python -m tracker.eval",
        description="HOTA, DetA, AssA, MOTA, IDF1 and IDSW of MOTChallenge results, via TrackEval.",
    )
    p.add_argument(
        "--gt",
        nargs="+",
        required=True,
        help="sequence folder(s), split folder(s) with <seq>/gt/gt.txt, or a gt.txt file",
    )
    p.add_argument(
        "--results",
        required=True,
        help="folder with one <seq>.txt or <seq>.mot.txt per sequence, or one results file",
    )
    p.add_argument("--seqmap", help="TrackEval seqmap restricting the sequences")
    p.add_argument("--out", type=Path, help="JSON output (default RESULTS/tracker_eval.json)")
    args = p.parse_args(argv)
    report = evaluate(args.gt, args.results, seqmap=args.seqmap)
    print(format_table(report))
    results = Path(args.results)
    out = args.out or (results.parent if results.is_file() else results) / "tracker_eval.json"
    atomic_write_json(out, report)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
