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


@pytest.mark.slow
def test_ctrl_c_stops_a_server_with_a_running_job_promptly(subprocess_env, demo_sample, tmp_path):
    """SIGINT while a tracking job runs: the job is cancelled, its request folder removed, and
    the process exits within a few seconds (the job's worker thread would otherwise keep the
    interpreter alive until the job ended)."""
    import signal
    import socket
    import time

    import cv2
    from gradio_client import Client, handle_file

    from cgclip.io.video import open_video

    long_clip = tmp_path / "long.mp4"  # the sample 4 times over: a job of many seconds with HOG
    with open_video(demo_sample[0]) as reader:
        frames = list(reader)
    writer = cv2.VideoWriter(str(long_clip), cv2.VideoWriter_fourcc(*"mp4v"), 25, (640, 360))
    for _ in range(4):
        for frame in frames:
            writer.write(frame)
    writer.release()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**subprocess_env, "XDG_CACHE_HOME": str(tmp_path / "cache"), "TMPDIR": str(temp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "demo", "--port", str(port), "--threads", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        client = None
        deadline = time.monotonic() + 120
        while client is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            except Exception:  # not serving yet
                time.sleep(0.5)
        assert client is not None, proc.stdout.read()
        client.submit(
            handle_file(str(long_clip)),
            "hog",
            None,
            "none",
            "default",
            api_name="/track",
        )
        deadline = time.monotonic() + 120
        while not list(temp.glob("cgclip-demo-*")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(temp.glob("cgclip-demo-*")), "the job never started"
        time.sleep(2)  # well inside the tracking pass
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"Ctrl-C to exit: {took:.1f} s")
    assert "1 running job(s) cancelled" in out
    assert took < 3, f"Ctrl-C took {took:.1f} s"
    assert not list(temp.glob("cgclip-demo-*"))  # the cancelled job's folder is gone
