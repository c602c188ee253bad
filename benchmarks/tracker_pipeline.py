"""Per-stage timing of the whole ``tracker.run`` pipeline on the synthetic sample clip.

    python -m benchmarks.tracker_pipeline     # writes benchmarks/results/tracker_pipeline.json

Stages: decode, detect, embed, associate, draw, write (see ``tracker.run.STAGES``). Three
detector set-ups: replayed public detections (the whole clip, with the annotated video), the
numpy HOG detector, and YOLO11n's architecture built from ``yolo11n.yaml`` (random weights: the
detect time is YOLO11n's, but its random boxes make the association numbers meaningless, so only
its detect row is reported). ``embed`` is 0 until the CG-CLIP embedder lands (``--reid none``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.tracker_common import RESULTS_DIR, machine_info
from cgclip.io.atomic import atomic_write_json
from tracker.config import load_preset
from tracker.detectors import HogDetector, ReplayDetector, YoloDetector
from tracker.run import STAGES, track_video


def _row(summary, note: str) -> dict[str, Any]:
    n = max(summary.frames, 1)
    total = sum(summary.seconds.values())
    return {
        "frames": summary.frames,
        "ms_per_frame": {k: 1000 * summary.seconds[k] / n for k in STAGES},
        "total_ms_per_frame": 1000 * total / n,
        "fps": summary.frames / total if total else None,
        "note": note,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=250, help="length of the sample clip")
    p.add_argument("--hog-frames", type=int, default=25)
    p.add_argument("--yolo-frames", type=int, default=32)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "tracker_pipeline.json")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(max(torch.get_num_threads(), 1))
    from cgclip.data.synthetic import generate_sample

    result: dict[str, Any] = {
        "machine": machine_info(),
        "torch_threads": torch.get_num_threads(),
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        clip = generate_sample(Path(tmp) / "sample", frames=args.frames, progress=False)
        video, cfg = clip / "sample.mp4", load_preset("dance")
        runs = {
            "replay": (
                ReplayDetector(clip / "det.txt"),
                None,
                "public detections, annotated MP4 + MOT + JSON",
            ),
            "hog": (HogDetector(), args.hog_frames, "numpy HOG, MOT + JSON"),
            "yolo11n-arch": (
                YoloDetector(str(Path("yolo11n.yaml")), conf=0.25, batch_size=8, imgsz=640),
                args.yolo_frames,
                "yolo11n architecture, random weights, imgsz 640, batch 8; detect row only",
            ),
        }
        for name, (detector, max_frames, note) in runs.items():
            out = Path(tmp) / name
            summary = track_video(
                video,
                detector=detector,
                config=cfg,
                out_mot=out / "r.txt",
                out_json=out / "r.json",
                out_video=out / "r.mp4" if name == "replay" else None,
                max_frames=max_frames,
                progress=False,
            )
            result["runs"][name] = _row(summary, note)
            print(f"\n{name}: {note}\n{summary.stage_table()}")
    atomic_write_json(args.out, result)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
