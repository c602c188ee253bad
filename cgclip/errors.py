"""User-facing errors and the CLI wrapper that prints them as one line.

Every command-line entry point is ``main(argv=None) -> int`` decorated with :func:`cli`, so a
problem with the user's input (a missing file, a malformed det.txt, a bad config key) prints
``error: <what was wrong and what to do>`` on stderr with no traceback and exits with status 2,
while tests can call ``main([...])`` directly and inspect the return code.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A problem with the user's input or environment; reported as one line, never a traceback."""


def cli(fn: Callable[[Sequence[str] | None], int | None]) -> Callable[..., int]:
    """Wrap ``main(argv)`` so :class:`UserError` becomes a one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(argv: Sequence[str] | None = None) -> int:
        try:
            return int(fn(argv) or 0)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USER_ERROR
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED

    return wrapper
