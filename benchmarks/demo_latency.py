"""What one web-demo request costs on the synthetic sample clip, stage by stage.

    python -m benchmarks.demo_latency        # writes benchmarks/results/demo_latency.json

A request (``demo.pipeline.process_clip``) is tracking (``tracker.run.track_video``) plus what
the demo adds: re-encoding the annotated video as H.264 for the browser and one more decoding
pass for the identity gallery and the search embeddings. The target is a ratio measured in the
same run: the demo's additions over the tracking time. Set-ups: replayed public detections with
``--reid none``, and with random-init CG-CLIP checkpoints (``test-tiny``, ``cpu-small``), whose
cost does not depend on the weights. Text-search latency (one query over every track) is
reported too. The machine may be shared: wall times then vary from run to run, so the file
also holds each request's CPU time, and the ratio is the number to compare.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.tracker_common import RESULTS_DIR, machine_info
from cgclip.io.atomic import atomic_write_json


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=250, help="length of the sample clip")
    p.add_argument("--models", default="test-tiny,cpu-small", help="random-init checkpoints")
    p.add_argument("--repeats", type=int, default=3, help="runs per set-up (median reported)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "demo_latency.json")
    args = p.parse_args(argv)
    import torch

    import cgclip
    from demo.pipeline import PUBLIC, prepare_sample, process_clip
    from demo.reid import ReidRegistry, rank_tracks

    result: dict[str, Any] = {
        "machine": machine_info(),
        "torch_threads": torch.get_num_threads(),
        "frames": args.frames,
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video, det = prepare_sample(tmp / "sample", frames=args.frames)
        ckpts = tmp / "ckpts"
        for name in filter(None, args.models.split(",")):
            torch.manual_seed(0)
            cgclip.save_checkpoint(cgclip.create_model(name), ckpts / f"{name}.safetensors")
        registry = ReidRegistry(ckpts if ckpts.is_dir() else None)
        setups = ["none"] + [f"ckpt:{n}" for n in registry.checkpoints]
        for reid in setups:
            registry.model(reid)  # load outside the timing, as a running server has it cached
            runs = []
            for i in range(args.repeats):
                work = tmp / f"work-{reid.replace(':', '-')}-{i}"
                work.mkdir()
                t0, c0 = time.perf_counter(), time.process_time()
                res = process_clip(
                    video,
                    work_dir=work,
                    registry=registry,
                    detector=PUBLIC,
                    detections=det,
                    reid=reid,
                    preset="dance",
                )
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                search_ms = None
                if res.embeddings is not None:  # warm once, then the median of 20 queries
                    model = registry.model(reid)
                    rank_tracks(model, "warm-up", res.track_ids, res.embeddings)
                    times = []
                    for _ in range(20):
                        t1 = time.perf_counter()
                        rank_tracks(model, "blue jersey number 10", res.track_ids, res.embeddings)
                        times.append(1000 * (time.perf_counter() - t1))
                    search_ms = statistics.median(times)
                runs.append((wall, res.seconds, search_ms, len(res.identities), cpu))
            med = statistics.median
            track = med(r[1]["track"] for r in runs)
            video_s = med(r[1]["video"] for r in runs)
            gallery = med(r[1]["gallery"] for r in runs)
            result["runs"][reid] = {
                "wall_s": med(r[0] for r in runs),
                "cpu_s": med(r[4] for r in runs),  # all threads; less sensitive to other jobs
                "track_s": track,
                "h264_s": video_s,
                "gallery_s": gallery,
                "identities": runs[0][3],
                "demo_overhead_ratio": (video_s + gallery) / track,
                "search_ms": med(r[2] for r in runs) if runs[0][2] is not None else None,
            }
            print(reid, result["runs"][reid])
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
