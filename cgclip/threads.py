"""One thread policy for every entry point: torch intra-op, OpenCV and BLAS threads.

Why it exists: on a 2-core machine, torch's default of one OpenMP thread per core plus OpenCV's
own pool plus the video decoder oversubscribe the CPU, and OpenMP threads that spin-wait on a
busy core made appearance tracking 10x slower (4.4 FPS against 46 FPS with
``OMP_NUM_THREADS=1``, issue 9). The policy therefore gives the compute stages only the cores
nothing else is using:

- ``cores``: the CPUs this process may run on (affinity mask and cgroup CPU quota, not the
  machine's count), shared evenly by the processes ``torchrun`` starts on this machine;
- ``concurrent``: how many other busy threads run beside the compute pool (the tracker's
  decoder, a DataLoader's workers...); they keep a core each while cores last;
- ``load``: the machine's 1-minute load average when the run starts; on a shared machine the
  cores other processes keep busy are not available either (spin-waiting OpenMP threads on a
  busy core are what cost 10x);
- torch gets the smaller of what is left after ``concurrent`` and after ``load``, at least one;
  OpenCV and BLAS get the same count, since they run between torch calls, not beside them.

``--threads N`` on the CLIs overrides the count. ``apply_threads`` is called once, at the edge
(a CLI's ``main`` or the demo's start), never at import.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThreadPlan:
    """Thread counts for each pool; ``source`` says where the count came from."""

    cores: int
    load: float
    torch: int
    opencv: int
    blas: int
    source: str  # "auto", "--threads" or "OMP_NUM_THREADS"

    def describe(self) -> str:
        return (
            f"threads: torch {self.torch}, OpenCV {self.opencv}, BLAS {self.blas} "
            f"({self.source}; {self.cores} usable cores, load {self.load:.1f})"
        )


def usable_cores() -> int:
    """CPUs this process may use: the affinity mask, capped by a cgroup v2/v1 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, int(quota + 0.5)))
    return max(1, cores)


def _cgroup_quota() -> float | None:
    """CPUs allowed by the cgroup's quota, or ``None`` when unlimited or unknown."""
    try:
        v2 = Path("/sys/fs/cgroup/cpu.max")
        if v2.is_file():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        v1 = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        if v1.is_file():
            quota_us = int(v1.read_text())
            period_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
            return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None
    return None


def busy_cores(samples: int = 5, interval_s: float = 0.01) -> float:
    """Cores other processes keep busy now: the runnable tasks in ``/proc/loadavg`` less this
    one, the median of a few samples. The 1-minute load average lags: right after a job ends it
    still reads about 1 on an idle machine, and a run starting then took one thread too few.
    Where ``/proc`` is missing, the 1-minute load average."""
    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg") as f:
                counts.append(int(f.read().split()[3].split("/")[0]) - 1)
        except (OSError, ValueError, IndexError):
            try:
                return os.getloadavg()[0]
            except OSError:  # not available on this platform
                return 0.0
        if i + 1 < samples:
            time.sleep(interval_s)
    return float(max(0, sorted(counts)[len(counts) // 2]))


# A video decoder beside the pool keeps about half a core busy: on an idle 2-core machine the
# tracker ran 71 FPS with 2 threads and 55 with 1 (benchmarks/results/thread_policy.json); on a
# loaded one the load average already takes the core away.
DECODER_SHARE = 0.5


def plan_threads(
    threads: int | None = None,
    *,
    concurrent: float = 1,
    cores: int | None = None,
    load: float | None = None,
) -> ThreadPlan:
    """The thread counts for a run.

    threads: an explicit count (``--threads``); ``None`` chooses: ``OMP_NUM_THREADS`` when the
        user set it, else the cores left after ``concurrent`` busy threads and after the
        machine's load, at least one.
    concurrent: busy threads running beside the compute pool (:data:`DECODER_SHARE` for the
        tracker's decoder, ``num_workers`` for training's DataLoader, 0 when nothing else runs).
    load: busy cores outside this process (default: :func:`busy_cores`).
    """
    if load is None:
        load = busy_cores()
    if cores is None:
        local_procs = os.environ.get("LOCAL_WORLD_SIZE", "1")
        cores = max(1, usable_cores() // (int(local_procs) if local_procs.isdigit() else 1))
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        n, source = threads, "--threads"
    elif os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]):
        n, source = int(os.environ["OMP_NUM_THREADS"]), "OMP_NUM_THREADS"
    else:
        idle = int(cores - load + 0.5)
        n, source = max(1, min(int(cores - max(0, concurrent) + 0.5), idle)), "auto"
    return ThreadPlan(cores=cores, load=load, torch=n, opencv=n, blas=n, source=source)


def apply_threads(plan: ThreadPlan) -> ThreadPlan:
    """Set torch, OpenCV and BLAS thread pools to ``plan`` (torch only if already importable)."""
    import cv2
    import torch

    torch.set_num_threads(plan.torch)
    cv2.setNumThreads(plan.opencv)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=plan.blas, user_api="blas")
    except ImportError:  # optional: numpy's BLAS keeps its own default
        log.debug("threadpoolctl not installed; BLAS threads left as they are")
    log.debug(plan.describe())  # the commands print it where their user wants to read it
    return plan


def configure_threads(threads: int | None = None, *, concurrent: float = 1) -> ThreadPlan:
    """:func:`plan_threads` then :func:`apply_threads`: the one call a CLI makes."""
    return apply_threads(plan_threads(threads, concurrent=concurrent))


def threads_arg(text: str) -> int:
    """argparse type for ``--threads``: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """The one ``--threads`` option every CLI shares."""
    parser.add_argument(
        "--threads",
        type=threads_arg,
        metavar="N",
        help="CPU threads for torch, OpenCV and BLAS (default: the usable cores left after the "
        "stages that run beside them; OMP_NUM_THREADS if set)",
    )
