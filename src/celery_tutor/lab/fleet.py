"""A lab's in-process workers: start them, kill them like ``kill -9``, stop them warm.

Each worker is a real Celery ``WorkController`` on a thread of its own (see
:mod:`.worker`). Killing one severs its broker connection (RabbitMQ-like: every unacked
message goes back, flagged redelivered; Redis: the broker keeps them, invisible, until a
restore scan) and unwinds its task threads at their next checkpoint;
teardown runs on background threads, so every call here returns at once. The fleet
remembers every thread it started so that the lab can wait for them when it closes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from celery import Celery
from celery.exceptions import WorkerTerminate

from celery_tutor.lab import events as ev
from celery_tutor.lab.bus import EventBus
from celery_tutor.lab.runtime import TaskHooks, WorkerRuntime
from celery_tutor.lab.settings import LabConfigError
from celery_tutor.lab.worker import LabWorker

START_TIMEOUT = 10.0
"""Longest a worker may take to start consuming, or to finish after a stop or a kill."""
LOOP_STOP_WAIT = 1.0
"""Seconds a killed worker's event loop gets to end itself before it is closed from outside."""


class LabStateError(RuntimeError):
    """A control that makes no sense right now (no worker alive to crash, a closed lab…)."""


@dataclass(eq=False)
class WorkerHandle:
    """One incarnation of a named worker, and how it is doing."""

    name: str
    incarnation: int
    runtime: WorkerRuntime
    worker: LabWorker
    thread: threading.Thread
    status: str = "alive"
    """alive, stopping, stopped or killed."""
    gone: threading.Event = field(default_factory=threading.Event)
    """Set once a stop or a kill of this incarnation has finished tearing it down."""


class NamedWorker(Protocol):
    """A worker as a control names it: a name and where it is in its life."""

    name: str
    status: str


W = TypeVar("W", bound=NamedWorker)


def pick_worker(workers: Mapping[str, W], name: str | None, statuses: Iterable[str] = ("alive",)) -> W:
    """The named worker (or the first one) in one of ``statuses``, or a clear error (both labs' controls)."""
    wanted = tuple(statuses)
    if name is not None:
        worker = workers.get(name)
        if worker is None:
            raise LabConfigError(f"unknown worker {name!r}; valid: {', '.join(sorted(workers)) or 'none'}")
        if worker.status not in wanted:
            raise LabStateError(f"{name} is {worker.status}, not {' or '.join(wanted)}")
        return worker
    for worker in workers.values():
        if worker.status in wanted:
            return worker
    now = ", ".join(f"{w.name} is {w.status}" for w in workers.values()) or "the lab is not started"
    raise LabStateError(f"no worker is {' or '.join(wanted)} ({now})")


class WorkerFleet:
    """The workers of one lab, by name (a restarted worker keeps its name)."""

    def __init__(
        self, lab: str, bus: EventBus, hooks: TaskHooks, on_skipped: Callable[[WorkerRuntime, str], None]
    ) -> None:
        self._lab = lab
        self._bus = bus
        self._hooks = hooks
        self._on_skipped = on_skipped
        # Taken before the bus's lock, never while holding it.
        self._lock = threading.RLock()
        self._handles: dict[str, WorkerHandle] = {}
        self._by_runtime: dict[int, WorkerHandle] = {}
        self._threads: set[threading.Thread] = set()
        self._incarnations: Counter[str] = Counter()

    def handles(self) -> list[WorkerHandle]:
        """The latest incarnation of every worker, in start order."""
        with self._lock:
            return list(self._handles.values())

    def status(self, name: str) -> str:
        """alive, stopping, stopped or killed (KeyError for an unknown name)."""
        with self._lock:
            return self._handles[name].status

    def handle_of(self, runtime: WorkerRuntime) -> WorkerHandle | None:
        """The worker incarnation a task thread belongs to, until its teardown ends."""
        with self._lock:
            return self._by_runtime.get(id(runtime))

    def forget_all(self) -> None:
        """Forget every worker name (the lab is reset; killed workers still tear down)."""
        with self._lock:
            self._handles.clear()

    def start(self, name: str, app: Celery, concurrency: int, prefetch: int) -> WorkerHandle:
        """Start a worker (a new incarnation of ``name``); returns once it consumes."""
        self._incarnations[name] += 1
        incarnation = self._incarnations[name]
        worker_runtime = WorkerRuntime(name=name, hooks=self._hooks)
        worker = LabWorker(
            app,
            worker_runtime,
            hostname=f"{name}.{incarnation}@{self._lab}",
            concurrency=concurrency,
            prefetch_multiplier=prefetch,
            on_skipped=self._on_skipped,
            on_ready=lambda: self._bus.emit(
                ev.WorkerStarted, worker=name, concurrency=concurrency, prefetch_multiplier=prefetch
            ),
            emit=self._bus.emit,
        )
        thread = threading.Thread(target=worker.run, name=f"celery-tutor-{self._lab}-{name}", daemon=True)
        handle = WorkerHandle(name, incarnation, worker_runtime, worker, thread)
        with self._lock:
            self._handles[name] = handle
            self._by_runtime[id(worker_runtime)] = handle
            self._threads.add(thread)
        thread.start()
        if not worker.consuming.wait(START_TIMEOUT) or not thread.is_alive():
            raise LabStateError(f"{name} did not start consuming")
        return handle

    def pick(self, name: str | None, statuses: Iterable[str] = ("alive",)) -> WorkerHandle:
        """The named worker (or the first one) in one of ``statuses``, or a clear error."""
        with self._lock:
            return pick_worker(self._handles, name, statuses)

    def kill(self, handle: WorkerHandle, checkpoint: str | None, quiet: bool = False) -> None:
        """Kill a worker like ``kill -9``: its unacked messages go back, its running tasks are lost."""
        with self._lock:
            if handle.status not in ("alive", "stopping"):
                return
            handle.status = "killed"
            running = self._bus.running_on(handle.name)
        try:
            restored: list[str] = []
            kept: list[str] = []
            channels = handle.worker.channels()
            with ExitStack() as held:
                # Let a delivery in progress finish (and be reported), then die with the
                # connection: nothing is received in between.
                for channel in channels:
                    held.enter_context(channel.delivery_lock)
                handle.runtime.killed.set()
                for channel in channels:
                    restored.extend(channel.sever())
                    kept.extend(channel.held_ids())
            if not quiet:
                # A message the broker still holds unacked (Redis) comes back later: not lost. Nor
                # is one a lost connection left with the broker while this run went on.
                safe = {*restored, *kept}
                given_back = handle.worker.given_back
                lost = [
                    task_id
                    for task_id, run in running.items()
                    if task_id not in safe and not (task_id in given_back and run.started_at <= given_back[task_id])
                ]
                for task_id in lost:
                    self._bus.emit(
                        ev.TaskLost,
                        task_id=task_id,
                        task=self._bus.name_of(task_id),
                        worker=handle.name,
                        run=running[task_id].number,
                    )
                self._bus.emit(
                    ev.WorkerKilled,
                    worker=handle.name,
                    requeued=len(restored),
                    lost=len(lost),
                    checkpoint=checkpoint,
                    kept=len(kept),
                )
        finally:
            # Even if cutting the connection failed, the worker's threads must still end.
            self._background(f"{handle.name}-teardown", lambda: self._end_killed(handle))

    def _end_killed(self, handle: WorkerHandle) -> None:
        """End a killed worker's threads: its process is gone, its connection already cut."""
        # The process is gone (its connection was severed above); what is left is to end
        # its threads. A Redis worker's event loop ends itself between two turns, as on
        # SIGQUIT; closed from here it would sit out its one-second poll first.
        try:
            if handle.worker.request_cold_shutdown():
                handle.thread.join(LOOP_STOP_WAIT)
            if handle.thread.is_alive():
                # Closing the loop from here runs its pending callbacks, the cold shutdown asked
                # for above among them: raised here, it is the stop this call is making anyway.
                with suppress(WorkerTerminate):
                    handle.worker.terminate()
            handle.thread.join(START_TIMEOUT)
            handle.worker.forget_requests()
        finally:
            self._forget_runtime(handle)
            handle.gone.set()

    def stop(self, handle: WorkerHandle, cold: bool = False, before: Callable[[], None] | None = None) -> None:
        """Shut a worker down in the background: take no new messages, then stop.

        Warm: running tasks finish. Cold: ``before`` runs first (a soft shutdown, the
        cancelling of running tasks), then Celery's cold shutdown (``terminate``), and
        whatever still runs dies with the process.
        """
        with self._lock:
            handle.status = "stopping"
        for channel in handle.worker.channels():
            channel.draining = True
        self._bus.emit(ev.WorkerStopping, worker=handle.name, how="cold" if cold else "warm")

        def teardown() -> None:
            if before is not None:
                before()
            if cold:
                handle.worker.terminate()
                handle.runtime.killed.set()  # the process exited: its threads run nothing more
            else:
                handle.worker.request_warm_shutdown()
            handle.thread.join(START_TIMEOUT)
            handle.worker.forget_requests()
            self._forget_runtime(handle)
            with self._lock:
                # After a restart the name belongs to a newer worker: say nothing about it.
                current = handle.status == "stopping" and self._handles.get(handle.name) is handle
                if handle.status == "stopping":
                    handle.status = "stopped"
            if current:
                self._bus.emit(ev.WorkerStopped, worker=handle.name)
            handle.gone.set()

        self._background(f"{handle.name}-stop", teardown)

    def join(self, timeout: float) -> bool:
        """Wait for the threads of stopped and killed workers and their teardown; True when done."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._threads = {t for t in self._threads if t.is_alive()}
                alive = {h.thread for h in self._handles.values() if h.status == "alive"}
                pending = [t for t in self._threads if t not in alive]
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            pending[0].join(remaining)

    def live_threads(self) -> list[threading.Thread]:
        """Threads the fleet started that are still running."""
        with self._lock:
            return [t for t in self._threads if t.is_alive()]

    def background(self, name: str, target: Callable[[], None]) -> None:
        """Run ``target`` on a thread the lab waits for when it closes."""
        self._background(name, target)

    def _background(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"celery-tutor-{self._lab}-{name}", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _forget_runtime(self, handle: WorkerHandle) -> None:
        with self._lock:
            self._by_runtime.pop(id(handle.runtime), None)
