"""Build (or reuse) an accelerated image-encoder artefact and check its parity with eager fp32.

    python -m cgclip.export --checkpoint runs/best.safetensors --backend onnx
    python -m cgclip.export --checkpoint runs/best.safetensors --backend tensorrt --max-batch 64
    python -m cgclip.export --model ViT-B-16 --pretrained openai --backend onnx --out ~/models

The artefact goes into ``--out`` (default: the checkpoint's folder, so a tracker given the same
checkpoint finds it; the user cache for ``--model``) under a name keyed by the weights, and is
reused when it is already there. Prints the artefact line and the parity numbers, writes them to
``<artefact>.parity.json``, and exits 1 when parity is outside the stated tolerance.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cgclip.errors import ArgumentParser, UserError, cli
from cgclip.io.config import number_arg

EXPORTABLE = ("onnx", "tensorrt")
# Opsets torch.onnx's exporter reaches exactly (measured: torch 2.14, onnxscript 0.7, onnxruntime
# 1.32). Below 17 or above 25 it fell back to 18 silently, and above 25 onnxruntime could not
# load the file; the artefact's opset is checked after export as well.
ONNX_OPSETS = "[17, 25]"


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m cgclip.export", description=__doc__.split("\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="cgclip .safetensors checkpoint (with its .json sidecar)")
    src.add_argument("--model", help="a named variant instead (cgclip.list_models())")
    p.add_argument("--pretrained", help="with --model: open_clip tag or weights file")
    p.add_argument("--backend", choices=EXPORTABLE, default="onnx")
    p.add_argument(
        "--precision",
        choices=("fp32", "fp16", "bf16"),
        help="default: fp32 for onnx, fp16 for tensorrt",
    )
    p.add_argument("--device", help="default: cpu for onnx, cuda for tensorrt")
    p.add_argument("--out", help="artefact folder (default: next to the checkpoint)")
    p.add_argument(
        "--parity-crops",
        type=number_arg("[1, inf)", int),
        default=8,
        help="crops for the parity check",
    )
    p.add_argument(
        "--opset", type=number_arg(ONNX_OPSETS, int), default=18, help="onnx: ONNX opset"
    )
    p.add_argument(
        "--min-batch", type=number_arg("[1, inf)", int), default=1, help="tensorrt: profile minimum"
    )
    p.add_argument(
        "--opt-batch",
        type=number_arg("[1, inf)", int),
        default=16,
        help="tensorrt: profile optimum",
    )
    p.add_argument(
        "--max-batch",
        type=number_arg("[1, inf)", int),
        default=64,
        help="tensorrt: profile maximum",
    )
    p.add_argument("--rebuild", action="store_true", help="rebuild even if a cached one exists")
    return p


@cli
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from cgclip.io.atomic import atomic_write_json
    from cgclip.model import create_model
    from cgclip.runtime import check_parity, default_cache_dir, load_backend, make_backend

    if args.pretrained and not args.model:
        raise UserError("--pretrained goes with --model; a checkpoint carries its own weights")
    options: dict = {"rebuild": args.rebuild, "precision": args.precision, "device": args.device}
    if args.backend == "onnx":
        options["opset"] = args.opset
    else:
        options.update(min_batch=args.min_batch, opt_batch=args.opt_batch, max_batch=args.max_batch)
    if args.checkpoint:  # beside the checkpoint (or --out), named after it: what trackers look up
        backend = load_backend(args.checkpoint, args.backend, cache_dir=args.out, **options)
    else:
        model = create_model(args.model, pretrained=args.pretrained)
        backend = make_backend(
            model,
            args.backend,
            cache_dir=args.out or default_cache_dir(),
            prefix=f"{args.model}-{args.pretrained or 'random'}",
            **options,
        )
    if args.backend == "onnx":
        _check_opset(backend.path, args.opset)
    print(backend.describe())
    report = check_parity(backend, n=args.parity_crops)
    print(report.summary())
    atomic_write_json(
        backend.path.with_name(backend.path.name + ".parity.json"),
        {"artifact": str(backend.path), "key": backend.key, **report.to_dict()},
    )
    if not report.passed:
        print(
            f"error: {args.backend} {backend.precision} is outside the parity tolerance; do not "
            "deploy this artefact (try --precision fp32, or report the numbers above)",
            file=sys.stderr,
        )
        return 1
    return 0


def _check_opset(path, wanted: int) -> None:
    """The exporter may fall back to another opset with only a log line: refuse that artefact."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    got = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if got != [wanted]:
        raise UserError(
            f"{path}: exported at opset {', '.join(map(str, got)) or '?'} although --opset "
            f"{wanted} was asked for; delete it and choose an opset in {ONNX_OPSETS}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
