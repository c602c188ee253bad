"""``python -m tracker.batch``: sources and names, then a real archive of three short synthetic
clips and a corrupt one, on local workers (killed mid-way, then rerun) and on a local Ray
instance. Outputs must be byte for byte those of ``python -m tracker.run``, the manifest must be
right and no video may be tracked twice."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cgclip.errors import UserError
from tracker import batch
from tracker import run as run_cli
from tracker.batch_jobs import MANIFEST, URL_ERROR, assign_names, expand_sources, sha256_file

TRACKING = ["--detections", "auto", "--preset", "dance"]


def _manifest(out: Path) -> dict[str, dict]:
    lines = (out / MANIFEST).read_text().splitlines()
    return {e["source"]: e for e in map(json.loads, lines)}


@pytest.fixture(scope="module")
def archive(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two MOT sequence folders, an MP4 in its sequence folder, and a corrupt MP4 with a det.txt
    beside it (so it fails on decoding, not for want of detections)."""
    seqs = sorted(p for p in (synthetic_root / "train").iterdir() if p.is_dir())
    val = sorted(p for p in (synthetic_root / "val").iterdir() if p.is_dir())[0]
    broken = tmp_path_factory.mktemp("archive") / "broken"
    (broken / "det").mkdir(parents=True)
    shutil.copy(val / "det" / "det.txt", broken / "det" / "det.txt")
    (broken / "broken.mp4").write_bytes(os.urandom(4096))
    good = [seqs[0], seqs[1], val / f"{val.name}.mp4"]
    return {"good": [str(p) for p in good], "broken": str(broken / "broken.mp4")}


@pytest.fixture(scope="module")
def expected(archive: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What ``tracker.run`` writes for each good clip, with the same options."""
    out = tmp_path_factory.mktemp("run")
    folders = {}
    for src in archive["good"]:
        seq = Path(src) if Path(src).is_dir() else Path(src).parent
        folder = out / seq.name
        argv = [src, "--detections", str(seq / "det" / "det.txt"), "--output-dir", str(folder)]
        assert run_cli.main([*argv, "--preset", "dance", "--quiet", "--threads", "1"]) == 0
        folders[src] = folder
    return folders


def _assert_same_as_run(out: Path, expected: dict[str, Path]) -> None:
    entries = _manifest(out)
    for src, folder in expected.items():
        entry = entries[src]
        assert entry["state"] == "done" and entry["error"] is None
        files = sorted(p.name for p in folder.iterdir())
        assert sorted(Path(o["path"]).name for o in entry["outputs"].values()) == files
        assert len(files) == 3  # MOT txt, JSON, annotated MP4
        for name in files:
            mine = out / entry["name"] / name
            assert mine.read_bytes() == (folder / name).read_bytes(), name
        for o in entry["outputs"].values():
            assert sha256_file(out / o["path"]) == o["sha256"]


def test_sources_folders_globs_lists_and_names(synthetic_root: Path, tmp_path: Path) -> None:
    train = synthetic_root / "train"
    # A folder scan finds the MOT sequences and does not also take the MP4 inside each one.
    jobs = expand_sources([str(synthetic_root)])
    assert [Path(j.source).name for j in jobs] == [
        p.name for sub in ("train", "val") for p in sorted((synthetic_root / sub).iterdir())
    ]
    assert all(j.detections and j.gt for j in jobs)
    # Globs, a list (relative to itself, comments, a URL, a missing file), duplicates dropped.
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        (folder / "clip.mp4").write_bytes(b"x")
    listed = tmp_path / "list.txt"
    listed.write_text("# season\na/clip.mp4\nhttps://example.org/m.mp4\ngone.mp4\n\n")
    jobs = expand_sources([str(tmp_path / "*" / "clip.mp4"), str(listed), str(train / "dance-00")])
    assert [j.source for j in jobs] == [
        str(a / "clip.mp4"),
        str(b / "clip.mp4"),
        "https://example.org/m.mp4",
        str(tmp_path / "gone.mp4"),
        str(train / "dance-00"),
    ]
    assert jobs[2].error == URL_ERROR and "no such file" in jobs[3].error
    assert jobs[0].detections is None and jobs[4].detections.endswith("det/det.txt")
    # A shared stem gets a stable suffix; a name the manifest has is kept.
    named = assign_names(jobs, {})
    names = [j.name for j in named]
    assert names[0].startswith("clip-") and names[1].startswith("clip-") and names[0] != names[1]
    assert names[2:] == ["m", "gone", "dance-00"]
    assert [j.name for j in assign_names(jobs[::-1], {})][::-1] == names  # order does not matter
    kept = assign_names([jobs[0], jobs[1]], {jobs[0].key: "clip"})
    assert kept[0].name == "clip" and kept[1].name == names[1]
    # The batch's own outputs are never inputs, even when --out is inside a scanned folder.
    out = a / "runs"
    (out / "clip").mkdir(parents=True)
    (out / "clip" / "clip.tracked.mp4").write_bytes(b"x")
    assert [j.source for j in expand_sources([str(a)], exclude=out)] == [str(a / "clip.mp4")]
    # Sources on the command line that name nothing are one error, before any work.
    for bad in ([str(tmp_path / "nope.mp4")], [str(tmp_path / "*.mkv")]):
        with pytest.raises(UserError):
            expand_sources(bad)


def test_files_the_batch_did_not_write_are_not_replaced(synthetic_root: Path, tmp_path, capsys):
    seq = synthetic_root / "train" / "dance-00"
    stray = tmp_path / "out" / "dance-00" / "dance-00.mot.txt"
    stray.parent.mkdir(parents=True)
    stray.write_text("mine\n")
    assert batch.main([str(seq), "--out", str(tmp_path / "out"), *TRACKING, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {stray}: already exists") and "--overwrite" in err
    assert stray.read_text() == "mine\n" and not (tmp_path / "out" / MANIFEST).exists()


def test_local_workers_killed_and_rerun(
    archive: dict, expected: dict, tmp_path: Path, subprocess_env: dict, capsys
) -> None:
    out = tmp_path / "out"
    sources = [*archive["good"], archive["broken"]]
    cmd = [sys.executable, "-m", "tracker.batch", *sources, "--out", str(out), *TRACKING]
    proc = subprocess.Popen([*cmd, "--workers", "1", "--quiet"], env=subprocess_env)
    try:  # stop the batch (SIGTERM) as soon as its first video is done
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / MANIFEST).is_file() and '"state": "done"' in (out / MANIFEST).read_text():
                proc.send_signal(signal.SIGTERM)
                break
            time.sleep(0.02)
        assert proc.wait(timeout=60) == 143
    finally:
        proc.kill()
    before = _manifest(out)
    done = {s for s, e in before.items() if e["state"] == "done"}
    assert done and len(done) < len(archive["good"])  # killed mid-way
    assert all(e["state"] in ("pending", "failed", "done") for e in before.values())
    # The video in flight was stopped, not finished: no output of it, not even a partial file.
    assert not list(out.rglob(".*.tmp*"))
    for entry in before.values():
        if entry["state"] == "pending":
            assert not list((out / entry["name"]).glob("*")), entry
    files = {s: sorted((out / before[s]["name"]).iterdir()) for s in done}
    stamps = {s: [p.stat().st_mtime_ns for p in files[s]] for s in done}

    # Rerun with two workers: the rest is tracked, the corrupt clip fails alone.
    assert batch.main([*sources, "--out", str(out), *TRACKING, "--workers", "2", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: 1 of 4 videos failed") and "cannot open as a video" in err
    after = _manifest(out)
    _assert_same_as_run(out, expected)
    assert after[archive["broken"]]["state"] == "failed"
    assert "cannot open as a video" in after[archive["broken"]]["error"]
    for src in archive["good"]:  # no video tracked twice; those done before were not touched
        assert after[src]["attempts"] == 1
    for s in done:
        assert [p.stat().st_mtime_ns for p in files[s]] == stamps[s]

    # Summary: a row per video, frames, ids, FPS, wall time and HOTA/IDF1 from the ground truth.
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["video"] for r in rows] == sources
    for row in rows[:3]:
        assert row["state"] == "done" and int(row["frames"]) == 60 and int(row["ids"]) > 0
        assert float(row["fps"]) > 0 and float(row["wall_s"]) > 0
        assert 0 < float(row["HOTA"]) <= 100 and 0 < float(row["IDF1"]) <= 100
    assert rows[3]["state"] == "failed" and rows[3]["error"]
    totals = json.loads((out / "summary.json").read_text())["totals"]
    assert totals["done"] == 3 and totals["failed"] == 1
    assert totals["skipped_done"] == len(done) and totals["tracked_now"] == 4 - len(done)

    # Other options in the same folder would mix two kinds of output: refused, nothing run.
    argv = [*sources, "--out", str(out), "--detections", "auto", "--preset", "sports"]
    assert batch.main(argv) == 2
    assert "tracked with other options" in capsys.readouterr().err
    # So would two batches at once into one folder.
    with batch.exclusive(out):
        assert batch.main([*sources, "--out", str(out), *TRACKING]) == 2
    assert "another batch is running" in capsys.readouterr().err


def _mark_and_sleep(marker: Path, seconds: float) -> None:
    marker.touch()
    time.sleep(seconds)


def test_a_worker_stuck_after_sigterm_is_killed(monkeypatch, tmp_path: Path) -> None:
    """Stopping the pool must not wait on a worker that outlives its SIGTERM: the batch's own exit
    joins its workers, so one stuck worker would hang the stopped batch (seen once in CI)."""
    import concurrent.futures as cf
    import multiprocessing as mp

    from tracker import batch_engines

    monkeypatch.setattr(batch_engines, "STOP_GRACE_S", 0.5)
    pool = cf.ProcessPoolExecutor(
        1,
        mp_context=mp.get_context("spawn"),
        initializer=signal.signal,  # a worker deaf to SIGTERM stands in for a stuck one
        initargs=(signal.SIGTERM, signal.SIG_IGN),
    )
    started = tmp_path / "started"
    pool.submit(_mark_and_sleep, started, 60)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert started.exists()  # the worker is busy with the video, as in a batch
    (proc,) = pool._processes.values()
    batch_engines._stop(pool)
    assert not proc.is_alive() and proc.exitcode == -signal.SIGKILL


def test_ray_engine_matches_run(archive: dict, expected: dict, tmp_path: Path, capsys) -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        out = tmp_path / "ray"
        sources = [*archive["good"], archive["broken"]]
        assert batch.main([*sources, "--out", str(out), *TRACKING, "--quiet", "--ray"]) == 1
    finally:
        ray.shutdown()
    assert "1 of 4 videos failed" in capsys.readouterr().err
    _assert_same_as_run(out, expected)
    entries = _manifest(out)
    assert "cannot open as a video" in entries[archive["broken"]]["error"]
    assert all(e["attempts"] == 1 for e in entries.values())


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_save_crops_per_video(archive: dict, tmp_path: Path, capsys) -> None:
    """``--save-crops DIR``: each video's crops in ``DIR/<name>/``, byte for byte those of
    ``tracker.run --save-crops``, recorded in the manifest; a rerun skips them; a crops folder the
    batch did not write is not replaced without ``--overwrite``."""
    sources = archive["good"][:2]  # two MOT sequence folders
    out, crops = tmp_path / "out", tmp_path / "out" / "crops"
    argv = [*sources, "--out", str(out), *TRACKING, "--no-video", "--quiet"]
    assert batch.main([*argv, "--save-crops", str(crops), "--crops", "all"]) == 0
    entries = _manifest(out)
    for src in sources:
        entry, seq = entries[src], Path(src)
        assert entry["state"] == "done"
        mine = crops / entry["name"]
        record = entry["outputs"]["crops"]
        assert record["path"] == f"crops/{entry['name']}/crops.json"  # relative to --out
        assert record["sha256"] == sha256_file(mine / "crops.json")
        index = json.loads((mine / "crops.json").read_text())
        assert index["mode"] == "all" and record["crops"] == index["crops"] > 0
        assert record["ids"] == len(index["ids"]) == entry["ids"]
        assert len(list(mine.rglob("*.jpg"))) == index["crops"]
        # The same crops as tracker.run with the same options writes for this video alone.
        ref = tmp_path / "run" / seq.name
        det = ["--detections", str(seq / "det" / "det.txt"), "--output-dir", str(ref)]
        run_argv = [src, *det, "--preset", "dance", "--no-video", "--quiet", "--threads", "1"]
        assert run_cli.main([*run_argv, "--save-crops", str(ref / "crops"), "--crops", "all"]) == 0
        assert _files(mine) == _files(ref / "crops")
    assert not [p for p in crops.iterdir() if p.name.startswith(".")]  # no temporary folders
    stamps = {p: p.stat().st_mtime_ns for p in crops.rglob("*")}

    # A rerun skips the videos done; other crop options would mix two kinds of output.
    assert batch.main([*argv, "--save-crops", str(crops), "--crops", "all"]) == 0
    assert all(e["attempts"] == 1 for e in _manifest(out).values())
    assert {p: p.stat().st_mtime_ns for p in crops.rglob("*")} == stamps
    assert batch.main([*argv, "--save-crops", str(crops)]) == 2
    assert "tracked with other options (--crops 'all' -> 'best')" in capsys.readouterr().err

    # A new video whose crops folder holds files the batch did not write: refused, kept.
    third = archive["good"][2]
    other = tmp_path / "other"
    extra = [third, "--out", str(other), *TRACKING, "--no-video", "--quiet"]
    name = Path(third).stem
    (crops / name).mkdir()
    (crops / name / "note.txt").write_text("mine\n")
    assert batch.main([*extra, "--save-crops", str(crops)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {crops / name}: already exists") and "--overwrite" in err
    assert (crops / name / "note.txt").read_text() == "mine\n"
    # Usage errors, before any work: --crops alone, and crops into the --out folder itself.
    assert batch.main([*extra, "--crops", "all"]) == 2
    assert "give --save-crops DIR too" in capsys.readouterr().err
    assert batch.main([*extra, "--save-crops", str(other)]) == 2
    assert "that is the --out folder" in capsys.readouterr().err


def test_manifest_options_added_later_count_as_defaults(tmp_path: Path) -> None:
    """A manifest written before an option existed (no "crops" key) resumes when the option is at
    its default, and is refused when it is not."""
    from tracker.batch_jobs import Job, Manifest

    job = Job(key=str(tmp_path / "a.mp4"), source="a.mp4", name="a")
    record = {"preset": "dance", "save_crops": None, "crops": "best"}
    manifest = Manifest(tmp_path / MANIFEST)
    manifest.update(job.key, state="done", name="a", options={"preset": "dance"})
    batch._check_same_options(manifest, [job], record)  # nothing raised
    with pytest.raises(UserError, match=r"--crops 'best' -> 'all'"):
        batch._check_same_options(manifest, [job], {**record, "crops": "all"})
    with pytest.raises(UserError, match=r"--preset 'dance' -> 'sports'"):
        batch._check_same_options(manifest, [job], {**record, "preset": "sports"})
