"""The ``cli`` mechanism: user errors are one line, bugs keep their traceback, signals unwind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cgclip.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USER_ERROR, UserError, cli
from cgclip.io.atomic import atomic_path


def _run(exc: BaseException):
    @cli
    def main(argv=None):
        raise exc

    return main


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_user_error_is_one_line(capsys) -> None:
    assert _run(UserError("bad thing; do this"))([]) == EXIT_USER_ERROR
    assert _one_error_line(capsys) == "error: bad thing; do this"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_unwritable_folder_is_one_line_naming_the_path(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)

    @cli
    def main(argv=None):
        (folder / "out.txt").write_text("x")

    try:
        assert main([]) == EXIT_USER_ERROR
    finally:
        folder.chmod(0o700)
    line = _one_error_line(capsys)
    assert str(folder / "out.txt") in line and "permission denied" in line


@pytest.mark.parametrize(
    ("errno_name", "expect"),
    [
        ("EROFS", "read-only file system"),
        ("EISDIR", "is a folder"),
        ("ENOSPC", "no space left"),
        ("ENOTDIR", "not a folder"),
    ],
)
def test_os_errors_on_a_path_are_one_line(errno_name: str, expect: str, capsys) -> None:
    import errno

    err = OSError(getattr(errno, errno_name), os.strerror(getattr(errno, errno_name)), "/x/out")
    assert _run(err)([]) == EXIT_USER_ERROR
    line = _one_error_line(capsys)
    assert "/x/out" in line and expect in line


def test_existing_file_where_a_folder_is_needed(tmp_path: Path, capsys) -> None:
    target = tmp_path / "results"
    target.write_text("not a folder")

    @cli
    def main(argv=None):
        target.mkdir(parents=True, exist_ok=True)

    assert main([]) == EXIT_USER_ERROR
    line = _one_error_line(capsys)
    assert str(target) in line and "as a file" in line


def test_bugs_keep_their_traceback() -> None:
    with pytest.raises(ZeroDivisionError):
        _run(ZeroDivisionError("bug"))([])
    with pytest.raises(ValueError):
        _run(ValueError("bug"))([])
    with pytest.raises(OSError):  # no path: not something the user named
        _run(OSError(5, "I/O error"))([])


def test_traceback_env_shows_mapped_errors(monkeypatch) -> None:
    monkeypatch.setenv("CGCLIP_TRACEBACK", "1")
    with pytest.raises(UserError):
        _run(UserError("x"))([])


def test_ctrl_c_is_one_line(capsys) -> None:
    assert _run(KeyboardInterrupt())([]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err.strip() == "interrupted"


def test_sigterm_unwinds_like_ctrl_c_and_removes_temp_files(tmp_path: Path, capsys) -> None:
    dest = tmp_path / "out.txt"

    @cli
    def main(argv=None):
        with atomic_path(dest) as tmp:
            tmp.write_text("half")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)  # the handler raises here, at once
            raise AssertionError("SIGTERM did not interrupt")  # pragma: no cover

    before = signal.getsignal(signal.SIGTERM)
    assert main([]) == EXIT_TERMINATED
    assert capsys.readouterr().err.strip() == "terminated"
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temp file
    assert signal.getsignal(signal.SIGTERM) == before  # handler restored


def test_ctrl_c_during_start_up_has_no_traceback(tmp_path: Path, subprocess_env) -> None:
    # `python -m` imports the CLI's package (and with it cgclip.errors) before the slow imports;
    # a Ctrl-C there arrives as a KeyboardInterrupt raised at module level, before main() runs.
    pkg = tmp_path / "slowcli"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import cgclip.errors\n")
    (pkg / "run.py").write_text("raise KeyboardInterrupt  # Ctrl-C while importing torch\n")
    env = {**subprocess_env, "PYTHONPATH": f"{tmp_path}{os.pathsep}{subprocess_env['PYTHONPATH']}"}
    proc = subprocess.run(
        [sys.executable, "-m", "slowcli.run"], capture_output=True, text=True, env=env, timeout=60
    )
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "interrupted"
    assert proc.returncode != 0


def test_library_import_leaves_excepthook_alone(subprocess_env) -> None:
    code = "import sys, cgclip.errors; print(sys.excepthook is sys.__excepthook__)"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env, timeout=60
    )
    assert proc.stdout.strip() == "True"


def test_argument_errors_are_one_line_naming_the_option(capsys) -> None:
    from cgclip.errors import ArgumentParser
    from cgclip.io.config import number_arg

    @cli
    def main(argv=None):
        p = ArgumentParser(prog="python -m tool")
        p.add_argument("--rate", type=number_arg("(0, 1]"))
        p.add_argument("--count", type=number_arg("[1, inf)", int))
        p.add_argument("name")
        p.parse_args(argv)

    cases = {
        ("x", "--rate", "nan"): "argument --rate: must be a finite number in (0, 1], got 'nan'",
        ("x", "--rate", "inf"): "argument --rate: must be a finite number in (0, 1], got 'inf'",
        ("x", "--rate", "0"): "argument --rate: must be a finite number in (0, 1], got '0'",
        ("x", "--count", "-5"): "argument --count: must be a whole number in [1, inf), got '-5'",
        ("x", "--count", "2.5"): "argument --count: must be a whole number in [1, inf)",
        ("--count", "3"): "the following arguments are required: name",
        ("x", "--colour", "red"): "unrecognized arguments: --colour red",
    }
    for argv, expect in cases.items():
        assert main(list(argv)) == EXIT_USER_ERROR, argv
        line = _one_error_line(capsys)
        assert expect in line and "python -m tool --help" in line, (argv, line)
    assert main(["x", "--rate", "1", "--count", "7"]) == 0


def test_startup_hook_is_in_place_while_a_cli_module_itself_imports(subprocess_env) -> None:
    # `python -m cgclip.export`: runpy sets sys.argv[0] to the module's file before running it,
    # so the module's own (slow) imports are covered too; any other program is left alone.
    from tests.support import REPO_ROOT

    code = "import sys; sys.argv[0] = {!r}; import cgclip; print(sys.excepthook is not sys.__excepthook__)"
    for argv0, hooked in [
        (str(REPO_ROOT / "cgclip" / "export.py"), "True"),
        ("/usr/bin/x", "False"),
    ]:
        proc = subprocess.run(
            [sys.executable, "-c", code.format(argv0)],
            capture_output=True,
            text=True,
            env=subprocess_env,
            timeout=60,
        )
        assert proc.stdout.strip() == hooked, (argv0, proc.stderr)
