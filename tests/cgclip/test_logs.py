"""Library code logs; a command (``cgclip.errors.cli``) shows those records on stderr."""

from __future__ import annotations

import ast
import logging

from cgclip.errors import cli
from cgclip.logs import show_logs
from tests.support import REPO_ROOT

LIBRARY = ["cgclip/runtime/__init__.py", "cgclip/train/data.py", "cgclip/train/trainer.py"]


def _logging_command(level: int | None):
    @cli
    def main(argv):
        if level is not None:  # a command that wants its progress shown
            show_logs(level)
        logging.getLogger("cgclip.train.trainer").info("resuming run after epoch 3")
        logging.getLogger("tracker.x").warning("falling back to eager")
        logging.getLogger("tracker.x").debug("not shown")
        return 0

    return main


def test_commands_show_library_warnings_and_info_when_asked(capsys):
    assert _logging_command(logging.INFO)([]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "resuming run after epoch 3",
        "warning: falling back to eager",
    ]
    assert _logging_command(None)([]) == 0  # by default: warnings only, one handler
    assert capsys.readouterr().err.splitlines() == ["warning: falling back to eager"]


def test_library_modules_do_not_print():
    for rel in [*LIBRARY, "cgclip/evaluate.py"]:
        tree = ast.parse((REPO_ROOT / rel).read_text())
        mains = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
        in_main = {id(n) for m in mains for n in ast.walk(m)}
        prints = [
            n.lineno
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and getattr(n.func, "id", None) == "print"
            and id(n) not in in_main
        ]
        assert prints == [], f"{rel} prints at lines {prints}; log instead"
