"""One lab's event bus: every event numbered in one total order, handed to every subscriber.

Events come from Celery's threads, kombu's threads and the lab's own, so numbering,
folding into the lab-side :class:`~.state.LabState` and calling subscribers happen
under one lock: every subscriber sees the same events in the same order, and
:meth:`EventBus.wait_until` re-checks its condition after each one. The fold here is
what the lab itself needs (waits, aliases, which tasks run where); nothing in this
module knows about Celery.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from celery_tutor.lab import events as ev
from celery_tutor.lab import logs
from celery_tutor.lab.settings import LabConfigError
from celery_tutor.lab.state import LabState
from celery_tutor.lab.views import LabSnapshot, Run, TaskView

E = TypeVar("E", bound=ev.LabEvent)
Subscriber = Callable[[ev.LabEvent], None]


class EventBus:
    """Numbers, folds and delivers one lab's events; drops them once closed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._t0 = clock()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._subscribers: list[Subscriber] = []
        self._seq = 0
        self._state = LabState()
        self._closed = False

    def now(self) -> float:
        """Seconds since the bus was created, on its clock."""
        return self._clock() - self._t0

    def close(self) -> None:
        """Emit nothing more: what a closing lab's dying threads do is nobody's business."""
        with self._lock:
            self._closed = True

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every event from now on; returns the unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def emit(self, cls: type[E], **fields: Any) -> E | None:
        """Number, fold and deliver one event; None once the bus is closed."""
        with self._lock:
            if self._closed:
                return None
            self._seq += 1
            event = cls(seq=self._seq, at=self.now(), **fields)
            self._state.apply(event)
            for callback in list(self._subscribers):
                try:
                    callback(event)
                except Exception as exc:  # a subscriber must never break the lab
                    logs.report_subscriber_error(callback, event, exc)
            self._changed.notify_all()
        return event

    # -- the lab-side fold ---------------------------------------------------------------

    def snapshot(self) -> LabSnapshot:
        """Everything the events say about the lab at this moment."""
        with self._lock:
            return self._state.snapshot()

    def wait_until(self, predicate: Callable[[LabSnapshot], bool], timeout: float) -> bool:
        """Block until ``predicate(snapshot)`` holds (checked after every event)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self._state.snapshot()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def name_task(self, task_id: str, task: str, alias: str | None) -> None:
        """Register a task id (and its alias) before its message is published."""
        with self._lock:
            self._state.name_task(task_id, task, alias)

    def task(self, task_id: str) -> TaskView | None:
        """What the events say about one task id, if anything."""
        with self._lock:
            return self._state.task(task_id)

    def name_of(self, task_id: str) -> str:
        """The task name of a task id ("?" when unknown)."""
        view = self.task(task_id)
        return view.task if view else "?"

    def running_on(self, worker: str) -> dict[str, Run]:
        """The runs a worker is in the middle of, by task id."""
        with self._lock:
            try:
                running = self._state.snapshot().worker(worker).running
            except KeyError:
                return {}
        return {task_id: run for task_id, _name, run in running}

    def task_id(self, ref: str) -> str:
        """The task id a script or lesson named ``ref``: an alias, or the latest task of that name."""
        with self._lock:
            task_id = self._state.aliases.get(ref)
            if task_id is not None:
                return task_id
            named = [view.task_id for view in self._state.snapshot().tasks if view.task == ref]
            if named:
                return named[-1]
            known = ", ".join(sorted(self._state.aliases)) or "none yet"
            raise LabConfigError(f"no task {ref!r} sent yet; aliases: {known}")
