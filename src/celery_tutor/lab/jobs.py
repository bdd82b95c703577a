"""What the lab's pool knows about each job it runs: a pid of its own, its time limits, its fate.

A prefork pool runs each task in a child process. Celery knows the child's pid and asks
the pool to kill it when it cancels a task (``pool.terminate_job(pid)``), and billiard's
timeout handler enforces soft and hard time limits: at the soft limit it raises
``SoftTimeLimitExceeded`` inside the task (a signal), at the hard limit it kills the child
and reports ``TimeLimitExceeded`` to Celery (``Request.on_failure``, then
``Request.on_timeout``).

The lab's pool runs threads, which can be neither signalled nor killed. So each job gets
a pid of its own, and what a signal would do happens at the job's next checkpoint
(:func:`at_checkpoint`, called by the lab on the task's thread): a terminated job
unwinds there, a job past its hard limit is killed there, a job past its soft limit gets
``SoftTimeLimitExceeded`` raised there. The failures are then reported to Celery exactly
as billiard reports them.
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from celery_tutor.lab import events as ev
from celery_tutor.lab.kit import FINISHED_CHECKPOINT
from celery_tutor.lab.runtime import RunContext

_pids = itertools.count(40_001)
"""Pids for the lab's jobs: one per job, never reused in the process (a prefork child's is the process's)."""

Emit = Callable[..., object]
"""How a job reports to its lab: the event bus's ``emit``."""


class JobTerminated(BaseException):
    """Celery terminated this job (``terminate_job``): its "process" is gone, like a child killed by SIGTERM."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class HardTimeLimitKill(BaseException):
    """The job passed its hard time limit: its "child process" is killed."""

    def __init__(self, limit: float) -> None:
        super().__init__(limit)
        self.limit = limit


@dataclass(eq=False)
class Job:
    """One task execution handed to the lab's pool (billiard's ``ApplyResult``, in effect)."""

    pid: int
    task_id: str
    soft_limit: float | None
    hard_limit: float | None
    timeout_callback: Callable[..., Any] | None
    started: float | None = None
    """When the job was accepted (monotonic seconds): limits count from here, as billiard's do."""
    soft_fired: bool = False
    terminated: int | None = None
    """The signal number Celery terminated the job with, once it did."""
    flushed: bool = False
    """Dropped before it started (``pool.flush()`` after a lost connection: the broker has the message)."""

    def accept(self) -> None:
        """The job starts now (its accept callback ran)."""
        self.started = time.monotonic()

    def terminate(self, signum: int | None = None) -> None:
        """Mark the job terminated: it runs no more of its body than up to its next checkpoint."""
        if self.terminated is None:
            self.terminated = int(signum or signal.SIGTERM)

    def on_timeout(self, soft: bool) -> None:
        """Tell Celery a time limit passed, as billiard does (``Request.on_timeout``: logs, hard-limit handling)."""
        if self.timeout_callback is not None:
            self.timeout_callback(soft=soft, timeout=self.soft_limit if soft else self.hard_limit)


def new_job(
    task_id: str,
    soft_limit: float | None,
    hard_limit: float | None,
    timeout_callback: Callable[..., Any] | None,
) -> Job:
    """A job with a fresh pid."""
    return Job(next(_pids), task_id, soft_limit or None, hard_limit or None, timeout_callback)


class _Local(threading.local):
    job: Job | None = None


_local = _Local()


def bind(job: Job | None) -> None:
    """The pool runs ``job`` on this thread (None: no job any more)."""
    _local.job = job


def current() -> Job | None:
    """The job running on this thread, if any."""
    return _local.job


def unwind_if_terminated(run: RunContext) -> None:
    """A job Celery terminated is a child already gone: raise :class:`JobTerminated` before it reports anything.

    The prefork child dies where the signal finds it; the lab's thread gets as far as its
    next checkpoint, which it must not report as reached.
    """
    job = _local.job
    if job is not None and job.terminated is not None:
        run.dead = True  # the process is gone: what the unwinding thread does is not reported
        raise JobTerminated(job.terminated)


def at_checkpoint(run: RunContext, checkpoint: str, emit: Emit) -> None:
    """Do at a checkpoint what a signal to a prefork child would have done by now.

    Raises :class:`JobTerminated` for a job Celery terminated, :class:`HardTimeLimitKill`
    past the hard limit, ``SoftTimeLimitExceeded`` (once) past the soft limit. Limits apply
    while the task's own code runs, not at ``task_finished`` (the body is over).
    """
    job = _local.job
    if job is None:
        return
    unwind_if_terminated(run)
    if job.started is None or checkpoint == FINISHED_CHECKPOINT:
        return
    elapsed = time.monotonic() - job.started
    fields = {"task_id": run.task_id, "task": run.task, "worker": run.worker.name, "run": run.run}
    if job.hard_limit is not None and elapsed >= job.hard_limit:
        emit(ev.TimeLimitHit, limit=job.hard_limit, checkpoint=checkpoint, **fields)
        run.dead = True
        raise HardTimeLimitKill(job.hard_limit)
    if job.soft_limit is not None and not job.soft_fired and elapsed >= job.soft_limit:
        job.soft_fired = True
        emit(ev.SoftTimeLimitHit, limit=job.soft_limit, checkpoint=checkpoint, **fields)
        job.on_timeout(soft=True)  # billiard calls Celery's on_timeout first (its warning), then signals
        raise SoftTimeLimitExceeded()


class JobTable:
    """The jobs one pool has in hand, by pid. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.pid] = job

    def discard(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.pid, None)

    def get(self, pid: int) -> Job | None:
        with self._lock:
            return self._jobs.get(pid)

    def flush(self) -> int:
        """Drop every job not started yet (they will not run); returns how many."""
        with self._lock:
            waiting = [job for job in self._jobs.values() if job.started is None and not job.flushed]
            for job in waiting:
                job.flushed = True
                del self._jobs[job.pid]
        return len(waiting)
