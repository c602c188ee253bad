"""``cgclip-track``: the console command hands each subcommand to its module's ``main``."""

from __future__ import annotations

import pytest

from tracker.cli import COMMANDS, main


def test_subcommands_reach_their_modules(tmp_path, capsys):
    assert set(COMMANDS) == {"track", "batch", "eval"}
    assert main(["track", str(tmp_path / "nope.mp4")]) == 2  # tracker.run's own check
    assert (
        capsys.readouterr().err.strip()
        == f"error: {tmp_path / 'nope.mp4'}: no such video file or image folder"
    )
    with pytest.raises(SystemExit) as done:
        main(["eval", "--help"])
    assert done.value.code == 0 and "--results" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"), [([], "required: COMMAND"), (["bogus"], "invalid choice")]
)
def test_bad_subcommands_are_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0]
