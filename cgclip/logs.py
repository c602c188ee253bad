"""What a command line shows of the library's logs.

Library code (``cgclip``, ``tracker``, ``demo``) never prints: it logs to ``logging.getLogger(
__name__)``. Every command (each ``main`` wrapped by :func:`cgclip.errors.cli`) shows those loggers'
warnings on stderr, prefixed with their level ("warning: tensorrt backend unavailable; falling
back to ..."); a command whose progress is worth reading (training, evaluation) calls
:func:`show_logs` with ``logging.INFO`` to show INFO records too, as the bare message
("resuming run/ after epoch 3"). Programs that configure ``logging`` themselves get the records
through the usual propagation as well.
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


def show_logs(level: int = logging.WARNING) -> None:
    """Show this project's log records of ``level`` and above on stderr (one handler per
    package logger, whatever the number of calls; each call sets its level)."""
    for name in PACKAGES:
        logger = logging.getLogger(name)
        handler = next((h for h in logger.handlers if isinstance(h, _StderrHandler)), None)
        if handler is None:
            handler = _StderrHandler()
            handler.setFormatter(_Format("%(message)s"))
            logger.addHandler(handler)
        handler.setLevel(level)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
