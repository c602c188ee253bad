"""By-eye check of HOG's upscale on a real clip: people marked by hand in a few frames
(``benchmarks/real_clip_marks.json``, per clip sha256) against the boxes HOG finds at upscale
1, 1.5 and 2. ``benchmarks.real_clip`` runs it for a clip with marks and renders its table."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from cgclip.io.video import open_video
from tracker.detectors import HogDetector

# Per clip: the person heights a found box may have, and per frame the centres (x, y) of the
# people visible in it. A person is found when a box of those heights has its centre within 0.3
# box heights of the mark.
EYE_MARKS_FILE = Path(__file__).with_name("real_clip_marks.json")


def upscale_choice(video: Path, conf: float, sha256: str) -> dict[str, Any] | None:
    """People found in the marked frames at upscale 1, 1.5 and 2 (confidence floors ``conf`` and
    0.5), against the clip's marks in :data:`EYE_MARKS_FILE`; ``None`` for a clip without marks."""
    marks = json.loads(EYE_MARKS_FILE.read_text())["clips"].get(sha256)
    if marks is None:
        return None
    marks["frames"] = {int(f): people for f, people in marks["frames"].items()}
    frames: dict[int, np.ndarray] = {}
    with open_video(video) as reader:
        for fid, frame in enumerate(reader, 1):
            if fid in marks["frames"]:
                frames[fid] = frame
            if fid >= max(marks["frames"]):
                break
    low, high = marks["heights"]
    out: dict[str, Any] = {
        "frames": sorted(frames),
        "marked_people": sum(len(marks["frames"][f]) for f in frames),
        "upscales": {},
    }
    for up in (1.0, 1.5, 2.0):
        t0 = time.perf_counter()
        detector = HogDetector(conf=conf, upscale=up)
        found_boxes = {fid: detector.detect([f], [fid])[0] for fid, f in frames.items()}
        row: dict[str, Any] = {
            "seconds_per_frame": round((time.perf_counter() - t0) / len(frames), 2)
        }
        for floor in (conf, 0.5):
            counts = {"boxes": 0, "found": 0, "boxes_on_nobody": 0}
            for fid, det in found_boxes.items():
                people = np.asarray(marks["frames"][fid], float)
                boxes = det.xyxy[det.confidence >= floor]
                h = boxes[:, 3] - boxes[:, 1]
                centre = (boxes[:, :2] + boxes[:, 2:]) / 2
                near = np.linalg.norm(people[:, None] - centre[None], axis=2) / h[None] < 0.3
                found = (near & ((h >= low) & (h <= high))[None]).any(1)
                counts["boxes"] += len(boxes)
                counts["found"] += int(found.sum())
                counts["boxes_on_nobody"] += int((~near.any(0)).sum())
            row[f"conf>={floor:g}"] = counts
        out["upscales"][f"{up:g}"] = row
    return out


def render_choice(choice: dict[str, Any]) -> str:
    """Markdown: people found in the marked frames, per upscale and confidence floor."""
    from benchmarks.render_docs import md_table

    rows = []
    for up, r in choice["upscales"].items():
        floors = [k for k in r if k.startswith("conf>=")]
        rows.append(
            [up, f"{r['seconds_per_frame']:.2f}"]
            + [f"{r[k]['found']} ({r[k]['boxes']} boxes)" for k in floors]
        )
    floors = [k for k in next(iter(choice["upscales"].values())) if k.startswith("conf>=")]
    header = ["HOG upscale", "s per frame"] + [
        f"people found, {k.replace('conf>=', 'confidence >= ')}" for k in floors
    ]
    frames = choice.get("frames", [1])
    where = "Frame 1" if frames == [1] else "Frames " + ", ".join(map(str, frames))
    return f"{where}, {choice['marked_people']} people marked by hand:\n\n" + md_table(header, rows)
