"""A real Celery worker (``WorkController``, threads pool) that can die like a process.

Three small subclasses of Celery's own classes make an in-process worker faithful:

* :class:`LabThreadPool` runs each task on a thread bound to its worker, so the task's
  checkpoints can unwind it when the worker is killed; a pool child's death is reported
  to Celery as ``WorkerLostError`` through Celery's own ``Request.on_failure``. Each job
  has a pid of its own (:mod:`.jobs`), so Celery can terminate it, and time limits are
  enforced at checkpoints and reported the way billiard reports them.
* :class:`LabConsumer` tags its broker connection with the worker's name and, on close
  and on a lost connection, touches only its own requests in ``celery.worker.state``,
  which is process-global.
* :class:`LabWorker` says when it is consuming and runs its threads with its own app as
  Celery's current app (``current_app`` is thread-local; ``set_default`` would leak
  across labs).
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from billiard.einfo import ExceptionInfo
from billiard.exceptions import Terminated, TimeLimitExceeded, WorkerLostError
from celery import Celery
from celery.concurrency import thread as celery_thread_pool
from celery.concurrency.base import apply_target
from celery.concurrency.thread import TaskPool as ThreadTaskPool
from celery.exceptions import WorkerShutdown
from celery.worker import WorkController
from celery.worker import state as celery_worker_state
from celery.worker.consumer import Consumer
from kombu.asynchronous import hub as kombu_hub

from celery_tutor.lab import events as ev
from celery_tutor.lab import jobs, runtime
from celery_tutor.lab.broker_api import SeverableChannel
from celery_tutor.lab.kit import FINISHED_CHECKPOINT
from celery_tutor.lab.runtime import SimulatedChildKill, SimulatedKill, WorkerRuntime

# celery-types does not describe these internals; they are used as Celery 5.7 defines them.
ApplyResult: Any = celery_thread_pool.ApplyResult  # type: ignore[attr-defined]
worker_state: Any = celery_worker_state

_hub_lock = threading.Lock()
"""Held while a worker is built: kombu keeps one event loop per process, each worker needs its own."""

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
            result = target(*a, **kw)
            run = runtime.maybe_current_run()
            if run is None:
                type(self).on_skipped(worker, str(args[1]) if len(args) > 1 else "")
            elif not run.dead:
                runtime.checkpoint(FINISHED_CHECKPOINT)
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


class _OwnActiveRequests:
    """One worker's requests among Celery's process-wide ``active_requests``, read live.

    A real worker is a process of its own, so Celery's code that walks ``active_requests``
    walks only its own requests; in-process lab workers share that set.
    """

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname

    def __iter__(self) -> Iterator[Any]:
        return iter([r for r in tuple(worker_state.active_requests) if r.hostname == self.hostname])

    def __len__(self) -> int:
        return sum(1 for _ in self)


class LabConsumer(Consumer):
    """Celery's consumer, owning only its own requests in the process-global worker state."""

    controller: Any  # the LabWorker (set by Celery's blueprint)
    task_buckets: Any
    restart_count: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection_loss_handled = threading.Event()
        """Set once Celery's consumer has handled a lost connection (cancelled what it cancels)."""

    def connection_for_read(self, heartbeat: Any = None) -> Any:
        # Name the connection's worker before connecting, so that a broker out of reach
        # for this worker (a dropped connection's outage) refuses it already.
        connection = self.app.connection_for_read(heartbeat=heartbeat)
        transport: Any = connection.transport
        transport.owner = self.controller.runtime.name
        transport.runtime = self.controller.runtime  # a dead worker's channels take nothing more
        return self.ensure_connected(connection)

    def connect(self) -> Any:
        connection = super().connect()
        if self.restart_count > 0:  # the first start counts 0: this is a reconnection
            self._report(ev.ConnectionRestored)
        return connection

    def _report(self, cls: type[ev.LabEvent], **fields: Any) -> None:
        """Report what Celery did on this worker, unless the worker is dead (a dead process says nothing)."""
        worker = self.controller.runtime
        if not worker.killed.is_set():
            self.controller.emit(cls, worker=worker.name, **fields)

    def _mine(self, request: Any) -> bool:
        return request.hostname == self.hostname

    def _celery_code(self, name: str) -> Callable[..., Any]:
        """Celery's own ``Consumer.<name>``, with ``active_requests`` narrowed to this worker's.

        The function runs unchanged (same code, same defaults); only the module-level name
        ``active_requests`` it reads is this worker's requests, as in a worker process.
        """
        func = getattr(Consumer, name)
        scope = dict(func.__globals__, active_requests=_OwnActiveRequests(self.hostname))
        own = types.FunctionType(func.__code__, scope, func.__name__, func.__defaults__, func.__closure__)
        own.__kwdefaults__ = func.__kwdefaults__
        return types.MethodType(own, self)

    def _cancelling(self, reason: str, celery_code: Callable[[], Any]) -> None:
        """Run Celery code that may cancel running requests; report each one it cancelled."""
        before = {r for r in _OwnActiveRequests(self.hostname) if not r._already_cancelled}
        try:
            celery_code()
        finally:
            for request in before:
                if request._already_cancelled:
                    self._report(
                        ev.TaskCancelled,
                        task_id=request.id,
                        task=request.name,
                        reason=reason,
                        acks_late=bool(request.task.acks_late),
                    )

    def on_connection_error_after_connected(self, exc: Any) -> None:
        # Celery's handling, on this worker's requests: close the broken connection, cancel
        # running late-ack tasks if worker_cancel_long_running_tasks_on_connection_loss,
        # reduce the prefetch count. Then Celery's consumer reconnects.
        try:
            self._cancelling("connection lost", lambda: self._celery_code("on_connection_error_after_connected")(exc))
        finally:
            self.connection_loss_handled.set()

    def running_requests(self) -> int:
        """How many of this worker's tasks are running now (Celery's active requests)."""
        return len(_OwnActiveRequests(self.hostname))

    def cancel_active_requests(self) -> None:
        """Celery's cancel at the end of a soft shutdown, on this worker's requests only."""
        self._cancelling("cold shutdown", self._celery_code("cancel_active_requests"))

    def on_close(self) -> None:
        if self.controller and self.controller.semaphore:
            self.controller.semaphore.clear()
        for bucket in self.task_buckets.values():
            if bucket:
                bucket.clear_pending()
        active = worker_state.active_requests
        for request in tuple(worker_state.reserved_requests):
            if self._mine(request) and request not in active:
                worker_state.reserved_requests.discard(request)
                self._forget(request)
        for request in tuple(worker_state.scheduled_requests):
            if not self._mine(request):
                continue
            entry = request._eta_timer_entry
            if entry is not None and self.timer is not None:
                self.timer.cancel(entry)
            worker_state.scheduled_requests.discard(request)
            if request not in active and request not in worker_state.reserved_requests:
                self._forget(request)
        if self.pool and self.pool.flush:
            self.pool.flush()

    def _forget(self, request: Any) -> None:
        if worker_state.requests.get(request.id) is request:
            del worker_state.requests[request.id]

    def forget_all(self) -> None:
        """Drop every request of this (dead) worker from Celery's process-wide state."""
        for request in list(worker_state.requests.values()):
            if self._mine(request):
                self._forget(request)
        for collection in (
            worker_state.active_requests,
            worker_state.reserved_requests,
            worker_state.scheduled_requests,
        ):
            for request in tuple(collection):
                if self._mine(request):
                    collection.discard(request)


def _raise_warm_shutdown() -> None:
    # What Celery's state.maybe_shutdown() raises in the loop after a SIGTERM; the worker
    # catches it in start() and stops warm, exit code 0.
    raise WorkerShutdown(0)


class LabWorker(WorkController):
    """A bare Celery worker that runs in a thread of the lab."""

    def __init__(
        self,
        app: Celery,
        runtime_: WorkerRuntime,
        hostname: str,
        concurrency: int,
        prefetch_multiplier: int,
        on_skipped: Callable[[WorkerRuntime, str], None],
        on_ready: Callable[[], object],
        emit: Callable[..., object] | None = None,
    ) -> None:
        self.runtime = runtime_
        self._on_ready = on_ready
        self.emit: Callable[..., object] = emit or _emit_nothing
        """Report a lab event (the lab's bus): what Celery did that no signal tells."""
        self.consuming = threading.Event()
        self.dropped_channels: list[SeverableChannel] = []
        """Channels of connections this worker lost while living on (they may still hold messages)."""
        self.given_back: dict[str, float] = {}
        """Task id → when (lab clock) a lost connection left its unacked message with the broker.

        A run that started before then is not lost if the worker dies: its message is safe."""
        pool_cls = type(
            "LabThreadPool", (LabThreadPool,), {"runtime": runtime_, "on_skipped": staticmethod(on_skipped)}
        )
        with _hub_lock:
            # Celery's Hub step reuses kombu's process-global loop; on an async transport
            # (Redis) two in-process workers would share one. Unused on the memory broker.
            kombu_hub.set_event_loop(None)
            super().__init__(
                app=app,
                hostname=hostname,
                pool_cls=pool_cls,
                consumer_cls=LabConsumer,
                concurrency=concurrency,
                prefetch_multiplier=prefetch_multiplier,
                without_heartbeat=True,
                without_mingle=True,
                without_gossip=True,
                quiet=True,
            )

    def on_consumer_ready(self, consumer: Any) -> None:
        # Called on the worker's thread before it first asks the broker for a message.
        self._on_ready()
        self.consuming.set()

    def run(self) -> None:
        """The worker thread's body."""
        self.app.set_current()
        runtime.bind_worker(self.runtime)
        try:
            self.start()
        finally:
            runtime.bind_worker(None)
            self.consuming.set()  # nobody waits forever on a worker that failed to start

    def request_warm_shutdown(self) -> None:
        """Warm shutdown the way SIGTERM asks for it: on the worker's own thread, between turns.

        A real worker notices the signal between two turns of its event loop and shuts down
        there. Calling ``stop()`` from another thread instead closes an event loop (Redis)
        that the worker is still using ("I/O operation on closed epoll object"). Without an
        event loop (the memory broker) ``stop()`` is already safe from any thread.
        """
        hub = getattr(self, "hub", None)
        if hub is None or not self.consuming.is_set():
            self.stop()
            return
        hub.call_soon(_raise_warm_shutdown)

    def channels(self) -> list[SeverableChannel]:
        """The lab channels of this worker's broker connection (any broker kind), and of those it lost."""
        consumer = getattr(self, "consumer", None)
        connection = getattr(consumer, "connection", None)
        current: list[SeverableChannel] = []
        if connection is not None:
            transport = connection.transport
            current = [ch for ch in list(getattr(transport, "channels", [])) if isinstance(ch, SeverableChannel)]
        return [*self.dropped_channels, *(ch for ch in current if ch not in self.dropped_channels)]

    def current_channels(self) -> list[SeverableChannel]:
        """The lab channels of the connection this worker consumes on now."""
        return [ch for ch in self.channels() if ch not in self.dropped_channels]

    def forget_requests(self) -> None:
        """After the worker is gone, clean its traces out of Celery's process-wide state."""
        consumer = getattr(self, "consumer", None)
        if isinstance(consumer, LabConsumer):
            consumer.forget_all()


def _emit_nothing(*_: Any, **__: Any) -> None:
    """A worker built without a lab to report to."""
