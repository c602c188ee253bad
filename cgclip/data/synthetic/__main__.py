"""CLI: ``python -m cgclip.data.synthetic {generate,sample} --out DIR``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace

from cgclip.data.synthetic.generate import KINDS, PRESETS, generate_dataset, generate_sample
from cgclip.data.synthetic.profiles import PROFILE_NAMES
from cgclip.errors import UserError, cli


def _walkers(text: str) -> tuple[int, int]:
    try:
        parts = [int(v) for v in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2):
        raise UserError(f"--walkers takes N or MIN,MAX (people in view), got {text!r}")
    return (parts[0], parts[-1])


def _timing(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--fps", type=float, default=None, help="frame rate (10, 15, 25, 30, 60)")
    sp.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="duration; overrides --frames (frames = s * fps)",
    )
    sp.add_argument(
        "--detector-profile",
        choices=PROFILE_NAMES,
        default=None,
        help="det.txt noise: synthetic (default), dpm, frcnn, sdp (see docs/synthetic.md)",
    )


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
    g.add_argument("--kinds", default=None, help=f"comma list of scene kinds ({','.join(KINDS)})")
    g.add_argument("--no-video", action="store_true", help="skip the per-sequence MP4")
    g.add_argument(
        "--no-images",
        action="store_true",
        help="annotations only: gt, det, seqinfo, seqmaps, identities, id_map (no JPEG, no MP4)",
    )
    g.add_argument(
        "--walkers", type=_walkers, default=None, help="street people in view: N or MIN,MAX"
    )
    _timing(g)
    g.add_argument("--force", action="store_true", help="regenerate even if up to date")
    s = sub.add_parser(
        "sample", help="one short clip with det.txt and gt.txt (for make run / the demo)"
    )
    s.add_argument("--out", required=True)
    s.add_argument("--kind", choices=KINDS, default="dance")
    s.add_argument("--frames", type=int, default=250)
    _timing(s)
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
        if args.no_images:
            overrides["render"] = False
        if args.walkers is not None:
            overrides["walkers"] = args.walkers
        for name in ("fps", "seconds", "detector_profile"):
            if getattr(args, name) is not None:
                overrides[name] = getattr(args, name)
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
            fps=25.0 if args.fps is None else args.fps,
            seconds=args.seconds,
            detector_profile=args.detector_profile or "synthetic",
        )
        print(f"wrote sample clip to {out / 'sample.mp4'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
