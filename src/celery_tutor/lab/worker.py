"""A real Celery worker (``WorkController``, threads pool) that can die like a process.

Three small subclasses of Celery's own classes make an in-process worker faithful:

* :class:`LabThreadPool` runs each task on a thread bound to its worker, so the task's
  checkpoints can unwind it when the worker is killed; a pool child's death is reported
  to Celery as ``WorkerLostError`` through Celery's own ``Request.on_failure``.
* :class:`LabConsumer` tags its broker connection with the worker's name and, on close,
  touches only its own requests in ``celery.worker.state``, which is process-global.
* :class:`LabWorker` says when it is consuming and runs its threads with its own app as
  Celery's current app (``current_app`` is thread-local; ``set_default`` would leak
  across labs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar

from billiard.einfo import ExceptionInfo
from billiard.exceptions import WorkerLostError
from celery import Celery
from celery.concurrency import thread as celery_thread_pool
from celery.concurrency.base import apply_target
from celery.concurrency.thread import TaskPool as ThreadTaskPool
from celery.exceptions import WorkerShutdown
from celery.worker import WorkController
from celery.worker import state as celery_worker_state
from celery.worker.consumer import Consumer
from kombu.asynchronous import hub as kombu_hub

from celery_tutor.lab import runtime
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


class LabThreadPool(ThreadTaskPool):
    """Celery's threads pool, with tasks that die with their worker."""

    runtime: ClassVar[WorkerRuntime]
    on_skipped: ClassVar[Callable[[WorkerRuntime, str], None]]
    executor: Any  # Celery's ThreadPoolExecutor (set by the base class)

    def on_terminate(self) -> None:
        # Celery's threads pool leaves queued tasks running after a cold stop; a dead
        # worker runs nothing more.
        self.executor.shutdown(wait=False, cancel_futures=True)

    def on_apply(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        callback: Callable[..., Any] | None = None,
        accept_callback: Callable[..., Any] | None = None,
        error_callback: Callable[..., Any] | None = None,
        **_: Any,
    ) -> Any:
        worker = self.runtime
        app = self.app

        def run() -> None:
            if worker.killed.is_set():
                return  # it was queued in a worker that is gone
            runtime.bind_worker(worker)
            if app is not None:
                app.set_current()
            try:
                self._run(worker, target, args or (), kwargs or {}, callback, accept_callback, error_callback)
            finally:
                runtime.bind_worker(None)

        return ApplyResult(self.executor.submit(run))

    def _run(
        self,
        worker: WorkerRuntime,
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
            apply_target(body, args, kwargs, callback, accept_callback, propagate=(SimulatedKill, SimulatedChildKill))
        except SimulatedKill:
            return  # the process is gone: no ack, no result, no failure
        except SimulatedChildKill:
            run = runtime.maybe_current_run()
            if run is not None:
                run.dead = False  # the parent process lives on and reports the loss
            if error_callback is None:
                return
            try:
                raise WorkerLostError(WORKER_LOST)
            except WorkerLostError:
                error_callback(ExceptionInfo())


class LabConsumer(Consumer):
    """Celery's consumer, owning only its own requests in the process-global worker state."""

    controller: Any  # the LabWorker (set by Celery's blueprint)
    task_buckets: Any

    def connect(self) -> Any:
        connection = super().connect()
        transport: Any = connection.transport
        transport.owner = self.controller.runtime.name
        transport.runtime = self.controller.runtime  # a dead worker's channels take nothing more
        return connection

    def _mine(self, request: Any) -> bool:
        return request.hostname == self.hostname

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
    ) -> None:
        self.runtime = runtime_
        self._on_ready = on_ready
        self.consuming = threading.Event()
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
        """The lab channels of this worker's broker connection (any broker kind)."""
        consumer = getattr(self, "consumer", None)
        connection = getattr(consumer, "connection", None)
        if connection is None:
            return []
        transport = connection.transport
        return [ch for ch in list(getattr(transport, "channels", [])) if isinstance(ch, SeverableChannel)]

    def forget_requests(self) -> None:
        """After the worker is gone, clean its traces out of Celery's process-wide state."""
        consumer = getattr(self, "consumer", None)
        if isinstance(consumer, LabConsumer):
            consumer.forget_all()
