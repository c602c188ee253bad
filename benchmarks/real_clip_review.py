"""Pictures to judge by eye what appearance changed on a clip without ground truth.

    python -m benchmarks.real_clip_review --video CLIP --checkpoint CKPT --preset street \\
        --out runs/realclip/review

After ``benchmarks.real_clip`` has cached the clip's detections and the checkpoint's features:
tracks the clip motion only and with the checkpoint (the preset as shipped, or ``--before``),
and lists every *move* (``benchmarks.real_clip.moves``): an id of the appearance run that leaves
one motion-only track for another. A move is right when motion only lost or swapped the person,
and wrong when appearance handed the id to someone else. ``OUT/moves.json`` lists them (frames, centre distance in pixels
and in box heights); ``OUT/moves-<k>.png`` shows each move: the region around both boxes at
the last frame on the old track (left) and the first on the new one (right), the box the id has
in that frame thick, the other thin.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.real_clip import moves
from benchmarks.tracker_common import track_sequence
from benchmarks.tracker_embed_cache import ensure_cache, load_embedder, run_ours_replayed
from benchmarks.tracker_robustness import BEFORE
from cgclip.io.atomic import atomic_write_json
from cgclip.io.mot import read_mot
from cgclip.io.video import open_video
from tracker.config import load_preset

TILE_HEIGHT = 260
PER_SHEET = 4


def tile(frames: dict[int, np.ndarray], move: dict[str, Any], k: int) -> np.ndarray:
    """The region around both boxes at both frames, side by side, with a caption."""
    (f1, f2), (b1, b2) = move["frames"], np.asarray(move["boxes"])
    lo = np.maximum(np.minimum(b1[:2], b2[:2]) - (120, 60), 0).astype(int)
    h_img, w_img = frames[f1].shape[:2]
    hi = np.minimum(np.maximum(b1[:2] + b1[2:], b2[:2] + b2[2:]) + (120, 60), (w_img, h_img))
    hi = hi.astype(int)
    views = []
    for f, own in ((f1, b1), (f2, b2)):
        im = frames[f].copy()
        for b, colour in ((b1, (255, 0, 0)), (b2, (0, 0, 255))):
            x, y, w, h = b.astype(int)
            cv2.rectangle(im, (x, y), (x + w, y + h), colour, 3 if b is own else 1)
        crop = im[lo[1] : hi[1], lo[0] : hi[0]]
        scale = TILE_HEIGHT / crop.shape[0]
        views.append(cv2.resize(crop, (max(int(crop.shape[1] * scale), 1), TILE_HEIGHT)))
    width = max(v.shape[1] for v in views)
    out = np.full((TILE_HEIGHT + 20, 2 * width + 10, 3), 255, np.uint8)
    out[20:, : views[0].shape[1]] = views[0]
    out[20:, width + 10 : width + 10 + views[1].shape[1]] = views[1]
    caption = (
        f"{k}: id {move['id']} track {move['from_track']} f{f1} -> track {move['to_track']} "
        f"f{f2}, {move['jump_px']:.0f} px"
    )
    cv2.putText(out, caption, (2, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
    return out


def write_sheets(video: Path, found: list[dict[str, Any]], out: Path) -> list[Path]:
    need = {f for m in found for f in m["frames"]}
    frames = {}
    with open_video(video) as reader:
        for fid, frame in enumerate(reader, 1):
            if fid in need:
                frames[fid] = frame
            if fid >= max(need, default=0):
                break
    tiles = [tile(frames, m, k) for k, m in enumerate(found)]
    paths = []
    for s in range(0, len(tiles), PER_SHEET):
        chunk = tiles[s : s + PER_SHEET]
        width = max(t.shape[1] for t in chunk)
        sheet = np.vstack([np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0))) for t in chunk])
        paths.append(out / f"moves-{s // PER_SHEET}.png")
        cv2.imwrite(str(paths[-1]), sheet)
    return paths


def find_moves(
    video: Path,
    checkpoint: Path,
    preset_name: str,
    *,
    before: bool = False,
    cache: Path = Path("data/real"),
    features: Path = Path("data/feature-cache"),
) -> list[dict[str, Any]]:
    """Every move of the clip's appearance run (``preset_name`` as shipped, or with the guards off
    when ``before``) against motion only of the same preset, replaying ``benchmarks.real_clip``'s
    cached detections (``cache/<video stem>``) and the checkpoint's features."""
    seq_dir = cache / video.stem
    preset = load_preset(preset_name)
    config = preset.replace(**BEFORE) if before else preset
    embedded = ensure_cache(
        seq_dir.parent, checkpoint, features, seqs=[seq_dir.name], videos={seq_dir.name: video}
    )
    with tempfile.TemporaryDirectory() as tmp:
        run_ours_replayed(
            seq_dir.parent, [seq_dir.name], lambda _s: config, embedded,
            load_embedder(checkpoint), Path(tmp),
        )  # fmt: skip
        run = read_mot(Path(tmp) / f"{seq_dir.name}.txt", kind="results")
    return moves(track_sequence(seq_dir, preset), run)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, required=True)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--cache", type=Path, default=Path("data/real"), help="as for real_clip")
    p.add_argument("--features", type=Path, default=Path("data/feature-cache"))
    p.add_argument("--preset", default="street")
    p.add_argument("--before", action="store_true", help="the guards off (real_clip's before)")
    p.add_argument(
        "--min-heights", type=float, default=0.0, help="only moves at least this far (box heights)"
    )
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    found = [
        m
        for m in find_moves(
            args.video, args.checkpoint, args.preset, before=args.before,
            cache=args.cache, features=args.features,
        )
        if m["jump_heights"] >= args.min_heights
    ]  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    sheets = write_sheets(args.video, found, args.out)
    atomic_write_json(
        args.out / "moves.json",
        {
            "video": str(args.video),
            "checkpoint": str(args.checkpoint),
            "preset": args.preset,
            "guards": "before" if args.before else "now",
            "moves": found,
        },
    )
    print(f"{len(found)} moves; {len(sheets)} sheets in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
