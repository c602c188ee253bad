"""The synthetic sports/dance generator: layout, identities, scoring, noise and determinism."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from cgclip.data.synthetic import PRESETS, generate_dataset, generate_sample, plan_dataset
from cgclip.data.synthetic.__main__ import main as synthetic_main
from cgclip.data.synthetic.motion import dance_motion, sports_motion
from cgclip.io import frames_of, open_video, read_mot, read_seqinfo, read_seqmap, write_mot


def _sequences(root: Path, split: str) -> list[Path]:
    return [root / split / name for name in read_seqmap(root / "seqmaps" / f"{split}.txt")]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_layout_reads_back(synthetic_root):
    for split in ("train", "val"):
        seqs = _sequences(synthetic_root, split)
        assert len(seqs) == 4 and {s.name.split("-")[0] for s in seqs} == {"dance", "sports"}
        for seq in seqs:
            info = read_seqinfo(seq)
            assert (info.name, info.seq_length, info.im_width, info.im_height) == (
                seq.name,
                60,
                640,
                360,
            )
            images = sorted((seq / "img1").glob("*.jpg"))
            assert [p.name for p in images[:2]] == ["000001.jpg", "000002.jpg"] and len(
                images
            ) == 60
            video = open_video(seq / f"{seq.name}.mp4")
            assert (video.info.width, video.info.height) == (640, 360)
            assert sum(1 for _ in video) == 60
            gt = read_mot(seq / "gt" / "gt.txt", "gt")
            det = read_mot(seq / "det" / "det.txt", "det")
            assert gt[:, 0].min() == 1 and gt[:, 0].max() <= 60
            assert np.all(gt[:, 2] >= 0) and np.all(gt[:, 2] + gt[:, 4] <= 640 + 1e-6)
            assert np.all((gt[:, 8] > 0) & (gt[:, 8] <= 1))
            assert np.all(det[:, 1] == -1) and np.all((det[:, 6] > 0) & (det[:, 6] < 1))


def test_identities_are_consistent(synthetic_root):
    identities = {int(r["id"]): r for r in _read_csv(synthetic_root / "identities.csv")}
    assert set(_read_csv(synthetic_root / "identities.csv")[0]) >= {
        "id",
        "scene",
        "gender",
        "uniform",
        "number",
        "others",
    }
    id_map = _read_csv(synthetic_root / "id_map.csv")
    link = {(r["sequence"], int(r["track_id"])): int(r["global_id"]) for r in id_map}
    seqs_of = defaultdict(set)
    split_of_gid = {}
    for split in ("train", "val"):
        for seq in _sequences(synthetic_root, split):
            gt = read_mot(seq / "gt" / "gt.txt", "gt")
            local_ids = set(gt[:, 1].astype(int))
            # Every gt track is mapped, and the mapping is one-to-one within a sequence.
            gids = [link[(seq.name, lid)] for lid in local_ids]
            assert len(set(gids)) == len(gids)
            for gid in gids:
                assert gid in identities
                seqs_of[gid].add(seq.name)
                assert split_of_gid.setdefault(gid, split) == split, "train/val identities overlap"
            # Each frame has at most one box per track id.
            assert len({(int(f), int(i)) for f, i in gt[:, :2]}) == len(gt)
    # Cross-video ground truth: every identity is seen in at least two sequences of its split.
    assert seqs_of and all(len(s) >= 2 for s in seqs_of.values())
    # Look-alikes: a team shares one uniform and is told apart by number and details.
    teams = defaultdict(list)
    for row in identities.values():
        teams[row["group"]].append(row)
    for members in teams.values():
        assert len({m["uniform"] for m in members}) == 1
        if members[0]["scene"] != "dance":
            assert len({m["number"] for m in members}) == len(members)


def _trackeval_scores(
    gt_root: Path, split: str, results: dict[str, np.ndarray], tmp: Path
) -> dict[str, float]:
    import trackeval

    tracker_dir = tmp / "trackers" / "probe" / "data"
    for name, rows in results.items():
        write_mot(tracker_dir / f"{name}.txt", rows)
    dataset_cfg = {
        "GT_FOLDER": str(gt_root / split),
        "TRACKERS_FOLDER": str(tmp / "trackers"),
        "TRACKERS_TO_EVAL": ["probe"],
        "SEQMAP_FILE": str(gt_root / "seqmaps" / f"{split}.txt"),
        "SKIP_SPLIT_FOL": True,
        "BENCHMARK": "MOT17",
        "PRINT_CONFIG": False,
    }
    eval_cfg = {
        "PRINT_RESULTS": False,
        "PRINT_CONFIG": False,
        "OUTPUT_SUMMARY": False,
        "OUTPUT_DETAILED": False,
        "PLOT_CURVES": False,
        "DISPLAY_LESS_PROGRESS": True,
        "TIME_PROGRESS": False,
        "USE_PARALLEL": False,
    }
    evaluator = trackeval.Evaluator(eval_cfg)
    dataset = trackeval.datasets.MotChallenge2DBox(dataset_cfg)
    metrics = [
        trackeval.metrics.HOTA(),
        trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
        trackeval.metrics.Identity({"PRINT_CONFIG": False}),
    ]
    out, _ = evaluator.evaluate([dataset], metrics)
    combined = out["MotChallenge2DBox"]["probe"]["COMBINED_SEQ"]["pedestrian"]
    return {
        "HOTA": float(np.mean(combined["HOTA"]["HOTA"])) * 100,
        "MOTA": combined["CLEAR"]["MOTA"] * 100,
        "IDF1": combined["Identity"]["IDF1"] * 100,
    }


def _assign_ids(gt: np.ndarray, det: np.ndarray, iou_min: float = 0.5) -> np.ndarray:
    """Give each detection the id of the gt box it overlaps most (Hungarian on IoU), else a new id."""
    out, next_id = [], 100000
    gt_frames = frames_of(gt)
    for frame, d in frames_of(det).items():
        g = gt_frames.get(frame, np.zeros((0, 10)))
        ids = np.full(len(d), -1)
        if len(g):
            iou = _iou(d[:, 2:6], g[:, 2:6])
            r, c = linear_sum_assignment(-iou)
            ok = iou[r, c] >= iou_min
            ids[r[ok]] = g[c[ok], 1]
        for k in np.flatnonzero(ids < 0):
            ids[k], next_id = next_id, next_id + 1
        rows = d.copy()
        rows[:, 1] = ids
        out.append(rows)
    return np.concatenate(out)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ax0, ay0, ax1, ay1 = (
        a[:, 0, None],
        a[:, 1, None],
        (a[:, 0] + a[:, 2])[:, None],
        (a[:, 1] + a[:, 3])[:, None],
    )
    bx0, by0, bx1, by1 = (
        b[None, :, 0],
        b[None, :, 1],
        b[None, :, 0] + b[None, :, 2],
        b[None, :, 1] + b[None, :, 3],
    )
    inter = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None) * np.clip(
        np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None
    )
    return inter / (a[:, 2:3] * a[:, 3:4] + (b[:, 2] * b[:, 3])[None, :] - inter)


def test_trackeval_scores_gt_perfect_and_noisy_detections_lower(synthetic_root, tmp_path):
    seqs = _sequences(synthetic_root, "val")
    gts = {s.name: read_mot(s / "gt" / "gt.txt", "gt") for s in seqs}
    perfect = _trackeval_scores(synthetic_root, "val", gts, tmp_path / "a")
    assert perfect["HOTA"] == pytest.approx(100.0) and perfect["MOTA"] == pytest.approx(100.0)
    assert perfect["IDF1"] == pytest.approx(100.0)
    noisy = {s.name: _assign_ids(gts[s.name], read_mot(s / "det" / "det.txt", "det")) for s in seqs}
    scores = _trackeval_scores(synthetic_root, "val", noisy, tmp_path / "b")
    # Ids are oracle, so the loss is detection noise alone: clearly lower, yet a usable detector.
    assert 40.0 < scores["HOTA"] < 90.0
    assert 30.0 < scores["MOTA"] < 95.0


def test_misses_rise_with_occlusion(synthetic_root):
    hit = defaultdict(list)
    for split in ("train", "val"):
        for seq in _sequences(synthetic_root, split):
            gt = frames_of(read_mot(seq / "gt" / "gt.txt", "gt"))
            det = frames_of(read_mot(seq / "det" / "det.txt", "det"))
            for frame, g in gt.items():
                d = det.get(frame, np.zeros((0, 10)))
                matched = np.zeros(len(g), dtype=bool)
                if len(d):  # one detection explains at most one person
                    iou = _iou(g[:, 2:6], d[:, 2:6])
                    r, c = linear_sum_assignment(-iou)
                    matched[r[iou[r, c] > 0.5]] = True
                for vis, ok in zip(g[:, 8], matched, strict=True):
                    hit["occluded" if vis < 0.5 else "clear" if vis > 0.95 else "partial"].append(
                        ok
                    )
    assert len(hit["occluded"]) > 20, "the scenes must contain real occlusions"
    assert np.mean(hit["clear"]) > 0.9
    assert np.mean(hit["occluded"]) < np.mean(hit["clear"]) - 0.2


def test_scene_motion_has_crossings_exits_and_pan():
    rng = np.random.default_rng(0)
    dance = dance_motion(7, 300, rng)
    order = np.argsort(dance.xz[:, :, 0], axis=1)
    swaps = int(np.sum(np.any(order[1:] != order[:-1], axis=1)))
    assert swaps >= 5, "dance formations must make dancers cross"
    assert not dance.present.all(), "someone leaves to the wings"
    sports = sports_motion(5, 300, np.random.default_rng(1))
    assert np.ptp(sports.cam_x) > 0.1, "the camera pans"
    speed_change = np.abs(np.diff(sports.speed, axis=0))
    assert speed_change.max() > 0.002, "players turn and sprint"


def test_sports_players_leave_and_reenter_view(synthetic_root):
    gaps = 0
    for seq in _sequences(synthetic_root, "train") + _sequences(synthetic_root, "val"):
        if not seq.name.startswith("sports"):
            continue
        gt = read_mot(seq / "gt" / "gt.txt", "gt")
        for tid in np.unique(gt[:, 1]):
            frames = np.sort(gt[gt[:, 1] == tid, 0])
            gaps += int(np.any(np.diff(frames) > 3))
    assert gaps >= 1


def test_same_seed_is_byte_identical(tmp_path):
    cfg = replace(PRESETS["test"], frames=20, write_video=False, seqs_per_split=1)
    a = generate_dataset(tmp_path / "a", cfg, progress=False)
    b = generate_dataset(tmp_path / "b", cfg, progress=False)
    c = generate_dataset(tmp_path / "c", replace(cfg, seed=1), progress=False)
    files = [
        "identities.csv",
        "id_map.csv",
        "train/dance-00/gt/gt.txt",
        "train/dance-00/det/det.txt",
        "val/sports-01/gt/gt.txt",
        "train/dance-00/img1/000010.jpg",
    ]
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert (a / "train/dance-00/gt/gt.txt").read_bytes() != (
        c / "train/dance-00/gt/gt.txt"
    ).read_bytes()


def test_generate_is_idempotent_and_plan_is_cheap(tmp_path):
    cfg = replace(PRESETS["test"], frames=5, write_video=False, seqs_per_split=1, kinds=("dance",))
    root = generate_dataset(tmp_path, cfg, progress=False)
    gt = root / "train/dance-00/gt/gt.txt"
    before = gt.stat().st_mtime_ns
    generate_dataset(tmp_path, cfg, progress=False)
    assert gt.stat().st_mtime_ns == before
    identities, specs = plan_dataset(PRESETS["full"])
    assert len(specs) == 12 and len(identities) == 2 * (2 * 7 + 3 * 5)


def test_sample_clip(sample_clip):
    assert (sample_clip / "sample.mp4").is_file()
    gt = read_mot(sample_clip / "gt.txt", "gt")
    assert len(np.unique(gt[:, 1])) == 8 and gt[:, 0].max() == 40
    assert len(read_mot(sample_clip / "det.txt", "det")) > 0
    assert sum(1 for _ in open_video(sample_clip / "sample.mp4")) == 40


def test_cli_generate_and_errors(tmp_path, capsys):
    assert (
        synthetic_main(
            [
                "generate",
                "--out",
                str(tmp_path / "d"),
                "--frames",
                "4",
                "--kinds",
                "sports",
                "--no-video",
                "--quiet",
            ]
        )
        == 0
    )
    assert (tmp_path / "d/val/sports-03/gt/gt.txt").is_file()
    assert not list((tmp_path / "d").rglob("*.mp4"))
    capsys.readouterr()
    assert (
        synthetic_main(["generate", "--out", str(tmp_path / "e"), "--kinds", "hockey", "--quiet"])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown scene kind") and "\n" not in err
    out = generate_sample(tmp_path / "s", kind="sports", frames=6, progress=False)
    assert (out / "sample.mp4").is_file()
