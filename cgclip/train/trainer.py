"""The CG-CLIP training loop: one typed entry point, :func:`train`, taking a ``ReidDataset``.

Per epoch: PK batches of RRS clips -> model -> losses -> Adam step (AMP, optional grad clipping)
-> CMR memory update. After each epoch, rank 0 writes ``last.safetensors`` (+ training state) and
the metrics logs; every ``eval_every`` epochs it scores the validation identities carved from the
training set and keeps the best model as ``best.safetensors``. A killed run resumes from ``last``
and so loses at most the epoch it was in. Under ``torchrun`` the model is wrapped in DDP.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from cgclip.data import ReidDataset
from cgclip.errors import UserError
from cgclip.evaluate import evaluate_model
from cgclip.io.atomic import atomic_write_json, atomic_write_text, remove_stale_temps
from cgclip.io.runs import ensure_writable_dir
from cgclip.model import CGCLIP, create_model, save_checkpoint
from cgclip.runtime.load import resolve_device
from cgclip.train.config import RunSection, TrainConfig
from cgclip.train.data import TrainClips, carve_validation
from cgclip.train.dist import DistInfo, barrier, cleanup, init_distributed
from cgclip.train.losses import CGCLIPLoss
from cgclip.train.optim import build_optimizer, lr_at_epoch, set_lr
from cgclip.train.sampler import PKBatchSampler
from cgclip.train.state import load_train_state, read_train_info, save_train_state
from cgclip.train.text_memory import build_text_memory, identity_texts

log = logging.getLogger(__name__)

STATE_NAME = "last.train.safetensors"
# Config keys that may change when a run is resumed (they do not change what is being trained).
RESUMABLE_CHANGES = {"run", "data.num_workers", "optim.epochs"}
# What a run leaves in its output folder; another run may replace these only with run.overwrite.
RESULT_NAMES = (
    STATE_NAME,
    "last.safetensors",
    "best.safetensors",
    "summary.json",
    "metrics.csv",
    "metrics.json",
)


@dataclass
class TrainResult:
    output_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    best_epoch: int
    best_metrics: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)
    model: CGCLIP | None = None  # the model after the last epoch (on every rank)


def train(
    dataset: ReidDataset,
    config: TrainConfig,
    captions: Mapping[int, Sequence[str]] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train CG-CLIP on ``dataset.train`` (minus the validation identities) per ``config``.

    captions: pid -> captions (without the ID-text suffix) for CMR's text memory; identities
    without one fall back to the ID text. Returns where the best and last checkpoints are.
    """
    import os

    prepare_output_dir(config.run)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(config.run.device, local_rank=local_rank, option="run.device")
    info = init_distributed(device)
    try:
        return _Trainer(dataset, config, captions, device, info, progress).run()
    finally:
        cleanup(info)


def prepare_output_dir(run: RunSection) -> Path:
    """Check ``run.output_dir`` before any data is read or any epoch runs (see cgclip.io.runs).

    It must be writable, and must not hold an earlier run's results unless that run is being
    resumed (``run.resume`` and its state file is there) or ``run.overwrite`` is set. Temporary
    files left by a killed run are removed.
    """
    out = Path(run.output_dir)
    resuming = run.resume and (out / STATE_NAME).is_file()
    earlier = [name for name in RESULT_NAMES if (out / name).exists()]
    if earlier and not resuming and not run.overwrite:
        raise UserError(
            f"{out}: holds the results of an earlier run ({', '.join(earlier[:3])}); pass "
            "--overwrite (run.overwrite=true) to replace them, or choose another run.output_dir"
        )
    ensure_writable_dir(out)
    remove_stale_temps(out)
    return out


class _Trainer:
    def __init__(
        self,
        dataset: ReidDataset,
        config: TrainConfig,
        captions: Mapping[int, Sequence[str]] | None,
        device: torch.device,
        info: DistInfo,
        progress: bool,
    ) -> None:
        self.cfg, self.device, self.info = config, device, info
        self.progress = progress and info.is_main
        self.out = Path(config.run.output_dir)
        self.dataset = dataset
        if not dataset.train:
            raise UserError(f"dataset {dataset.name} has no training tracklets")
        self.train_set, self.val = carve_validation(
            dataset.train,
            config.data.val_fraction,
            config.data.val_min_ids,
            keep_ids=config.sampler.ids_per_batch,
            seed=config.run.seed,
            mode=config.data.val_carve,
        )
        self.pids = sorted({t.pid for t in self.train_set})
        if len(self.pids) < config.sampler.ids_per_batch:
            raise UserError(
                f"{len(self.pids)} training identities (after holding out validation ones) are "
                f"fewer than sampler.ids_per_batch={config.sampler.ids_per_batch}"
            )
        self.label_of = {pid: i for i, pid in enumerate(self.pids)}
        self.captions = captions
        captioned = sum(1 for pid in self.pids if (captions or {}).get(pid))
        self.text_info = {"source": config.data.text, "ids_with_captions": captioned}
        self.amp_dtype, self.scaler = self._amp()
        self.history: list[dict[str, Any]] = []
        self.best_score, self.best_epoch, self.best_metrics = -math.inf, -1, None

    # ------------------------------------------------------------------ setup

    def _amp(self) -> tuple[torch.dtype | None, torch.amp.GradScaler | None]:
        mode = self.cfg.run.amp
        cuda = self.device.type == "cuda"
        if mode == "auto":
            mode = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "off"
        if mode == "off":
            return None, None
        if mode == "fp16":
            if not cuda:
                raise UserError("run.amp=fp16 needs a CUDA GPU; use bf16 or off on the CPU")
            return torch.float16, torch.amp.GradScaler("cuda")
        return torch.bfloat16, None

    def _build_model(self) -> CGCLIP:
        m = self.cfg.model
        cams = [t.camid for t in (*self.dataset.train, *self.dataset.query, *self.dataset.gallery)]
        num_cameras = 0
        if m.camera_embedding:
            if min(cams) < 0:
                raise UserError("camera embedding needs non-negative camera ids in the dataset")
            num_cameras = max(cams) + 1
        torch.manual_seed(self.cfg.run.seed)  # identical initial weights on every rank
        model = create_model(
            m.name,
            pretrained=m.pretrained,
            num_classes=len(self.pids),
            num_cameras=num_cameras,
            **m.overrides,
        )
        return model.to(self.device).train()

    # ------------------------------------------------------------------ main loop

    def run(self) -> TrainResult:
        cfg = self.cfg
        model = self._build_model()
        optimizer = build_optimizer(model, cfg.optim)
        start_epoch = self._maybe_resume(model, optimizer)
        if start_epoch == 0 and model.cmr is not None:
            texts = identity_texts(
                self.pids, self.captions, cfg.data.text, cfg.data.max_captions_per_id
            )
            model.cmr.set_memory(build_text_memory(model, texts, progress=self.progress))
        net: torch.nn.Module = model
        if self.info.enabled:
            every_part = set(cfg.loss.parts) == {"f", "v", "s"}
            net = DistributedDataParallel(
                model,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=not every_part,
            )
        clips = TrainClips(
            self.train_set,
            [self.label_of[t.pid] for t in self.train_set],
            model.preprocess,
            cfg.augment,
            seed=cfg.run.seed,
        )
        sampler = PKBatchSampler(
            clips.labels,
            cfg.sampler.ids_per_batch,
            cfg.sampler.tracklets_per_id,
            seed=cfg.run.seed,
            rank=self.info.rank,
            world_size=self.info.world_size,
        )
        if len(sampler) == 0:
            raise UserError(
                f"the training set ({len(self.pids)} ids) is too small for one "
                f"{cfg.sampler.ids_per_batch}x{cfg.sampler.tracklets_per_id} batch per process"
            )
        loader = torch.utils.data.DataLoader(
            clips,
            batch_sampler=sampler,
            num_workers=cfg.data.num_workers,
            pin_memory=self.device.type == "cuda",
        )
        criterion = CGCLIPLoss(cfg.loss)
        writer = self._tensorboard()
        if self.info.is_main:
            n_val = self.val.num_ids if self.val else 0
            log.info(
                "training %s on %d tracklets / %d ids (validation: %d ids), epochs %d..%d, "
                "device %s, world size %d",
                model.name, len(self.train_set), len(self.pids), n_val, start_epoch + 1,
                cfg.optim.epochs, self.device, self.info.world_size,
            )  # fmt: skip
        for epoch in range(start_epoch, cfg.optim.epochs):
            stats = self._train_epoch(
                net, model, optimizer, loader, sampler, clips, criterion, epoch
            )
            last_epoch = epoch == cfg.optim.epochs - 1
            if self.val is not None and ((epoch + 1) % cfg.run.eval_every == 0 or last_epoch):
                stats.update(self._validate(model, epoch))
            self.history.append(stats)
            if self.info.is_main:
                self._save_last(model, optimizer, epoch)
                self._write_logs(writer, stats)
            barrier(self.info)
        if writer is not None:
            writer.close()
        return self._finish(model)

    def _train_epoch(
        self,
        net: torch.nn.Module,
        model: CGCLIP,
        optimizer: torch.optim.Optimizer,
        loader: torch.utils.data.DataLoader,
        sampler: PKBatchSampler,
        clips: TrainClips,
        criterion: CGCLIPLoss,
        epoch: int,
    ) -> dict[str, Any]:
        cfg = self.cfg
        lr = lr_at_epoch(epoch, cfg.optim)
        set_lr(optimizer, lr)
        sampler.set_epoch(epoch)
        clips.set_epoch(epoch)
        net.train()
        use_cams = model.config.num_cameras > 0
        steps = len(sampler)
        if cfg.run.max_steps_per_epoch > 0:
            steps = min(steps, cfg.run.max_steps_per_epoch)
        sums: dict[str, float] = {}
        n = 0
        start = time.time()
        bar = tqdm(
            total=steps, desc=f"epoch {epoch + 1}/{cfg.optim.epochs}", disable=not self.progress
        )
        for step, (x, labels, camids) in enumerate(loader):
            if step >= steps:
                break
            x = x.to(self.device, non_blocking=True)
            labels = labels.to(self.device)
            cams = camids.to(self.device) if use_cams else None
            autocast = (
                torch.autocast(self.device.type, dtype=self.amp_dtype)
                if self.amp_dtype
                else contextlib.nullcontext()
            )
            with autocast:
                out = net(x, camids=cams)
            loss, parts = criterion(out, labels)
            if not torch.isfinite(loss):
                raise RuntimeError(f"loss is {loss.item()} at epoch {epoch + 1} step {step + 1}")
            optimizer.zero_grad(set_to_none=True)
            self._backward_step(model, optimizer, loss)
            if model.cmr is not None:
                model.cmr.update_memory(labels, out.v.detach(), out.refined.detach())
            parts["loss"] = float(loss.detach())
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            n += 1
            bar.update(1)
            if step % max(1, cfg.run.log_every) == 0:
                bar.set_postfix(loss=f"{sums['loss'] / n:.3f}", lr=f"{lr:.2e}")
        bar.close()
        means = {k: v / max(n, 1) for k, v in sums.items()}
        if self.info.enabled:  # average the logged losses over ranks
            keys = sorted(means)
            t = torch.tensor([means[k] for k in keys], dtype=torch.float64, device=self.device)
            dist.all_reduce(t)
            means = dict(zip(keys, (t / self.info.world_size).tolist(), strict=True))
        return {"epoch": epoch + 1, "lr": lr, "steps": n, "time_s": time.time() - start, **means}

    def _backward_step(
        self, model: CGCLIP, optimizer: torch.optim.Optimizer, loss: torch.Tensor
    ) -> None:
        clip = self.cfg.optim.grad_clip
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if clip > 0:
                self.scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward()
            if clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()

    def _validate(self, model: CGCLIP, epoch: int) -> dict[str, Any]:
        if not self.info.is_main:
            return {}
        assert self.val is not None
        metrics = evaluate_model(
            model,
            self.val.query,
            self.val.gallery,
            self.val.ignore,
            batch_size=self.cfg.run.eval_batch_size,
            num_workers=self.cfg.data.num_workers,
            amp_dtype=self.amp_dtype,
            progress=self.progress,
        ).to_dict()
        model.train()
        score = metrics["mAP"] + 1e-6 * metrics["R1"]  # mAP, ties broken by Rank-1
        if score > self.best_score:
            self.best_score, self.best_epoch, self.best_metrics = score, epoch + 1, metrics
            save_checkpoint(model, self.out / "best.safetensors", self._meta(epoch, metrics))
        log.info("epoch %d validation: mAP %.4f R1 %.4f", epoch + 1, metrics["mAP"], metrics["R1"])
        return {f"val_{k}": v for k, v in metrics.items()}

    # ------------------------------------------------------------------ persistence

    def _meta(self, epoch: int, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "epoch": epoch + 1,
            "dataset": self.dataset.name,
            "val": metrics,
            "train_pids": self.pids,
            "text_memory": self.text_info,
            "train_config": self.cfg.to_dict(),
        }

    def _save_last(self, model: CGCLIP, optimizer: torch.optim.Optimizer, epoch: int) -> None:
        # The resumable state first (one atomic file), then the deployable last checkpoint.
        save_train_state(
            self.out / STATE_NAME,
            model,
            optimizer,
            {
                "epoch": epoch + 1,
                "best_score": self.best_score if math.isfinite(self.best_score) else None,
                "best_epoch": self.best_epoch,
                "best_metrics": self.best_metrics,
                "history": self.history,
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "train_config": self.cfg.to_dict(),
            },
        )
        save_checkpoint(model, self.out / "last.safetensors", self._meta(epoch))

    def _maybe_resume(self, model: CGCLIP, optimizer: torch.optim.Optimizer) -> int:
        path = self.out / STATE_NAME
        if not self.cfg.run.resume or not path.is_file():
            return 0
        saved = read_train_info(path)  # check the config before loading anything
        changed = [
            k
            for k in _diff(saved.get("train_config", {}), self.cfg.to_dict())
            if not any(k == r or k.startswith(r + ".") for r in RESUMABLE_CHANGES)
        ]
        if changed:
            raise UserError(
                f"{self.out} holds a run with a different config ({', '.join(changed[:5])}); "
                "use another run.output_dir, or run.resume=false to start over there"
            )
        state = load_train_state(path, model, optimizer)
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.history = list(state["history"])
        if state["best_score"] is not None:
            self.best_score = state["best_score"]
        self.best_epoch, self.best_metrics = state["best_epoch"], state["best_metrics"]
        if self.info.is_main:
            log.info("resuming %s after epoch %s", self.out, state["epoch"])
        return int(state["epoch"])

    def _tensorboard(self) -> Any:
        if not (self.cfg.run.tensorboard and self.info.is_main):
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError(
                "run.tensorboard=true needs the tensorboard package: pip install tensorboard"
            ) from None
        return SummaryWriter(str(self.out / "tensorboard"))

    def _write_logs(self, writer: Any, stats: dict[str, Any]) -> None:
        keys: list[str] = []
        for row in self.history:
            keys += [k for k in row if k not in keys]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys)
        w.writeheader()
        w.writerows(self.history)
        atomic_write_text(self.out / "metrics.csv", buf.getvalue())
        atomic_write_json(self.out / "metrics.json", self.history)
        if writer is not None:
            for k, v in stats.items():
                if k != "epoch" and isinstance(v, (int, float)):
                    writer.add_scalar(k, v, stats["epoch"])

    def _finish(self, model: CGCLIP) -> TrainResult:
        best = self.out / "best.safetensors"
        last = self.out / "last.safetensors"
        if self.info.is_main:
            if self.val is None:  # nothing to select on: the final model is the selected one
                save_checkpoint(model, best, self._meta(self.cfg.optim.epochs - 1))
                self.best_epoch = self.cfg.optim.epochs
            atomic_write_json(
                self.out / "summary.json",
                {
                    "best_checkpoint": str(best),
                    "best_epoch": self.best_epoch,
                    "best_val": self.best_metrics,
                    "validation_ids": self.val.num_ids if self.val else 0,
                    "epochs": self.cfg.optim.epochs,
                },
            )
        barrier(self.info)
        return TrainResult(
            self.out, best, last, self.best_epoch, self.best_metrics, self.history, model
        )


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k), b.get(k), f"{prefix}.{k}" if prefix else k)
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return [] if list(a) == list(b) else [prefix]
    return [] if a == b else [prefix]
