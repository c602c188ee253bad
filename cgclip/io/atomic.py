"""Atomic file writes: a reader (or a crash) never sees a half-written output or checkpoint.

Everything is written to a temporary file in the destination's folder, flushed to disk, then moved
over the destination with :func:`os.replace`, which is atomic on POSIX and Windows.

The temporary file is ``.<stem>.<pid>-<random>.tmp<suffix>``. An error, Ctrl-C or SIGTERM (see
:func:`cgclip.errors.cli`) removes it; a process killed outright (SIGKILL, power loss) cannot, so
every writer first removes the temporary files of *its own destination* whose process is gone
(:func:`remove_stale_temps`), and a folder can be swept as a whole (training resume does).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, on error it is removed.

    The temporary name keeps the destination's suffix so that writers choosing a format by
    extension (OpenCV's VideoWriter, safetensors) behave as for the real name.
    """
    dest = Path(path)
    if dest.is_dir():  # else os.replace would fail at the end, naming the temp file
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(dest.parent, dest)
    tmp: Path | None = None
    try:  # from the file's creation on, so a signal at any point removes it
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{dest.stem}.{os.getpid()}-", suffix=f".tmp{dest.suffix}", dir=dest.parent
        )
        tmp = Path(tmp_name)
        os.close(fd)
        yield tmp
        _fsync_file(tmp)
        # mkstemp makes the file 0600; give it the mode a plain open() would (0666 minus umask).
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, dest)
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()


# A temp file younger than this is left alone even if its pid looks dead here: on a shared file
# system the writer may be a live process on another machine.
STALE_AFTER_S = 60.0


def remove_stale_temps(
    folder: str | os.PathLike[str], dest: str | os.PathLike[str] | None = None
) -> list[Path]:
    """Remove the temporary files :func:`atomic_path` left in ``folder`` (only those for ``dest``
    when given) whose writing process no longer runs. Returns the removed paths."""
    folder = Path(folder)
    if dest is None:
        pattern = ".*.*-*.tmp*"
    else:
        dest = Path(dest)
        pattern = f".{glob.escape(dest.stem)}.*-*.tmp{glob.escape(dest.suffix)}"
    removed = []
    now = time.time()
    for tmp in folder.glob(pattern):
        pid = tmp.name[: tmp.name.rindex(".tmp")].rsplit(".", 1)[-1].split("-", 1)[0]
        if not pid.isdigit() or _running(int(pid)):
            continue
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            if now - tmp.stat().st_mtime >= STALE_AFTER_S:
                tmp.unlink()
                removed.append(tmp)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_file(path: Path) -> None:
    with contextlib.suppress(OSError), open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=indent) + "\n")
