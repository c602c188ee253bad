"""What a command line shows of the library's logs.

Library code (``cgclip``, ``tracker``, ``demo``) never prints: it logs to ``logging.getLogger(
__name__)``. A command (every ``main`` wrapped by :func:`cgclip.errors.cli`) calls
:func:`show_logs`, which writes those loggers' records to stderr: INFO as the bare message
(progress such as "resuming run/ after epoch 3"), WARNING and above prefixed with their level
("warning: tensorrt backend unavailable; falling back to ..."). Programs that configure
``logging`` themselves get the records through the usual propagation as well.
"""

from __future__ import annotations

import logging
import sys

PACKAGES = ("cgclip", "tracker", "demo")


class _StderrHandler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is at each record (a redirected or captured stream)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):  # noqa: ANN201 (logging.StreamHandler's attribute)
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # noqa: ANN001 (StreamHandler assigns it; sys.stderr wins)
        pass


class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        return message


def show_logs(level: int = logging.INFO) -> None:
    """Show this project's log records of ``level`` and above on stderr (once per process)."""
    for name in PACKAGES:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
        if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
            handler = _StderrHandler()
            handler.setFormatter(_Format("%(message)s"))
            logger.addHandler(handler)
