"""The overwrite policy (cgclip.io.runs) and stale temp files of killed writers (cgclip.io.atomic)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from cgclip.errors import UserError
from cgclip.io.atomic import atomic_write_text, remove_stale_temps
from cgclip.io.runs import claim_outputs, ensure_writable_dir

DEAD_PID = 2**22 + 1  # above Linux's pid_max: no such process


def _temp(folder: Path, name: str, pid: int, age_s: float = 3600) -> Path:
    stem, suffix = name.rsplit(".", 1)
    tmp = folder / f".{stem}.{pid}-{len(list(folder.iterdir()))}q2.tmp.{suffix}"
    tmp.write_text("half written")
    os.utime(tmp, (tmp.stat().st_mtime - age_s,) * 2)
    return tmp


def test_claim_outputs_refuses_existing_outputs_unless_overwrite(tmp_path: Path) -> None:
    new, old = tmp_path / "a" / "new.txt", tmp_path / "old.txt"
    old.write_text("earlier results")
    assert claim_outputs([new, None]) == [new] and not new.parent.exists()  # checked, not made
    with pytest.raises(UserError, match=r"old.txt: already exists; pass --overwrite"):
        claim_outputs([new, old])
    assert claim_outputs([new, old], overwrite=True) == [new, old]
    assert old.read_text() == "earlier results"  # claiming never writes
    (tmp_path / "a").mkdir()
    with pytest.raises(UserError, match="is a folder"):
        claim_outputs([tmp_path / "a"], overwrite=True)


def test_ensure_writable_dir_names_the_folder_not_its_probe(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / ".write-check.x"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OSError) as info:
        ensure_writable_dir(tmp_path / "out" / "run")
    assert info.value.errno == errno.EROFS and info.value.filename == str(tmp_path)


def test_a_file_on_the_way_to_the_output_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "results").write_text("a file")
    with pytest.raises(FileExistsError) as info:
        ensure_writable_dir(tmp_path / "results" / "run1")
    assert info.value.filename == str(tmp_path / "results")


def test_a_writer_removes_only_its_own_dead_temps(tmp_path: Path) -> None:
    mine_dead = _temp(tmp_path, "r.mot.txt", DEAD_PID)
    mine_young = _temp(tmp_path, "r.mot.txt", DEAD_PID, age_s=0)  # maybe another machine's
    mine_live = _temp(tmp_path, "r.mot.txt", os.getppid())
    other = _temp(tmp_path, "r.tracks.json", DEAD_PID)
    atomic_write_text(tmp_path / "r.mot.txt", "1,1,0,0,1,1,1,-1,-1,-1\n")
    assert not mine_dead.exists()
    assert mine_young.exists() and mine_live.exists() and other.exists()
    assert remove_stale_temps(tmp_path) == [other]  # a folder sweep takes every dead one
    assert (tmp_path / "r.mot.txt").read_text().startswith("1,1")


def test_an_atomic_write_onto_a_folder_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as info:
        atomic_write_text(tmp_path, "x")
    assert info.value.filename == str(tmp_path)
    assert list(tmp_path.iterdir()) == []  # no temp file made
