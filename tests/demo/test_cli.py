"""``python -m demo`` option checks: one-line errors before anything is served."""

from __future__ import annotations

import subprocess
import sys

import pytest

from demo.__main__ import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-upload-mb", "0"], "argument --max-upload-mb: must be a finite number in (0, inf)"),
        (["--max-upload-mb", "nan"], "argument --max-upload-mb: must be a finite number"),
        (["--max-upload-mb", "inf"], "argument --max-upload-mb: must be a finite number"),
        (["--max-seconds", "-5"], "argument --max-seconds: must be a finite number in (0, inf)"),
        (["--max-seconds", "nan"], "argument --max-seconds: must be a finite number"),
        (["--concurrency", "0"], "argument --concurrency: must be a whole number in [1, inf)"),
        (["--queue-size", "1.5"], "argument --queue-size: must be a whole number"),
        (["--port", "70000"], "argument --port: must be a whole number in [1, 65535], got '70000'"),
        (["--port", "http"], "argument --port: must be a whole number"),
        (["--sample-frames", "3"], "argument --sample-frames: must be a whole number in [10, inf)"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
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


@pytest.mark.slow
def test_module_serves_the_page(subprocess_env, tmp_path):
    """``python -m demo`` really starts a server on the given port (then we stop it)."""
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**subprocess_env, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "demo", "--port", str(port), "--max-seconds", "30"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline, page = time.monotonic() + 120, ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    page = resp.read().decode("utf-8", "replace")
                break
            except OSError:
                time.sleep(0.5)
        assert proc.poll() is None, proc.stdout.read()
        assert "cgclip-track demo" in page  # the page title
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_port_in_use_is_one_line_naming_port(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --port {port}: already in use")


def test_a_port_taken_while_the_app_was_built_is_one_line(monkeypatch, capsys):
    import demo.__main__ as cli_module
    import demo.app

    def taken(*args, **kwargs):  # what gradio raises when its port went in the meantime
        raise OSError("Cannot find empty port in range: 7860-7860. You can specify ...")

    monkeypatch.setattr(cli_module, "check_address", lambda host, port: None)
    monkeypatch.setattr(demo.app, "build_app", lambda settings: object())
    monkeypatch.setattr(demo.app, "launch", taken)
    assert main(["--port", "7860"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --port 7860: already in use")


def test_a_host_that_is_not_this_machine_is_one_line(capsys):
    assert main(["--host", "203.0.113.7", "--port", "7860"]) == 2  # TEST-NET-3, never local
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --host 203.0.113.7: not an address")
