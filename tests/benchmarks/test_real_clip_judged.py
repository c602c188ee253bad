"""benchmarks/real_clip_judged.py: verdicts attached to the moves a run makes, counted; moves
without one listed as not judged, verdicts without a move as stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import real_clip_judged as judged
from benchmarks.real_clip import video_record
from cgclip.errors import UserError


def _move(tid: int, frames: tuple[int, int], heights: float) -> dict:
    box = [0.0, 0.0, 10.0, 40.0]
    return {"id": tid, "from_track": tid, "to_track": tid + 1, "frames": list(frames),
            "boxes": [box, box], "jump_px": 40 * heights, "jump_heights": heights}  # fmt: skip


MOVES = [_move(3, (10, 16), 2.0), _move(3, (40, 41), 0.2), _move(7, (50, 90), 0.5)]


def test_verdicts_attach_by_id_and_frames_and_are_counted():
    verdicts = {
        "id3 f10-f16": {"verdict": "wrong", "why": "another walker"},
        "id7 f50-f90": {"verdict": "right"},
        "id9 f1-f2": {"verdict": "right"},  # a move this run no longer makes
    }
    out = judged.judge(MOVES, verdicts)
    assert [m["verdict"] for m in out["moves"]] == ["wrong", "not judged", "right"]
    assert out["moves"][0]["why"] == "another walker"
    assert out["counts"] == {"wrong": 1, "not judged": 1, "right": 1}
    assert out["far_counts"] == {"wrong": 1}  # only the 2-height move is far (>= 1.5)
    assert out["stale"] == ["id9 f1-f2"]


def test_an_unknown_verdict_or_run_name_is_refused():
    with pytest.raises(UserError, match="'maybe' is not one of"):
        judged.judge(MOVES, {"id3 f10-f16": {"verdict": "maybe"}})
    assert judged.parse_run("street now") == ("street", False)
    assert judged.parse_run("default before") == ("default", True)
    with pytest.raises(UserError, match="expected '<preset> now'"):
        judged.parse_run("street later")


def _book(tmp_path: Path, video: Path, sha: str | None = None) -> tuple[Path, Path]:
    book = tmp_path / "verdicts.json"
    sha = sha or video_record(video)["sha256"]
    runs = {"street now": {"id3 f10-f16": {"verdict": "wrong", "why": "x"}}}
    book.write_text(json.dumps({"video_sha256": sha, "runs": runs}))
    real = tmp_path / "real_clip.json"
    real.write_text(json.dumps({"checkpoints": {"synthetic": "ckpt.safetensors"}}))
    return book, real


def test_main_judges_each_run_and_renders_the_counts(tmp_path, monkeypatch, capsys):
    video = tmp_path / "clip.avi"
    video.write_bytes(b"frames")
    book, real = _book(tmp_path, video)
    calls = []

    def fake_find_moves(video_path, checkpoint, preset, *, before, cache, features):
        calls.append((checkpoint, preset, before))
        return MOVES

    monkeypatch.setattr("benchmarks.real_clip_review.find_moves", fake_find_moves)
    out = tmp_path / "judged.json"
    argv = ["--video", str(video), "--verdicts", str(book), "--real-clip", str(real)]
    assert judged.main([*argv, "--out", str(out)]) == 0
    assert calls == [(Path("ckpt.safetensors"), "street", False)]
    result = json.loads(out.read_text())
    assert result["runs"]["street now"]["counts"] == {"wrong": 1, "not judged": 2}
    table = judged.render(result)
    assert "| street now | 3 (1) | 0 (0) | 0 (0) | 1 (1) |" in table
    assert "not judged" in table and "clip.avi" in table


def test_another_clip_or_a_missing_file_is_one_error_line(tmp_path, capsys):
    video = tmp_path / "clip.avi"
    video.write_bytes(b"frames")
    book, real = _book(tmp_path, video, sha="0" * 64)
    argv = ["--video", str(video), "--verdicts", str(book), "--real-clip", str(real)]
    assert judged.main([*argv, "--out", str(tmp_path / "o.json")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {video}: not the clip")
    assert judged.main(["--video", str(tmp_path / "none.avi")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "fetch_vtest.sh" in err
    assert not (tmp_path / "o.json").exists()
