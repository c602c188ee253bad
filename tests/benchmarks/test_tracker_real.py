"""benchmarks/tracker_real.py end to end on small stand-ins in the two official layouts: a MOT15
split (raw detector scores, ground truth without classes) and a MOT17 split (ground truth only,
detections drawn from a detector profile). The peers need the BoxMOT venv, so none run here."""

from __future__ import annotations

import json
import shutil

import numpy as np

from benchmarks.tracker_real import main, render
from cgclip.io.mot import DET_TXT, GT_TXT, find_sequences, read_mot, write_mot


def _as_mot15(src, dst):
    """Copy a split into MOT15 form: ACF-like scores (x 140) and gt columns 7-10 = 1,-1,-1,-1."""
    for seq in find_sequences(src, DET_TXT):
        out = dst / seq.name
        shutil.copytree(seq, out, ignore=shutil.ignore_patterns("img1", "*.mp4"))
        det = read_mot(seq / DET_TXT, kind="det")
        det[:, 6] = det[:, 6] * 140 - 1
        write_mot(out / DET_TXT, det)
        gt = read_mot(seq / GT_TXT, kind="gt")
        gt = gt[(gt[:, 6] == 1) & (gt[:, 7] == 1)]
        gt[:, 6], gt[:, 7:] = 1, -1
        np.savetxt(out / GT_TXT, gt, fmt="%g", delimiter=",")


def test_real_benchmark_runs_both_layouts(synthetic_root, tmp_path):
    mot15 = tmp_path / "MOT15" / "train"
    _as_mot15(synthetic_root / "val", mot15)
    out = tmp_path / "real.json"
    argv = ["--mot15", str(mot15), "--mot17", str(synthetic_root / "val"), "--profiles", "frcnn"]
    assert main([*argv, "--presets", "default", "--peers", "", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["sets"]) == {"mot15-public", "mot17-frcnn-sim"}
    seqs = [s.name for s in find_sequences(mot15, DET_TXT)]
    assert sorted(result["inputs"]["mot15-public"]) == sorted(seqs)
    ours15 = result["sets"]["mot15-public"]["ours (default)"]
    # Scored as MOT15 (no classes): under MOT17's rules every gt box would be dropped -> 0.
    assert ours15["combined"]["HOTA"] > 20 and ours15["combined"]["IDF1"] > 20
    sim = result["sets"]["mot17-frcnn-sim"]["ours (default)"]["sequences"]
    assert sorted(sim) == sorted(f"{s}-frcnn-sim" for s in seqs)
    assert result["checks"]["mot15-public"]["sequences"] == len(seqs)
    table = render(result)
    assert "MOT15 train, public ACF detections" in table and "ours (default)" in table
