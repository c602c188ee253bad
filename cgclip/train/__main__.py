"""Command line: ``python -m cgclip.train --config configs/train/mars.yaml [--override k=v ...]``.

Multi-GPU: ``torchrun --nproc_per_node 4 -m cgclip.train --config ...``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from cgclip.errors import ArgumentParser, cli
from cgclip.logs import show_logs
from cgclip.threads import add_threads_argument, configure_threads


@cli
def main(argv: Sequence[str] | None = None) -> int:
    p = ArgumentParser(prog="python -m cgclip.train", description=__doc__.split("\n")[0])
    p.add_argument("--config", help="YAML preset, e.g. configs/train/mars.yaml")
    p.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. optim.lr=1e-5 or model.overrides.tfe_keys=cls",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_threads_argument(p)
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the results of an earlier run in run.output_dir (same as "
        "run.overwrite=true); a run with run.resume continues its state instead",
    )
    args = p.parse_args(argv)
    if not args.no_progress:  # the trainer logs its progress (epochs, validation, resuming)
        show_logs(logging.INFO)

    from cgclip.train.config import load_train_config
    from cgclip.train.data import load_training_data
    from cgclip.train.trainer import prepare_output_dir, train

    overrides = [*args.override, *(["run.overwrite=true"] if args.overwrite else [])]
    cfg = load_train_config(args.config, overrides)
    prepare_output_dir(cfg.run)  # before reading the data: a bad folder fails in a second
    plan = configure_threads(args.threads, concurrent=cfg.data.num_workers)
    if not args.no_progress:
        print(plan.describe())
    dataset, captions = load_training_data(cfg.data, progress=not args.no_progress)
    result = train(dataset, cfg, captions, progress=not args.no_progress)
    print(f"results in {result.output_dir}")
    print(f"best checkpoint: {result.best_checkpoint} (epoch {result.best_epoch})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
