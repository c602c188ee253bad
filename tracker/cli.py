"""``cgclip-track``: the tracker's console command, one subcommand per tracker CLI.

    cgclip-track track clip.mp4 --preset sports        # same as python -m tracker.run clip.mp4 ...
    cgclip-track eval --gt data/MOT17/train --results runs/mot   # same as python -m tracker.eval

Each subcommand hands the rest of the command line to that module's ``main``, so options, help
and error messages stay defined in one place.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from cgclip.errors import ArgumentParser, cli

# subcommand -> (module with main(argv), one-line help)
COMMANDS = {
    "track": ("tracker.run", "detect and track a video: annotated MP4, MOT txt and JSON"),
    "batch": ("tracker.batch", "track many videos, locally or on Ray; resumable (docs/batch.md)"),
    "eval": ("tracker.eval", "score MOTChallenge results (HOTA, MOTA, IDF1) with TrackEval"),
}


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="cgclip-track",
        description="Real-time multi-person tracking with CG-CLIP re-identification.",
        epilog="'cgclip-track COMMAND --help' lists the options of a command.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        # add_help=False: --help belongs to the subcommand's own parser, reached below.
        sub.add_parser(name, help=help_text, add_help=False)
    return p


@cli
def main(argv: Sequence[str] | None = None) -> int:
    args, rest = build_parser().parse_known_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    return module.main(rest)


if __name__ == "__main__":
    raise SystemExit(main())
