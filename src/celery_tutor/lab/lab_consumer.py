"""The lab worker's consumer: Celery's own, told which worker it belongs to.

:class:`LabConsumer` tags its broker connection with the worker's name and, on close and
on a lost connection, touches only its own requests in ``celery.worker.state``, which is
process-global (every lab worker shares one Python process).
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

from celery.worker import state as celery_worker_state
from celery.worker.consumer import Consumer

from celery_tutor.lab import events as ev

# celery-types does not describe these internals; they are used as Celery 5.7 defines them.
worker_state: Any = celery_worker_state


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
