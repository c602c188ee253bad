"""Per-stage timing of the whole ``tracker.run`` pipeline on the synthetic sample clip.

    python -m benchmarks.tracker_pipeline     # writes benchmarks/results/tracker_pipeline.json

Stages: decode, detect, embed, associate, draw, write (see ``tracker.run.STAGES``). Set-ups:

- replayed public detections (the whole clip, with the annotated video), motion only;
- the same with the CG-CLIP embedder: the ``cpu-small`` variant that
  ``configs/train/synthetic.yaml`` trains (``--checkpoint``, or the same architecture with random
  weights: the cost does not depend on the weights), and, on a few frames, the paper's
  ViT-B/16 architecture as ``--reid clip`` builds it (random weights, no download);
- the numpy HOG detector, and YOLO11n's architecture built from ``yolo11n.yaml`` (random weights:
  the detect time is YOLO11n's, but its random boxes make the association numbers meaningless,
  so only its detect row is reported).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import cpu_seconds, load_average, pin_threads
from benchmarks.tracker_common import RESULTS_DIR, machine_info
from cgclip.io.atomic import atomic_write_json
from cgclip.runtime.load import CLIP_ARCH, CLIP_OVERRIDES
from tracker.config import load_preset
from tracker.detectors import HogDetector, ReplayDetector, YoloDetector
from tracker.embedding import CgclipEmbedder
from tracker.run import STAGES, track_video

TRAIN_PRESET = Path(__file__).resolve().parents[1] / "configs" / "train" / "synthetic.yaml"


def synthetic_preset_model(checkpoint: Path | None):
    """The model ``configs/train/synthetic.yaml`` trains: loaded from ``checkpoint``, or built
    with random weights from the preset's model section."""
    import yaml

    import cgclip

    if checkpoint is not None:
        return cgclip.load_model(checkpoint)
    section = yaml.safe_load(TRAIN_PRESET.read_text())["model"]
    return cgclip.create_model(section["name"], **(section.get("overrides") or {}))


def _row(summary, note: str, cpu_s: float, load: float) -> dict[str, Any]:
    n = max(summary.frames, 1)
    total = sum(summary.seconds.values())
    return {
        "frames": summary.frames,
        "cpu_ms_per_frame": 1000 * cpu_s / n,  # the whole call, all threads of the process
        "load_before": load,
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
    p.add_argument("--vitb-frames", type=int, default=10)
    p.add_argument("--checkpoint", type=Path, help="cgclip checkpoint of the synthetic preset")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "tracker_pipeline.json")
    args = p.parse_args(argv)
    import torch

    if args.threads:
        pin_threads(args.threads)  # torch, OpenCV, BLAS and the decoder alike
    import cgclip
    from cgclip.data.synthetic import generate_sample

    result: dict[str, Any] = {
        "machine": machine_info(),
        "torch_threads": torch.get_num_threads(),
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        clip = generate_sample(Path(tmp) / "sample", frames=args.frames, progress=False)
        video, cfg = clip / "sample.mp4", load_preset("dance")
        small = synthetic_preset_model(args.checkpoint)
        # what --reid clip builds (random weights: the cost is the same)
        vitb = cgclip.create_model(CLIP_ARCH, quick_gelu=True, **CLIP_OVERRIDES)
        replay = ReplayDetector(clip / "det.txt")
        runs = {
            "replay": (replay, None, None, "public detections, annotated MP4 + MOT + JSON"),
            "replay+cgclip-small": (
                replay,
                CgclipEmbedder(small),
                None,
                f"public detections + CG-CLIP {small.name} ({small.tokens_per_frame} tokens x "
                f"{small.config.vision.width}, embedding "
                f"{'+'.join(small.config.embedding_parts)} over W={cfg.embedding_window}), "
                "MP4 + MOT + JSON",
            ),
            "replay+clip-vitb16": (
                replay,
                CgclipEmbedder(vitb),
                args.vitb_frames,
                "public detections + ViT-B/16 256x128, mean pooling (--reid clip, random "
                "weights), MOT + JSON",
            ),
            "hog": (HogDetector(upscale=1.0), None, args.hog_frames, "numpy HOG, MOT + JSON"),
            "yolo11n-arch": (
                YoloDetector(str(Path("yolo11n.yaml")), conf=0.25, batch_size=8, imgsz=640),
                None,
                args.yolo_frames,
                "yolo11n architecture, random weights, imgsz 640, batch 8; detect row only",
            ),
        }
        for name, (detector, embedder, max_frames, note) in runs.items():
            out = Path(tmp) / name
            load, cpu0 = load_average()[0], cpu_seconds()
            summary = track_video(
                video,
                detector=detector,
                config=cfg,
                embedder=embedder,
                out_mot=out / "r.txt",
                out_json=out / "r.json",
                out_video=out / "r.mp4"
                if name.startswith("replay") and max_frames is None
                else None,
                max_frames=max_frames,
                progress=False,
            )
            result["runs"][name] = _row(summary, note, cpu_seconds() - cpu0, load)
            print(f"\n{name}: {note}\n{summary.stage_table()}", flush=True)
    atomic_write_json(args.out, result)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
