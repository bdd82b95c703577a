"""A run's events in the order they happened, though a worker sends them on two connections.

A prefork worker reports a run from two processes: the pool child sends the lab's own
reports (started, checkpoints, side effects, and ``task_finished`` once the outcome is
stored) on its connection, and the main process sends Celery's ``task-succeeded`` or
``task-failed`` and the late ack on another. The broker keeps each connection's order, not
their order between them, so a short task's success can reach the tutor before its start.
Folded in that order, the task would look started again after it succeeded.

:class:`RunOrder` holds the main process's conclusion of a run (and whatever the main
process says of that task after it) until the child has closed a run on that worker that is
not concluded yet: its ``task_finished``, or its death. A run that never started (Celery
skipped a redelivery whose SUCCESS is stored) or a child that died unheard is not waited for
longer than :data:`HOLD_SECONDS`. Pure bookkeeping: the caller brings the clock and runs the timer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from celery_tutor.lab.kit import FINISHED_CHECKPOINT
from celery_tutor.lab.real import protocol

HOLD_SECONDS = 1.0
"""The longest a run's end waits for its child's reports (they normally trail by milliseconds)."""

ENDS = frozenset({"task-succeeded", "task-failed"})
"""Main-process events that conclude a run."""
AFTER_END = frozenset({*ENDS, "task-rejected", protocol.ACKED})
"""Main-process events about a task that must not overtake a conclusion held before them."""
CLOSES = frozenset({protocol.CHILD_KILLED, protocol.CANCELLED})
"""Reports after which the child says nothing more of its run (it dies, or is terminated),
besides its ``task_finished`` and a hard time limit."""

Event = Mapping[str, Any]
Key = tuple[str, str]
"""(task id, worker): two copies of one task may run on two workers at once (Redis)."""


@dataclass
class _Runs:
    """What one worker's child and main process have said of one task's runs so far."""

    closed: int = 0
    """Runs whose child reports are all in and that the main process has not concluded yet."""
    retrying: bool = False
    """The child's run asked for a retry: Celery concludes it with no end of the main process."""
    held: list[tuple[float, Event]] = field(default_factory=list)
    """Main-process events waiting, in arrival order, each with the time it stops waiting."""


class RunOrder:
    """Decides, event by event, what may be translated now and what waits for the child."""

    def __init__(self, worker_of: Callable[[Event], str]) -> None:
        self._worker_of = worker_of
        self._runs: dict[Key, _Runs] = {}

    def admit(self, event: Event, now: float) -> list[Event]:
        """The events to translate now, in order: this one, or none (held), and any it releases."""
        task_id = event.get("uuid")
        if not task_id:
            return [event]
        key = (str(task_id), self._worker_of(event))
        runs = self._runs.setdefault(key, _Runs())
        if event.get("type") in AFTER_END and (runs.held or (_concludes(event) and not runs.closed)):
            runs.held.append((now + HOLD_SECONDS, event))
            return []
        if _concludes(event):
            runs.closed -= 1
        out = [event]
        if event.get("type") == protocol.RETRY:
            runs.retrying = True
        elif _closes(event):
            if not runs.retrying:
                runs.closed += 1
            runs.retrying = False
            out += _release(runs)
        self._forget_if_settled(key)
        return out

    def next_deadline(self) -> float | None:
        """When the first held event stops waiting (None: nothing is held)."""
        return min((runs.held[0][0] for runs in self._runs.values() if runs.held), default=None)

    def due(self, now: float) -> list[Event]:
        """Held events whose wait is over, in order: their child will not report (more)."""
        out: list[Event] = []
        for key, runs in list(self._runs.items()):
            if runs.held and runs.held[0][0] <= now:
                out += _release(runs, force=True)
                self._forget_if_settled(key)
        return out

    def release_all(self) -> list[Event]:
        """Everything held (every event sent before a barrier has arrived: nothing more will)."""
        out: list[Event] = []
        for key, runs in list(self._runs.items()):
            out += _release(runs, force=True)
            self._forget_if_settled(key)
        return out

    def tracked(self) -> int:
        """How many (task, worker) pairs are remembered: those with a run open or an event held."""
        return len(self._runs)

    def clear(self) -> None:
        """Forget everything (the lab was reset)."""
        self._runs.clear()

    def _forget_if_settled(self, key: Key) -> None:
        """A pair with nothing open or held is as if never seen: keep memory to the runs in flight."""
        runs = self._runs[key]
        if not runs.held and not runs.closed and not runs.retrying:
            del self._runs[key]


def _concludes(event: Event) -> bool:
    """Does the main process conclude a run with this event?

    A success or a failure, or a requeue without a failure event (a lost worker's reject, a
    hard time limit's with ``task_acks_on_failure_or_timeout`` off).
    """
    kind = event.get("type")
    return kind in ENDS or (kind == "task-rejected" and bool(event.get("requeue")))


def _closes(event: Event) -> bool:
    """Has the child said all it will of its run? (A crash takes the main process too: no conclusion follows.)"""
    kind = event.get("type")
    if kind == protocol.CHECKPOINT:
        return event.get("checkpoint") == FINISHED_CHECKPOINT
    if kind == protocol.TIME_LIMIT:
        return not event.get("soft")
    return kind in CLOSES


def _release(runs: _Runs, force: bool = False) -> list[Event]:
    """The held events that may go now, in order (``force``: all of them)."""
    out: list[Event] = []
    while runs.held:
        event = runs.held[0][1]
        if _concludes(event):
            if not runs.closed and not force:
                break  # the next run's conclusion waits for its own child
            runs.closed = max(0, runs.closed - 1)
        out.append(runs.held.pop(0)[1])
    return out
