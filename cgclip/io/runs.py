"""Where a command's results go, checked before any work: the one overwrite policy.

Policy (every CLI that writes results: ``tracker.run``, ``cgclip.train``): results are never
replaced without ``--overwrite``. Before the first frame or epoch, :func:`claim_outputs` makes
sure each output's folder is writable (or can be made; it is not made yet), that no output path is a
folder, and that none exists unless ``overwrite``; otherwise it is one ``error:`` line saying
what to do. The demo writes each request into its own fresh temporary folder, so nothing there is
ever replaced. Commands print where their results went.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cgclip.errors import UserError


def claim_outputs(
    paths: Iterable[str | os.PathLike[str] | None],
    *,
    overwrite: bool = False,
    hint: str = "pass --overwrite to replace it, or choose another --output-dir",
) -> list[Path]:
    """Check that every output in ``paths`` (``None`` entries are skipped) can be written.

    Raises :class:`UserError` for an output that exists (unless ``overwrite``) or is a folder,
    and the mapped ``OSError`` for a folder that cannot be made or written. ``hint`` says how to
    get past an existing output. Returns the paths checked.
    """
    outs = [Path(p) for p in paths if p is not None]
    for out in outs:
        if out.is_dir():
            raise UserError(f"{out}: is a folder, not a file; give a file path")
    existing = [out for out in outs if out.exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more output(s))" if len(existing) > 1 else ""
        raise UserError(f"{existing[0]}: already exists{more}; {hint}")
    for folder in dict.fromkeys(out.parent for out in outs):
        ensure_writable_dir(folder)
    return outs


def ensure_writable_dir(folder: str | os.PathLike[str]) -> Path:
    """Prove that ``folder`` can be written (or made), without making it: a failed run leaves no
    empty folders behind. The nearest existing ancestor must be a folder, and a file must be
    creatable there (the writers make the rest of the path when they write).

    Raises ``OSError`` naming the folder at fault (the ``cli`` wrapper makes it one line):
    permission denied, read-only file system, a file where a folder is expected, no space left.
    """
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(existing))
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=existing)
    except OSError as err:  # name the folder, not the probe file
        raise OSError(err.errno or errno.EACCES, err.strerror, str(existing)) from None
    os.close(fd)
    os.unlink(probe)
    return folder
