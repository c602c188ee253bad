"""User-facing errors and the CLI wrapper that prints them as one line.

Every command-line entry point is ``main(argv=None) -> int`` decorated with :func:`cli`, so a
problem the user can cause prints ``error: <what was wrong and what to do>`` on stderr with no
traceback and exits with status 2, while tests can call ``main([...])`` directly and inspect the
return code. The wrapper maps, besides :class:`UserError`:

- the ``OSError`` family on a named path (permission denied, read-only file system, the path
  exists / is a folder / is a file, no space left) to one line naming the path and what to do;
- Ctrl-C (``KeyboardInterrupt``) to ``interrupted`` and exit 130, and SIGTERM, while ``main``
  runs, to the same unwinding (so every atomic writer removes its temporary file) and exit 143.

Command lines are parsed with :class:`ArgumentParser`, whose errors (an unknown option, a
missing argument, a number out of range from :func:`cgclip.io.config.number_arg`) are a
:class:`UserError` too: one line naming the option, not argparse's usage block.

Anything else is a bug and keeps its traceback. ``CGCLIP_TRACEBACK=1`` shows the traceback of a
mapped error too. Ctrl-C during start-up (``python -m ...`` still importing torch, before
``main`` runs) prints ``interrupted`` as well: importing the ``cgclip`` package installs a
``sys.excepthook`` for ``KeyboardInterrupt`` when the process runs one of our CLIs (``python -m``
a module of ours, or a ``cgclip-*`` command). The hook lives in ``cgclip/__init__.py`` (only
``sys`` and ``os`` needed), which the ``tracker`` and ``demo`` packages import first thing, so it
is in place before any slow import; only a Ctrl-C while Python itself starts (its first ~0.1 s)
is left to Python.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM

log = logging.getLogger(__name__)


class UserError(Exception):
    """A problem with the user's input or environment; reported as one line, never a traceback."""


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are a one-line :class:`UserError` (exit 2)."""

    def error(self, message: str):  # type: ignore[override]
        raise UserError(f"{message} (see {self.prog} --help)")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that cleanup runs exactly as for Ctrl-C."""


# errno -> (what happened, what to do); {path} is the file or folder the OS named.
_OS_ERRORS: dict[int, tuple[str, str]] = {
    errno.EACCES: ("permission denied", "fix its permissions or choose a location you can use"),
    errno.EPERM: ("operation not permitted", "fix its permissions or choose another location"),
    errno.EROFS: ("read-only file system", "choose a location on a writable disk"),
    errno.EEXIST: ("already exists", "remove it or choose another path"),
    errno.EISDIR: ("is a folder, not a file", "give a file path"),
    errno.ENOTDIR: ("a part of this path is a file, not a folder", "choose another path"),
    errno.ENOENT: ("no such file or folder", "check the path"),
    errno.ENOSPC: ("no space left on the disk", "free some space or choose another location"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or choose another location"),
    errno.ENAMETOOLONG: ("file name too long", "choose a shorter path"),
    errno.ELOOP: ("too many symbolic links", "check the path"),
}


def user_message(err: BaseException) -> str | None:
    """The one-line message for an error the user can cause, or None for a bug (keep traceback)."""
    if isinstance(err, UserError):
        return str(err)
    if isinstance(err, OSError) and err.filename is not None and err.errno in _OS_ERRORS:
        what, todo = _OS_ERRORS[err.errno]
        path = os.fsdecode(err.filename)
        if err.errno == errno.EEXIST and Path(path).is_file():
            what = "already exists as a file (a folder was expected)"
        return f"{path}: {what}; {todo}"
    return None


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` (a ``KeyboardInterrupt``) inside the block.

    Only the main thread can own signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        # A second SIGTERM while the first unwinds would cut the temp-file cleanup short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated("terminated")

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cli(fn: Callable[[Sequence[str] | None], int | None]) -> Callable[..., int]:
    """Wrap ``main(argv)``: user errors become one ``error:`` line and exit 2 (see module doc)."""

    @functools.wraps(fn)
    def wrapper(argv: Sequence[str] | None = None) -> int:
        from cgclip.logs import show_logs

        show_logs()  # the library logs; a command shows its warnings on stderr
        try:
            with sigterm_as_interrupt():
                return int(fn(argv) or 0)
        except Terminated:
            print("terminated", file=sys.stderr)
            return EXIT_TERMINATED
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception as err:
            message = user_message(err)
            if message is None or os.environ.get("CGCLIP_TRACEBACK"):
                raise
            print(f"error: {message}", file=sys.stderr)
            return EXIT_USER_ERROR

    return wrapper
