"""The moves appearance makes on a real clip, judged by eye and counted.

    python -m benchmarks.real_clip_judged            # after benchmarks.real_clip

``benchmarks.real_clip`` can say that an id moved to another motion-only track, not whether it
moved to the right person. A person judges that from ``benchmarks.real_clip_review``'s sheets
and writes the verdicts into ``benchmarks/real_clip_verdicts.json``, keyed by run ("<preset>
now" or "<preset> before") and move ("id<id> f<first>-f<second>"). This script finds every
run's moves again (the same replay as the review, so the same moves while the tracker and the
checkpoint stay the same), attaches the verdicts, counts them, and lists each move that has
none as not judged: a change to the tracker that makes new moves shows up, unjudged, instead of
inheriting old verdicts.

Writes ``benchmarks/results/real_clip_judged.json``; ``python -m benchmarks.render_docs`` puts
its table into docs/robustness.md.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.real_clip import FAR_MOVE, video_record
from benchmarks.tracker_common import RESULTS_DIR, machine_info
from cgclip.errors import ArgumentParser, UserError, cli
from cgclip.io.atomic import atomic_write_json

VERDICTS = ("right", "probably-right", "wrong", "probably-wrong", "bad-box", "unclear")
VERDICTS_FILE = Path(__file__).with_name("real_clip_verdicts.json")


def move_key(move: dict[str, Any]) -> str:
    first, second = move["frames"]
    return f"id{move['id']} f{first}-f{second}"


def parse_run(name: str) -> tuple[str, bool]:
    """``"street now"`` -> ``("street", False)``; ``"default before"`` -> ``("default", True)``."""
    preset, _, guards = name.rpartition(" ")
    if not preset or guards not in ("now", "before"):
        raise UserError(f"run {name!r}: expected '<preset> now' or '<preset> before'")
    return preset, guards == "before"


def judge(moves: list[dict[str, Any]], verdicts: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Attach each move's verdict; count them, far moves apart. Verdicts for moves the run no
    longer makes are listed as ``stale``."""
    for key, v in verdicts.items():
        if v.get("verdict") not in VERDICTS:
            raise UserError(f"move {key}: verdict {v.get('verdict')!r} is not one of {VERDICTS}")
    judged = []
    for m in moves:
        v = verdicts.get(move_key(m), {})
        judged.append({**m, "verdict": v.get("verdict", "not judged"), "why": v.get("why", "")})
    far = [m for m in judged if m["jump_heights"] >= FAR_MOVE]
    keys = {move_key(m) for m in moves}
    return {
        "moves": judged,
        "counts": dict(Counter(m["verdict"] for m in judged)),
        "far_counts": dict(Counter(m["verdict"] for m in far)),
        "stale": sorted(k for k in verdicts if k not in keys),
    }


@cli
def main(argv: list[str] | None = None) -> int:
    from benchmarks.real_clip_review import find_moves

    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, default=Path("data/clips/opencv-vtest.avi"))
    p.add_argument("--verdicts", type=Path, default=VERDICTS_FILE)
    p.add_argument(
        "--real-clip",
        type=Path,
        default=RESULTS_DIR / "real_clip.json",
        help="the real_clip result whose synthetic checkpoint made the moves",
    )
    p.add_argument("--cache", type=Path, default=Path("data/real"), help="as for real_clip")
    p.add_argument("--features", type=Path, default=Path("data/feature-cache"))
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "real_clip_judged.json")
    args = p.parse_args(argv)
    for path, todo in (
        (args.video, "bash benchmarks/fetch_vtest.sh puts it there"),
        (args.verdicts, "give --verdicts"),
        (args.real_clip, "run python -m benchmarks.real_clip first"),
    ):
        if not path.is_file():
            raise UserError(f"{path}: no such file; {todo}")
    book = json.loads(args.verdicts.read_text())
    video = video_record(args.video)
    if video["sha256"] != book["video_sha256"]:
        raise UserError(f"{args.video}: not the clip the verdicts were given on (sha256 differs)")
    checkpoint = Path(json.loads(args.real_clip.read_text())["checkpoints"]["synthetic"])
    t0 = time.perf_counter()
    runs = {}
    for name, verdicts in book["runs"].items():
        preset, before = parse_run(name)
        found = find_moves(
            args.video, checkpoint, preset, before=before, cache=args.cache, features=args.features
        )
        runs[name] = judge(found, verdicts)
    result = {
        "machine": machine_info(),
        "video": video,
        "checkpoint": str(checkpoint),
        "verdicts": str(args.verdicts),
        "about": book.get("about", ""),
        "far_move": FAR_MOVE,
        "runs": runs,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    atomic_write_json(args.out, result)
    print(render(result))
    print(f"wrote {args.out}")
    return 0


def render(result: dict[str, Any]) -> str:
    """Markdown: per run, its moves by verdict (far moves in brackets)."""
    from benchmarks.render_docs import md_table

    header = ["run", "moves (far)", *VERDICTS, "not judged", "stale verdicts"]
    rows = []
    for name, r in result["runs"].items():
        far = r["far_counts"]

        def cell(v: str, r: dict[str, Any] = r, far: dict[str, int] = far) -> str:
            return f"{r['counts'].get(v, 0)} ({far.get(v, 0)})"

        n_far = sum(far.values())
        rows.append(
            [name, f"{len(r['moves'])} ({n_far})", *map(cell, (*VERDICTS, "not judged")),
             len(r["stale"])]
        )  # fmt: skip
    v = result["video"]
    where = (
        f"Clip `{v['name']}` (sha256 `{v['sha256'][:16]}...`), checkpoint `{result['checkpoint']}`; "
        f"far moves: at least {result['far_move']:g} box heights. Verdicts: "
        f"`{Path(result['verdicts']).name}`."
    )
    return "\n".join([md_table(header, rows), "", where])


if __name__ == "__main__":
    raise SystemExit(main())
