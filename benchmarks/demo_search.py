"""What the demo's search and identity click cost with 50 identities, per model size.

    python -m benchmarks.demo_search        # writes benchmarks/results/demo_search.json

Contenders, measured in the same run and rotated round by round (the order shifts by one each
round, so a change in machine load hits them all alike), on random-init checkpoints (the weights
do not change the cost) with 50 identities:

- ``raw``: the old search, :func:`demo.reid.rank_tracks` (one text pass, one product);
- ``calibrated``: :func:`demo.reid.search_tracks`, the raw ranking plus each identity's null
  scores and threshold (the null captions' features are cached per model);
- ``handler``: :func:`demo.views.search`, everything the server does for one search (the
  calibrated search, the note from the sidecar, the result tiles and the status text);
- ``click``: :func:`demo.views.pick`, a click on an identity (its segments, and its attention
  strip: one TFE pass over 8 crops, then drawing the strip).

The target is ``handler`` under 200 ms for 50 identities; ``calibrated / raw`` (the median of the
per-round ratios) is what calibration adds. The one-time null calibration per model (encoding
the null captions) is timed too. Load average, threads and CPU time are recorded with the wall
times, as the machine may be shared.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks.tracker_common import RESULTS_DIR, machine_info
from cgclip.errors import ArgumentParser
from cgclip.io.atomic import atomic_write_json
from cgclip.io.config import number_arg

CONTENDERS = ("raw", "calibrated", "handler", "click")
QUERIES = (
    "blue jersey number 10",
    "a woman in a red dress with a ponytail",
    "a red car",
    "man in white shoes and black socks",
)
TARGET_MS = 200.0


def fake_state(model: Any, reid: str, k: int, frames: int = 250, seed: int = 0) -> dict[str, Any]:
    """A session state like :func:`demo.views.gallery_state` after tracking ``k`` identities:
    random unit embeddings, gallery tiles, segments and 8 strip crops per identity."""
    from demo.gallery import CROP_H, TILE_W, TIMELINE_H

    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(k, model.config.embed_dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    ids = list(range(1, k + 1))
    tile = rng.integers(0, 255, (CROP_H + TIMELINE_H, TILE_W, 3), dtype=np.uint8)
    crop = rng.integers(0, 255, (180, 70, 3), dtype=np.uint8)
    return {
        "reid": reid,
        "ids": ids,
        "embeddings": emb,
        "tiles": {t: tile for t in ids},
        "fps": 25.0,
        "frames": frames,
        "order": ids,
        "segments": {t: [(1, 100), (120, frames)] for t in ids},
        "strips": {t: [(f, crop) for f in np.linspace(1, frames, 8).astype(int)] for t in ids},
        "matches": [],
    }


def measure(registry: Any, name: str, k: int, rounds: int) -> dict[str, Any]:
    """The contenders on checkpoint ``name`` with ``k`` identities, ``rounds`` rotated rounds."""
    from demo import views
    from demo.reid import rank_tracks, search_tracks

    reid = f"ckpt:{name}"
    model = registry.model(reid)
    t0, c0 = time.perf_counter(), time.process_time()
    null = registry.null_text(reid)  # first call: encodes the null captions
    null_s, null_cpu = time.perf_counter() - t0, time.process_time() - c0
    state = fake_state(model, reid, k)
    ids, emb = state["ids"], state["embeddings"]
    calls = {
        "raw": lambda q: rank_tracks(model, q, ids, emb),
        "calibrated": lambda q: search_tracks(model, q, ids, emb, null),
        "handler": lambda q: views.search(registry, q, state),
        "click": lambda q: views.attention(registry, state, views.pick(state, ids, 3)[2]),
    }
    for contender in CONTENDERS:  # warm-up (first-call allocations, lazy imports)
        calls[contender](QUERIES[0])
    wall: dict[str, list[float]] = {c: [] for c in CONTENDERS}
    cpu: dict[str, list[float]] = {c: [] for c in CONTENDERS}
    loads = []
    for r in tqdm(range(rounds), desc=name, unit="round"):
        loads.append(os.getloadavg()[0])
        order = CONTENDERS[r % len(CONTENDERS) :] + CONTENDERS[: r % len(CONTENDERS)]
        query = QUERIES[r % len(QUERIES)]
        for contender in order:
            t0, c0 = time.perf_counter(), time.process_time()
            calls[contender](query)
            wall[contender].append(1000 * (time.perf_counter() - t0))
            cpu[contender].append(1000 * (time.process_time() - c0))
    med = statistics.median
    ratios = [c / r for c, r in zip(wall["calibrated"], wall["raw"], strict=True)]
    return {
        "embed_dim": model.config.embed_dim,
        "text_layers": model.config.text.layers,
        "text_width": model.config.text.width,
        "null_captions": int(null.shape[0]),
        "null_calibration_s": null_s,
        "null_calibration_cpu_s": null_cpu,
        "median_ms": {c: med(wall[c]) for c in CONTENDERS},
        "p90_ms": {c: float(np.percentile(wall[c], 90)) for c in CONTENDERS},
        "cpu_ms": {c: med(cpu[c]) for c in CONTENDERS},
        "calibrated_over_raw": med(ratios),
        "handler_under_target": med(wall["handler"]) < TARGET_MS,
        "load_avg_1min": [round(x, 2) for x in loads],
    }


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(
        prog="python -m benchmarks.demo_search", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--models", default="test-tiny,cpu-small,ViT-B-16", help="random-init models")
    p.add_argument("--identities", type=number_arg("[1, inf)", int), default=50)
    p.add_argument("--rounds", type=number_arg("[1, inf)", int), default=15)
    p.add_argument("--threads", type=number_arg("[1, inf)", int), default=None)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "demo_search.json")
    args = p.parse_args(argv)
    import torch

    import cgclip
    from cgclip.threads import configure_threads
    from demo.reid import ReidRegistry

    plan = configure_threads(args.threads)
    result: dict[str, Any] = {
        "machine": machine_info(),
        "threads": plan.describe(),
        "torch_threads": torch.get_num_threads(),
        "identities": args.identities,
        "rounds": args.rounds,
        "target_ms": TARGET_MS,
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        ckpts = Path(tmp)
        names = [n for n in args.models.split(",") if n]
        for name in names:
            torch.manual_seed(0)
            cgclip.save_checkpoint(cgclip.create_model(name), ckpts / f"{name}.safetensors")
        registry = ReidRegistry(ckpts)
        for name in names:
            result["models"][name] = measure(registry, name, args.identities, args.rounds)
            print(name, result["models"][name]["median_ms"])
    result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


def render(result: dict[str, Any]) -> str:
    """The docs table: search and identity-click latency with N identities per model."""
    from benchmarks.render_docs import fmt_ms, md_table

    rows = []
    for name, m in result["models"].items():
        ms = m["median_ms"]
        load = m["load_avg_1min"]
        rows.append(
            [
                f"`{name}` (text {m['text_layers']}x{m['text_width']})",
                f"{fmt_ms(ms['raw'])} ms",
                f"{fmt_ms(ms['calibrated'])} ms",
                f"{m['calibrated_over_raw']:.2f}",
                f"**{fmt_ms(ms['handler'])} ms**"
                + ("" if m["handler_under_target"] else " (over)"),
                f"{fmt_ms(ms['click'])} ms",
                f"{m['null_calibration_s']:.2f} s",
                f"{min(load):.1f}-{max(load):.1f}",
            ]
        )
    header = [
        "model",
        "raw ranking",
        "calibrated",
        "calibrated / raw",
        f"whole search (target < {result['target_ms']:g} ms)",
        "identity click (strip)",
        "null calibration, once",
        "load average",
    ]
    return md_table(header, rows)


if __name__ == "__main__":
    raise SystemExit(main())
