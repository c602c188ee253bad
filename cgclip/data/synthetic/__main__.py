"""CLI: ``python -m cgclip.data.synthetic {generate,sample} --out DIR``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace

from cgclip.data.synthetic.generate import PRESETS, generate_dataset, generate_sample
from cgclip.errors import cli


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cgclip.data.synthetic", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser(
        "generate", help="MOTChallenge-layout train/val sequences of both scene kinds"
    )
    g.add_argument("--out", required=True, help="dataset root to write")
    g.add_argument("--preset", choices=sorted(PRESETS), default="test")
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--frames", type=int, default=None, help="override frames per sequence")
    g.add_argument("--kinds", default=None, help="comma list of scene kinds (dance,sports)")
    g.add_argument("--no-video", action="store_true", help="skip the per-sequence MP4")
    g.add_argument("--force", action="store_true", help="regenerate even if up to date")
    s = sub.add_parser(
        "sample", help="one short clip with det.txt and gt.txt (for make run / the demo)"
    )
    s.add_argument("--out", required=True)
    s.add_argument("--kind", choices=["dance", "sports"], default="dance")
    s.add_argument("--frames", type=int, default=250)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--force", action="store_true")
    for sp in (g, s):
        sp.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@cli
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "generate":
        cfg = PRESETS[args.preset]
        overrides = {}
        if args.seed is not None:
            overrides["seed"] = args.seed
        if args.frames is not None:
            overrides["frames"] = args.frames
        if args.kinds:
            overrides["kinds"] = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
        if args.no_video:
            overrides["write_video"] = False
        cfg = replace(cfg, **overrides)
        root = generate_dataset(args.out, cfg, progress=not args.quiet, force=args.force)
        print(f"wrote synthetic dataset to {root}")
    else:
        out = generate_sample(
            args.out,
            kind=args.kind,
            frames=args.frames,
            seed=args.seed,
            progress=not args.quiet,
            force=args.force,
        )
        print(f"wrote sample clip to {out / 'sample.mp4'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
