"""Where a batch's videos are tracked: the task function and the two engines that run it.

:func:`track_job` is the one task: it tracks one video exactly as ``tracker.run`` would (same
preset, detector, embedder and outputs, through :func:`tracker.run.track_video`), hashes the
outputs, scores them against ground truth when the video has some, and returns a plain dict.
It never raises for a problem with the video: a corrupt file is a ``failed`` result with its
one-line reason, so the rest of the batch goes on.

- :class:`LocalEngine`: ``--workers N`` spawned processes (``concurrent.futures``), each building
  its detector and embedder once and keeping them for every video it is given; at most N videos
  are in flight, so an interrupted batch loses at most N.
- :class:`RayEngine`: the same function as a Ray remote task, one video per task; Ray schedules,
  places (``num_gpus`` for GPU devices) and retries tasks whose worker died. ``ray`` is imported
  only here, inside :meth:`RayEngine.run`.

Each worker process applies the thread plan the batch computed for it (:mod:`cgclip.threads`),
so N workers share the cores instead of each taking all of them.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import logging
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cgclip.errors import Terminated, UserError, user_message
from cgclip.threads import ThreadPlan, apply_threads
from tracker.batch_jobs import Job, sha256_file

log = logging.getLogger(__name__)

ResultFn = Callable[[Job, dict[str, Any]], None]
FramesFn = Callable[[int], None]

# Per worker process: the detector, embedder and config built for the batch's options.
_WORKER: dict[str, Any] = {}
FRAME_REPORT_S = 0.5  # how often a worker reports its frame count to the progress bar


@dataclass(frozen=True)
class Work:
    """What every engine is given besides the jobs: how to track, and where results go."""

    options: argparse.Namespace  # tracker.run's options (see tracker.batch.tracking_options)
    out_dir: Path
    plan: ThreadPlan  # each worker's threads
    on_result: ResultFn  # (job, result) as each video ends, in the batch's process
    on_frames: FramesFn  # frames tracked since the last call

    @property
    def task_args(self) -> tuple[argparse.Namespace, str, ThreadPlan]:
        """:func:`track_job`'s arguments after the job."""
        return self.options, str(self.out_dir), self.plan


def one_line(err: BaseException) -> str:
    """The manifest's reason for a failure: the user-facing message, or ``Type: first line``."""
    message = user_message(err)
    if message is None:
        text = str(err).strip().splitlines()
        message = f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
    return " ".join(message.split())[:500]


def failed(error: str, **fields: Any) -> dict[str, Any]:
    return {"state": "failed", "error": error, **fields}


def _components(options: argparse.Namespace, plan: ThreadPlan) -> dict[str, Any]:
    """Config, embedder and (unless detections are per video) detector, built once per process
    exactly as ``tracker.run.main`` builds them."""
    from tracker import run as run_cli
    from tracker.config import load_preset, read_config_yaml
    from tracker.embedding import build_embedder

    key = repr((sorted(vars(options).items()), plan))
    if _WORKER.get("key") == key:
        return _WORKER
    _WORKER.clear()
    apply_threads(plan)
    overrides = read_config_yaml(options.config) if options.config else {}
    _WORKER["config"] = load_preset(options.preset, **overrides)
    # --device auto resolved here, in the worker (on Ray: among the GPUs the task was given).
    device = run_cli._device(argparse.Namespace(**{**vars(options), "quiet": True}))
    _WORKER["device"] = device
    _WORKER["embedder"] = build_embedder(
        options.reid, device=device, backend=options.backend, precision=options.precision
    )
    _WORKER["detector"] = None if options.detections == "auto" else _detector(options, None, device)
    _WORKER["key"] = key
    return _WORKER


def _detector(options: argparse.Namespace, detections: str | None, device: str):
    from tracker.run import detector_from_options

    return detector_from_options(options, detections=detections, device=device)


class _FrameCounter:
    """The detector with each call's frame count reported (at most every ``FRAME_REPORT_S``)."""

    def __init__(self, inner: Any, report: FramesFn | None) -> None:
        self.inner, self.report = inner, report
        self.unreported, self.last = 0, time.monotonic()

    def detect(self, frames: Sequence[Any], frame_ids: Sequence[int]) -> list[Any]:
        out = self.inner.detect(frames, frame_ids)
        self.unreported += len(frame_ids)
        if time.monotonic() - self.last >= FRAME_REPORT_S:
            self.flush()
        return out

    def flush(self) -> None:
        if self.report is not None and self.unreported:
            self.report(self.unreported)
        self.unreported, self.last = 0, time.monotonic()

    def __getattr__(self, name: str) -> Any:  # batch_size, check_video of the wrapped detector
        return getattr(self.inner, name)


def output_paths(job: Job, out_dir: Path, *, no_video: bool) -> dict[str, Path]:
    """The files ``tracker.run`` would write for ``job`` with ``--output-dir OUT/<name>``."""
    from tracker.run import default_outputs

    paths = default_outputs(Path(job.source), out_dir / job.name)
    if no_video:
        paths.pop("video")
    return paths


def crops_folder(job: Job, options: argparse.Namespace) -> Path | None:
    """``--save-crops DIR``: this video's crops folder, ``DIR/<name>`` (``None`` without it)."""
    root = getattr(options, "save_crops", None)
    return None if root is None else Path(root) / job.name


def _remove_leftovers(folder: Path, crops: Path | None = None) -> None:
    """Temporary files of a worker that was killed mid-write (``cgclip.io.atomic`` names), and
    the temporary crops folders beside ``crops`` (``tracker.crops``: ``.<name>.<pid>-...``)."""
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp*"):
            tmp.unlink(missing_ok=True)
    if crops is not None and crops.parent.is_dir():
        mine = re.compile(rf"\.{re.escape(crops.name)}\.\d+-")  # not those of "<name>.x"
        for tmp in crops.parent.iterdir():
            if tmp.is_dir() and mine.match(tmp.name):
                shutil.rmtree(tmp, ignore_errors=True)


def _crops_output(crops: Path, out_dir: Path) -> dict[str, Any]:
    """The manifest's record of a crops folder: its ``crops.json`` (path relative to ``OUT``
    when inside it, else absolute; sha256) and how many crops and ids it holds."""
    from cgclip.data.crops import CROPS_INDEX

    index = crops / CROPS_INDEX
    try:
        path = str(index.resolve().relative_to(out_dir.resolve()))
    except ValueError:
        path = str(index.resolve())
    about = json.loads(index.read_text(encoding="utf-8"))
    return {
        "path": path,
        "sha256": sha256_file(index),
        "crops": about["crops"],
        "ids": len(about["ids"]),
    }


def _score(gt_seq: str, mot: Path) -> dict[str, Any]:
    """HOTA, DetA, AssA, MOTA, IDF1, IDSW of the MOT txt against the sequence's gt/gt.txt."""
    from tracker.eval import evaluate

    seq = Path(gt_seq)
    with tempfile.TemporaryDirectory(prefix="batch-eval-") as tmp:
        (Path(tmp) / f"{seq.name}.txt").symlink_to(mot.resolve())
        return evaluate([seq], tmp)["sequences"][seq.name]


def track_job(
    job: Job,
    options: argparse.Namespace,
    out_dir: str,
    plan: ThreadPlan,
    frames_report: FramesFn | None = None,
) -> dict[str, Any]:
    """Track one video into ``out_dir/job.name/``; the manifest fields of its result."""
    from tracker.run import track_video

    where = {"host": socket.gethostname(), "pid": os.getpid()}
    frames_report = frames_report or _LOCAL.get("report")
    try:
        if job.error:
            return failed(job.error, **where)
        parts = _components(options, plan)
        if options.detections == "auto":
            if job.detections is None:
                return failed(
                    f"{job.source}: no det.txt for --detections auto (MOT layout: "
                    "seq/det/det.txt, or seq/<video> beside det/det.txt)",
                    **where,
                )
            detector = _detector(options, job.detections, parts["device"])
        else:
            detector = parts["detector"]
        crops = crops_folder(job, options)
        _remove_leftovers(Path(out_dir) / job.name, crops)
        paths = output_paths(job, Path(out_dir), no_video=options.no_video)
        counter = _FrameCounter(detector, frames_report)
        start = time.perf_counter()
        summary = track_video(
            job.source,
            detector=counter,
            config=parts["config"],
            embedder=parts["embedder"],
            out_mot=paths["mot"],
            out_json=paths["json"],
            out_video=paths.get("video"),
            max_frames=options.max_frames,
            progress=False,
            crops_dir=crops,
            crops_mode=getattr(options, "crops", "best"),
        )
        wall = time.perf_counter() - start
        counter.flush()
        outputs = {
            kind: {"path": f"{job.name}/{Path(path).name}", "sha256": sha256_file(path)}
            for kind, path in paths.items()
        }
        if crops is not None:
            outputs["crops"] = _crops_output(crops, Path(out_dir))
    except Exception as err:  # a bad video fails alone; KeyboardInterrupt still stops the batch
        log.debug("%s failed", job.source, exc_info=True)
        return failed(one_line(err), **where)
    result: dict[str, Any] = {
        "state": "done",
        "error": None,
        "outputs": outputs,
        "frames": summary.frames,
        "complete": summary.complete,  # False: the video ended before the frames it announced
        "frames_expected": summary.frames_expected,
        "ids": summary.ids,
        "wall_s": round(wall, 3),
        "fps": round(summary.frames / wall, 2) if wall > 0 else None,
        "stage_s": {k: round(v, 3) for k, v in summary.seconds.items()},
        "metrics": None,
        **where,
    }
    if job.gt:
        start = time.perf_counter()
        try:
            result["metrics"] = _score(job.gt, paths["mot"])
        except Exception as err:  # tracking worked; say why it could not be scored
            result["metrics_error"] = one_line(err)
        result["eval_s"] = round(time.perf_counter() - start, 3)
    return result


# --- local engine -------------------------------------------------------------------------

_LOCAL: dict[str, Any] = {}  # in a local worker process: the frame-report queue's put


def _init_local_worker(queue: Any) -> None:
    # SIGTERM (the batch stopping its workers) unwinds like Ctrl-C, so partial files are removed.
    def _terminate(signum: int, frame: object) -> None:
        raise Terminated("terminated")

    signal.signal(signal.SIGTERM, _terminate)
    _LOCAL["report"] = queue.put


class LocalEngine:
    """``workers`` spawned processes; at most ``workers`` videos in flight."""

    name = "local"
    start_s: float | None = None  # worker processes start with their first video

    def __init__(self, workers: int) -> None:
        self.workers = max(1, int(workers))

    def run(self, jobs: Sequence[Job], work: Work) -> None:
        ctx = mp.get_context("spawn")  # fork would copy torch's thread pools and locks
        queue = ctx.Queue()
        todo = list(jobs)
        while todo:  # a new pool only when a worker died and broke the old one
            todo = self._run_pool(ctx, queue, todo, work)

    def _run_pool(self, ctx: Any, queue: Any, todo: list[Job], work: Work) -> list[Job]:
        pool = cf.ProcessPoolExecutor(
            self.workers, mp_context=ctx, initializer=_init_local_worker, initargs=(queue,)
        )
        waiting, running = list(todo), {}
        try:
            while waiting or running:
                while waiting and len(running) < self.workers:
                    job = waiting.pop(0)
                    running[pool.submit(track_job, job, *work.task_args)] = job
                done, _ = cf.wait(running, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                _drain(queue, work.on_frames)
                for future in done:
                    job = running.pop(future)
                    try:
                        result = future.result()
                    except KeyboardInterrupt:  # this worker alone was stopped (SIGTERM, SIGINT)
                        result = failed(_STOPPED, host=socket.gethostname())
                    except cf.process.BrokenProcessPool:
                        # A worker died (killed, out of memory, a crash in a decoder): the
                        # videos in flight fail; the rest go on in a new pool.
                        for other in [job, *running.values()]:
                            work.on_result(other, failed(_DIED, host=socket.gethostname()))
                        running.clear()
                        return waiting
                    work.on_result(job, result)
            _drain(queue, work.on_frames)
        except BaseException:
            _stop(pool)
            raise
        pool.shutdown(wait=True)
        return []


STOP_GRACE_S = 10.0  # a stopped worker's time to remove its partial files before it is killed
_STOPPED = "its worker process was stopped while tracking it; rerun to retry"
_DIED = "a worker process died while tracking this video or one beside it; rerun to retry"


def _drain(queue: Any, on_frames: FramesFn) -> None:
    import queue as queue_mod

    while True:
        try:
            on_frames(queue.get_nowait())
        except queue_mod.Empty:
            return


def _stop(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a pool now: queued videos are cancelled, videos in flight are interrupted (SIGTERM),
    which removes their partial files."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    # Before 3.14: shutdown() forgets the processes and would let each finish its video first.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.join(timeout=STOP_GRACE_S)
        # One still alive after its SIGTERM is stuck in its own exit; the batch's exit joins its
        # workers (multiprocessing's atexit, the pool's manager thread), so it would hang too.
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)


# --- Ray engine ---------------------------------------------------------------------------


class RayEngine:
    """Each video one Ray task (``track_job``), on a running cluster (``address``) or a local
    instance started for the batch (``workers`` CPUs' worth of tasks at once)."""

    name = "ray"
    start_s: float | None = None

    def __init__(
        self,
        address: str | None,
        *,
        workers: int | None = None,
        cpus_per_task: int = 1,
        gpus_per_task: float = 0.0,
        max_retries: int = 2,
    ) -> None:
        self.address = address
        self.workers = workers
        self.cpus_per_task = max(1, int(cpus_per_task))
        self.gpus_per_task = float(gpus_per_task)
        self.max_retries = int(max_retries)

    def run(self, jobs: Sequence[Job], work: Work) -> None:
        try:
            import ray
        except ImportError:
            raise UserError(
                "--ray needs Ray: pip install 'cgclip-track[cluster]' (or 'ray[default]>=2.9')"
            ) from None
        started = not ray.is_initialized()
        begin = time.perf_counter()
        if started:
            cpus = self.workers * self.cpus_per_task if self.workers else None
            try:
                if self.address:
                    ray.init(address=self.address)
                else:
                    ray.init(num_cpus=cpus, include_dashboard=False)
            except (ConnectionError, RuntimeError, ValueError) as err:
                where = self.address or "a local instance"
                raise UserError(
                    f"--ray: cannot start or reach Ray at {where} ({one_line(err)})"
                ) from None
        self.start_s = (
            time.perf_counter() - begin
        )  # Ray's start-up (or connection), for the summary
        task = ray.remote(track_job).options(
            num_cpus=self.cpus_per_task,
            num_gpus=self.gpus_per_task,
            max_retries=self.max_retries,  # worker or node died: Ray runs the task again
        )
        options, out_dir, plan = work.task_args
        options_ref = ray.put(options)  # stored once, not once per task
        refs = {task.remote(job, options_ref, out_dir, plan): job for job in jobs}
        try:
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1)
                for ref in done:
                    job = refs.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayError as err:  # retries used up
                        result = failed(f"Ray: {one_line(err)}")
                    work.on_frames(int(result.get("frames") or 0))
                    work.on_result(job, result)
        except BaseException:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise
        finally:
            if started:
                ray.shutdown()
