"""Caption tooling CLI.

    python -m cgclip.captions from-attributes --attributes identities.csv --out captions.json
    python -m cgclip.captions mllm --dataset mars --root data/MARS --model-id <hub id or folder> \
        --out data/MARS/captions.json [--per image --max-per-id 20]
    python -m cgclip.captions paraphrase --captions captions.json --model-id <id> --out more.json
    python -m cgclip.captions check captions.json [--dataset sportsvreid --root data/SportsVReID]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tqdm import tqdm

from cgclip.captions.attributes import captions_from_attributes, read_attributes
from cgclip.captions.store import load_captions, missing_identities, save_captions
from cgclip.errors import UserError, cli


def _dataset_options(pairs: list[str]) -> dict:
    opts: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"--dataset-option {pair!r}: expected key=value")
        opts[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else value.strip()
    return opts


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model-id", required=True, help="hub id or local folder (image-text-to-text)")
    p.add_argument(
        "--device", default="auto", help="auto (CUDA when present, else cpu), cpu, cuda or cuda:N"
    )
    p.add_argument("--dtype", default="auto", help="auto, float32, bfloat16, float16")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=80)
    p.add_argument("--trust-remote-code", action="store_true", help="for models shipping code")


def _captioner(a: argparse.Namespace):
    from cgclip.captions.mllm import MllmCaptioner
    from cgclip.runtime.load import device_line, resolve_device

    device = str(resolve_device(a.device))
    print(device_line(a.device, device), file=sys.stderr)
    return MllmCaptioner(
        a.model_id,
        device=device,
        dtype=a.dtype,
        max_new_tokens=a.max_new_tokens,
        batch_size=a.batch_size,
        trust_remote_code=a.trust_remote_code,
    )


@cli
def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m cgclip.captions", description=__doc__.split("\n")[0]
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    fa = sub.add_parser("from-attributes", help="attribute CSV (Table S.1) -> caption JSON")
    fa.add_argument("--attributes", required=True)
    fa.add_argument("--out", required=True)
    fa.add_argument("--per-id", type=int, default=10)
    fa.add_argument("--seed", type=int, default=0)

    ml = sub.add_parser("mllm", help="caption a dataset's training tracklets with an MLLM")
    ml.add_argument("--dataset", required=True)
    ml.add_argument("--root", required=True)
    ml.add_argument("--dataset-option", action="append", default=[], help="key=value, repeatable")
    ml.add_argument("--subset", choices=("train", "query", "gallery"), default="train")
    ml.add_argument("--out", required=True)
    ml.add_argument("--per", choices=("tracklet", "image"), default="tracklet")
    ml.add_argument("--frames-per-tracklet", type=int, default=1)
    ml.add_argument("--max-per-id", type=int, default=None)
    ml.add_argument("--log", help="JSONL of finished images (default: OUT.log.jsonl); resumes")
    _model_args(ml)

    pp = sub.add_parser("paraphrase", help="add MLLM paraphrases to a caption JSON")
    pp.add_argument("--captions", required=True)
    pp.add_argument("--out", required=True)
    pp.add_argument("--per-id", type=int, default=10, help="captions per identity wanted")
    pp.add_argument("--seed", type=int, default=0)
    _model_args(pp)

    ck = sub.add_parser("check", help="validate a caption JSON (and its coverage of a dataset)")
    ck.add_argument("captions")
    ck.add_argument("--dataset")
    ck.add_argument("--root")
    ck.add_argument("--dataset-option", action="append", default=[])

    a = p.parse_args(argv)
    if a.cmd == "from-attributes":
        caps = captions_from_attributes(read_attributes(a.attributes), per_id=a.per_id, seed=a.seed)
        save_captions(a.out, caps)
        print(f"{a.out}: {sum(map(len, caps.values()))} captions for {len(caps)} identities")
    elif a.cmd == "mllm":
        from cgclip.captions.mllm import caption_tracklets
        from cgclip.data import load_dataset

        ds = load_dataset(a.dataset, a.root, **_dataset_options(a.dataset_option))
        tracklets = getattr(ds, a.subset)
        caps = caption_tracklets(
            _captioner(a),
            tracklets,
            per=a.per,
            frames_per_tracklet=a.frames_per_tracklet,
            max_per_id=a.max_per_id,
            log_path=a.log or f"{a.out}.log.jsonl",
        )
        if not caps:
            raise UserError("the model gave no usable caption; try another --model-id")
        save_captions(a.out, caps)
        missing = missing_identities(caps, [t.pid for t in tracklets])
        print(f"{a.out}: captions for {len(caps)} identities, {len(missing)} without any")
    elif a.cmd == "paraphrase":
        base = load_captions(a.captions)
        captioner = _captioner(a)
        out = {}
        for pid, caps in tqdm(base.items(), desc="paraphrasing", unit="id"):
            merged = dict.fromkeys(caps)
            need = a.per_id - len(merged)
            if need > 0:
                for extra in captioner.paraphrase(caps[0], n=need, seed=a.seed + pid):
                    merged.setdefault(extra, None)
            out[pid] = list(merged)[: max(a.per_id, len(caps))]
        save_captions(a.out, out)
        print(f"{a.out}: {sum(map(len, out.values()))} captions for {len(out)} identities")
    else:
        caps = load_captions(a.captions)
        n = sum(map(len, caps.values()))
        print(f"{a.captions}: valid, {len(caps)} identities, {n} captions")
        if a.dataset:
            if not a.root:
                raise UserError("--dataset needs --root")
            from cgclip.data import load_dataset

            ds = load_dataset(a.dataset, a.root, **_dataset_options(a.dataset_option))
            missing = missing_identities(caps, [t.pid for t in ds.train])
            print(f"training identities without captions: {len(missing)} of {ds.num_train_pids}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
