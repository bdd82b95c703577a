"""A real Celery worker (``WorkController``, threads pool) that can die like a process.

Three small subclasses of Celery's own classes make an in-process worker faithful: the
pool (:class:`~.lab_pool.LabThreadPool`, tasks that die as a process's would), the
consumer (:class:`~.lab_consumer.LabConsumer`, which touches only its own worker's
requests), and :class:`LabWorker` here, which says when it is consuming and runs its
threads with its own app as Celery's current app (``current_app`` is thread-local;
``set_default`` would leak across labs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.exceptions import WorkerShutdown, WorkerTerminate
from celery.worker import WorkController
from kombu.asynchronous import hub as kombu_hub

from celery_tutor.lab import runtime
from celery_tutor.lab.broker_api import SeverableChannel
from celery_tutor.lab.lab_consumer import LabConsumer
from celery_tutor.lab.lab_pool import LabThreadPool
from celery_tutor.lab.runtime import WorkerRuntime

_hub_lock = threading.Lock()
"""Held while a worker is built: kombu keeps one event loop per process, each worker needs its own."""


def _raise_warm_shutdown() -> None:
    # What Celery's state.maybe_shutdown() raises in the loop after a SIGTERM; the worker
    # catches it in start() and stops warm, exit code 0.
    raise WorkerShutdown(0)


def _raise_cold_shutdown() -> None:
    # What Celery's loop raises after a SIGQUIT; the worker catches it and terminates.
    raise WorkerTerminate(1)


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
        except WorkerTerminate:
            # A kill's request (see request_cold_shutdown) that a closing event loop ran
            # inside a shutdown already under way: the process would simply be gone now.
            pass
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

    def request_cold_shutdown(self) -> bool:
        """Cold shutdown the way SIGQUIT asks for it: the event loop ends itself between two turns.

        Closed from another thread, a Redis worker's loop would first sit out its one-second
        poll. False when there is no running event loop to ask (the memory broker, or a
        worker not yet consuming): the caller then terminates the worker from outside.
        """
        hub = getattr(self, "hub", None)
        if hub is None or not self.consuming.is_set():
            return False
        hub.call_soon(_raise_cold_shutdown)
        return True

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
