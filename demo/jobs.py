"""Long demo jobs under control: cancel flags, named phases and the time left.

A tracking request runs in one of Gradio's worker threads, which no one can interrupt from the
outside. So every job has a :class:`Job` (a flag), registered under the visitor's session in a
:class:`JobRegistry`; the Cancel button, the visitor closing the tab (Gradio's ``unload``) and the
server's Ctrl-C set it. :class:`PhaseSink`, the last sink of the tracking pass, checks the flag on
every frame and raises :class:`Cancelled`, which unwinds the pass (partial files are discarded,
the request folder is removed) within one frame. It also reports the tracking phase with the
frames done and the time left, and names the phase that follows the last frame (finishing the
H.264 video).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

ProgressFn = Callable[[float, str], None]


class Cancelled(Exception):
    """The job was stopped on purpose (``reason`` says by whom); not an error."""

    def __init__(self, reason: str = "cancelled") -> None:
        super().__init__(reason)
        self.reason = reason


class Job:
    """One request's cancel flag (and its request folder, for a shutdown that cannot wait)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""
        self.folder: str | None = None

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` once the job has been cancelled."""
        if self._event.is_set():
            raise Cancelled(self.reason)


class JobRegistry:
    """The running jobs by key (the visitor's Gradio session)."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def start(self, key: str) -> Job:
        """A new job for ``key``; a job still registered under it is cancelled (one per tab)."""
        job = Job()
        with self._lock:
            old = self._jobs.get(key)
            self._jobs[key] = job
        if old is not None:
            old.cancel("replaced by a new request")
        return job

    def finish(self, key: str, job: Job) -> None:
        with self._lock:
            if self._jobs.get(key) is job:
                del self._jobs[key]
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> list[Job]:
        """Wait up to ``timeout`` seconds for every job to finish; the jobs still running."""
        with self._idle:
            self._idle.wait_for(lambda: not self._jobs, timeout=timeout)
            return list(self._jobs.values())

    def cancel(self, key: str, reason: str = "cancelled") -> bool:
        """Cancel ``key``'s job; False when it has none running."""
        with self._lock:
            job = self._jobs.get(key)
        if job is None:
            return False
        job.cancel(reason)
        return True

    def cancel_all(self, reason: str = "the server is shutting down") -> int:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel(reason)
        return len(jobs)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)


def time_left(done: int, total: int | None, elapsed: float) -> str:
    """``"about 12 s left"`` from the rate so far; ``""`` until there is a rate to go by."""
    if not total or done < 2 or elapsed <= 0 or done >= total:
        return ""
    left = elapsed / done * (total - done)
    if left < 1:
        return "less than 1 s left"
    if left < 90:
        return f"about {left:.0f} s left"
    return f"about {left / 60:.0f} min left"


class PhaseSink:
    """Last sink of the tracking pass: cancel check, progress with time left, phase names.

    report: ``report(fraction, text)``; tracking spans ``[start, end]`` of the bar. Reports are
    at most every ``every`` seconds (and on the first and last frame).
    """

    def __init__(
        self,
        job: Job | None,
        report: ProgressFn,
        *,
        total: int | None,
        start: float = 0.05,
        end: float = 0.9,
        every: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job, self.report, self.total = job, report, total
        self.start, self.end, self.every, self.clock = start, end, every, clock
        self._t0 = self._last = 0.0
        self.done = 0

    def __enter__(self) -> PhaseSink:
        if self.job is not None:
            self.job.check()
        self._t0 = self.clock()
        self._last = -float("inf")
        self.report(self.start, "tracking")
        return self

    def write(self, result: Any) -> None:
        if self.job is not None:
            self.job.check()
        self.done += 1
        now = self.clock()
        if now - self._last < self.every and self.done != self.total:
            return
        self._last = now
        share = self.done / self.total if self.total else 0.0
        text = f"tracking: frame {self.done}" + (f" of {self.total}" if self.total else "")
        left = time_left(self.done, self.total, now - self._t0)
        self.report(
            self.start + (self.end - self.start) * min(share, 1.0),
            ", ".join(filter(None, [text, left])),
        )

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:  # the other sinks close next: the video encoder flushes its frames
            self.report(self.end, "encoding video (H.264) and writing the result files")
