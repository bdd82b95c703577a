"""Fixtures for the real-worker lab tests.

Every test here drives a real Celery 5.7 worker inside this process, on the lab's
RabbitMQ-like memory broker. Nothing in Celery is mocked: tests wait on the lab's own
events and snapshots (never on ``time.sleep``) and read Celery's stored results through
``lab.app.AsyncResult``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from celery_tutor.lab import Lab, LabConfig
from celery_tutor.lab import events as ev
from celery_tutor.lab.views import TaskView

WAIT = 10.0
"""How long a test waits for something that should happen (only reached on failure)."""

TERMINAL = frozenset({"SUCCESS", "FAILURE", "LOST", "REJECTED"})


class EventLog:
    """Every event of one lab, in order, with a way to wait for the ones still to come."""

    def __init__(self) -> None:
        self._events: list[ev.LabEvent] = []
        self._changed = threading.Condition()

    def __call__(self, event: ev.LabEvent) -> None:
        # Runs on the lab's and Celery's threads: record and wake waiters, nothing else.
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()

    @property
    def events(self) -> list[ev.LabEvent]:
        with self._changed:
            return list(self._events)

    def of(self, kind: str, task_id: str | None = None, **fields: Any) -> list[Any]:
        """Events of one kind (optionally about one task id, with matching fields)."""
        return [e for e in self.events if _matches(e, kind, task_id, fields)]

    def kinds(self, task_id: str, among: Iterable[str] | None = None) -> list[str]:
        """The kinds of the events about one task id, in order."""
        wanted = set(among) if among is not None else None
        return [
            e.kind
            for e in self.events
            if getattr(e, "task_id", None) == task_id and (wanted is None or e.kind in wanted)
        ]

    def wait_for(self, predicate: Callable[[list[ev.LabEvent]], bool], timeout: float = WAIT) -> bool:
        """Block until ``predicate(events so far)`` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self._events):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def wait_event(self, kind: str, task_id: str | None = None, count: int = 1, **fields: Any) -> Any:
        """Wait for the ``count``-th matching event and return it (fails the test on timeout)."""

        def enough(events: list[ev.LabEvent]) -> bool:
            return sum(1 for e in events if _matches(e, kind, task_id, fields)) >= count

        assert self.wait_for(enough), f"no {count}× {kind!r} event for {task_id} {fields}; saw:\n{self.timeline()}"
        return self.of(kind, task_id, **fields)[count - 1]

    def timeline(self) -> str:
        """The log as text, for assertion messages."""
        return "\n".join(f"{e.seq:4} {e.at:8.3f} {e.describe()}" for e in self.events)


def _matches(event: ev.LabEvent, kind: str, task_id: str | None, fields: dict[str, Any]) -> bool:
    return (
        event.kind == kind
        and (task_id is None or getattr(event, "task_id", None) == task_id)
        and all(getattr(event, name, None) == value for name, value in fields.items())
    )


class LabFactory:
    """Builds and starts labs for one test; the fixture closes them all afterwards."""

    def __init__(self) -> None:
        self.labs: list[Lab] = []
        self._logs: dict[int, EventLog] = {}

    def __call__(
        self,
        settings: dict[str, Any] | None = None,
        task_options: dict[str, dict[str, Any]] | None = None,
        workers: int = 1,
        *,
        start: bool = True,
        **config: Any,
    ) -> Lab:
        """A lab; ``config`` holds any other :class:`LabConfig` field (``extra_tasks``…)."""
        lab = Lab(
            LabConfig(settings=dict(settings or {}), task_options=dict(task_options or {}), workers=workers, **config)
        )
        log = EventLog()
        lab.subscribe(log)  # before start: the log sees the first worker_started too
        self.labs.append(lab)
        self._logs[id(lab)] = log
        if start:
            lab.start()
        return lab

    def events(self, lab: Lab) -> EventLog:
        """The event log recorded since ``lab`` was made."""
        return self._logs[id(lab)]

    def close_all(self) -> list[str]:
        """Close every lab (in parallel: each close may wait ~1 s for Celery's timer thread).

        Returns the names of lab threads still alive afterwards.
        """
        closers = [threading.Thread(target=lab.close, name=f"close-lab{lab.number}") for lab in self.labs]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join()
        return [t.name for lab in self.labs for t in lab.live_threads()]

    # -- helpers the tests reach through the fixture ---------------------------------------

    @staticmethod
    def wait_for_task(lab: Lab, task_id: str, states: Iterable[str] = TERMINAL, timeout: float = WAIT) -> TaskView:
        """Wait until the lab shows ``task_id`` in one of ``states``; return its view."""
        wanted = frozenset(states)
        ok = lab.wait_until(lambda s: s.task(task_id).state in wanted, timeout)
        view = lab.snapshot().task(task_id)
        assert ok, f"{task_id} stayed {view.state}, expected one of {sorted(wanted)}: {view}"
        return view

    @classmethod
    def settle(cls, lab: Lab, timeout: float = WAIT) -> str:
        """A barrier: send an ``add`` and wait for its SUCCESS; returns its id.

        With one worker, concurrency 1 and a FIFO queue (redeliveries go to its head),
        any message that was in the queue, or that came back to it, has been handled by
        the time this returns.
        """
        sentinel = lab.send("add", (20, 22))
        view = cls.wait_for_task(lab, sentinel, timeout=timeout)
        assert view.state == "SUCCESS", view
        return sentinel


@pytest.fixture
def make_lab() -> Iterator[LabFactory]:
    """``make_lab(settings=..., task_options=..., workers=...)`` → a started :class:`Lab`."""
    factory = LabFactory()
    try:
        yield factory
    finally:
        leftovers = factory.close_all()
    assert not leftovers, f"lab threads still alive after close(): {leftovers}"
