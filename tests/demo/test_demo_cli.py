"""``python -m demo`` option checks: one-line errors before anything is served."""

from __future__ import annotations

import subprocess
import sys

import pytest

from demo.__main__ import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-upload-mb", "0"], "--max-upload-mb and --max-seconds must be positive"),
        (["--max-seconds", "-5"], "--max-upload-mb and --max-seconds must be positive"),
        (["--concurrency", "0"], "--concurrency and --queue-size must be at least 1"),
        (["--port", "70000"], "--port 70000 is not a TCP port"),
        (["--clip-weights", "nowhere.bin"], "--clip-weights nowhere.bin: no such file"),
        (["--checkpoints", "no/such/dir"], "--checkpoints no/such/dir: no such folder"),
    ],
)
def test_bad_options_are_one_line_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1


def test_help_runs_as_a_module(subprocess_env):
    out = subprocess.run(
        [sys.executable, "-m", "demo", "--help"],
        capture_output=True,
        text=True,
        env=subprocess_env,
        timeout=120,
    )
    assert out.returncode == 0
    for option in ("--host", "--port", "--checkpoints", "--max-upload-mb", "--max-seconds"):
        assert option in out.stdout
