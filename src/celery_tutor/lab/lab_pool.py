"""The lab worker's pool: Celery's threads pool, whose tasks can die as a process's would.

:class:`LabThreadPool` runs each task on a thread bound to its worker, so the task's
checkpoints can unwind it when the worker is killed; a pool child's death is reported to
Celery as ``WorkerLostError`` through Celery's own ``Request.on_failure``. Each job has a
pid of its own (:mod:`.jobs`), so Celery can terminate it, and time limits are enforced
at checkpoints and reported the way billiard reports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from billiard.einfo import ExceptionInfo
from billiard.exceptions import Terminated, TimeLimitExceeded, WorkerLostError
from celery.concurrency import thread as celery_thread_pool
from celery.concurrency.base import apply_target
from celery.concurrency.thread import TaskPool as ThreadTaskPool

from celery_tutor.lab import jobs, runtime
from celery_tutor.lab.kit import FINISHED_CHECKPOINT
from celery_tutor.lab.runtime import SimulatedChildKill, SimulatedKill, WorkerRuntime

# celery-types does not describe these internals; they are used as Celery 5.7 defines them.
ApplyResult: Any = celery_thread_pool.ApplyResult  # type: ignore[attr-defined]

WORKER_LOST = "Worker exited prematurely: signal 9 (SIGKILL) Job: 0."
"""What billiard reports when a prefork child is killed."""


class LabApplyResult(ApplyResult):
    """Celery's threads-pool result handle, which Celery can also terminate (as billiard's can)."""

    def __init__(self, future: Any, job: jobs.Job) -> None:
        super().__init__(future)
        self.job = job

    def terminate(self, signum: int | None = None) -> None:
        """``Request.cancel`` and ``Request.terminate`` call this after ``terminate_job``."""
        self.job.terminate(signum)


class LabThreadPool(ThreadTaskPool):
    """Celery's threads pool, with tasks that die with their worker, can be terminated and time out."""

    runtime: ClassVar[WorkerRuntime]
    on_skipped: ClassVar[Callable[[WorkerRuntime, str], None]]
    executor: Any  # Celery's ThreadPoolExecutor (set by the base class)
    options: dict[str, Any]  # set by Celery's BasePool: the worker's time limits among them

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jobs = jobs.JobTable()

    def on_terminate(self) -> None:
        # Celery's threads pool leaves queued tasks running after a cold stop; a dead
        # worker runs nothing more.
        self.executor.shutdown(wait=False, cancel_futures=True)

    def terminate_job(self, pid: int, signal: Any = None) -> None:
        """Celery kills the process running a job (``Request.cancel``): here, at its next checkpoint."""
        job = self.jobs.get(pid)
        if job is not None:
            job.terminate(signal)

    def flush(self) -> None:
        """Drop the jobs not started yet, as prefork drops its outbound buffer: the broker has their messages."""
        self.jobs.flush()

    def on_apply(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        callback: Callable[..., Any] | None = None,
        accept_callback: Callable[..., Any] | None = None,
        error_callback: Callable[..., Any] | None = None,
        timeout_callback: Callable[..., Any] | None = None,
        soft_timeout: float | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> Any:
        worker = self.runtime
        app = self.app
        arguments = args or ()
        # The task's own limits, else the worker's (task_time_limit…), as billiard picks them.
        job = jobs.new_job(
            str(arguments[1]) if len(arguments) > 1 else "",
            soft_timeout or self.options.get("soft_timeout"),
            timeout or self.options.get("timeout"),
            timeout_callback,
        )
        self.jobs.add(job)

        def accept(pid: int, time_accepted: float) -> None:
            job.accept()
            if accept_callback is not None:
                accept_callback(pid, time_accepted)

        def run() -> None:
            try:
                if worker.killed.is_set() or job.flushed or job.terminated is not None:
                    return  # queued in a worker that is gone, or dropped before it started
                runtime.bind_worker(worker)
                jobs.bind(job)
                if app is not None:
                    app.set_current()
                try:
                    self._run(worker, job, target, arguments, kwargs or {}, callback, accept, error_callback)
                finally:
                    jobs.bind(None)
                    runtime.bind_worker(None)
            finally:
                self.jobs.discard(job)

        return LabApplyResult(self.executor.submit(run), job)

    def _run(
        self,
        worker: WorkerRuntime,
        job: jobs.Job,
        target: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        callback: Callable[..., Any] | None,
        accept_callback: Callable[..., Any] | None,
        error_callback: Callable[..., Any] | None,
    ) -> None:
        def body(*a: Any, **kw: Any) -> Any:
            if worker.killed.is_set():
                raise SimulatedKill()
            try:
                result = target(*a, **kw)
            finally:  # the trace is over, whatever ended it: outcomes told from now on are the worker's own
                run = runtime.maybe_current_run()
                if run is not None:
                    run.tracing = False
            if run is None:
                type(self).on_skipped(worker, str(args[1]) if len(args) > 1 else "")
            elif not run.dead:
                runtime.checkpoint(FINISHED_CHECKPOINT)
                run.report_outcome()  # the worker tells what the trace stored (a kill above: never)
            return result

        try:
            # Celery's own apply_target: the accept callback (early ack), the trace, then
            # the success callback. Our kills unwind through it as BaseExceptions.
            apply_target(body, args, kwargs, callback, accept_callback, pid=job.pid, propagate=_UNWINDS)
        except SimulatedKill:
            return  # the process is gone: no ack, no result, no failure
        except SimulatedChildKill:
            _report_to_parent(error_callback, WorkerLostError(WORKER_LOST))
        except jobs.JobTerminated as exc:
            # What billiard reports for a child Celery terminated: Request.on_failure sees
            # Terminated and, the request being cancelled, leaves the message alone.
            _report_to_parent(error_callback, Terminated(exc.signum))
        except jobs.HardTimeLimitKill as exc:
            # billiard's on_hard_timeout: the job fails with TimeLimitExceeded, then Celery's
            # timeout callback runs (Request.on_failure, then Request.on_timeout).
            _report_to_parent(error_callback, TimeLimitExceeded(exc.limit))
            job.on_timeout(soft=False)


_UNWINDS = (SimulatedKill, SimulatedChildKill, jobs.JobTerminated, jobs.HardTimeLimitKill)
"""What a lab task thread raises when its process, or its job, is gone: apply_target lets it through."""


def _report_to_parent(error_callback: Callable[..., Any] | None, exc: BaseException) -> None:
    """The "parent process" reports a job's end to Celery, as billiard does when a child is gone."""
    run = runtime.maybe_current_run()
    if run is not None:
        run.dead = False  # the parent process lives on and reports what happened
    if error_callback is None:
        return
    try:
        raise exc
    except BaseException:
        error_callback(ExceptionInfo())
