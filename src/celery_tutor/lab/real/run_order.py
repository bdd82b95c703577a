"""A run's events in the order they happened, though a worker sends them on two connections.

A prefork worker reports a run from two processes: the main process sends Celery's
``task-received``, then ``task-succeeded`` or ``task-failed`` and the late ack; the pool child
sends the lab's own reports (started, checkpoints, side effects, and ``task_finished`` once
the outcome is stored) on a connection of its own. The broker keeps each connection's order,
not their order between them. The main process also buffers its task events until its event
loop turns again, while the child, handed the job, reports its start at once. So a run's
start can reach the tutor before its delivery does, and a short task's success before its start.

:class:`RunOrder` puts them back in order, per task and worker:

- the child's reports of a run wait for the main process's ``task-received`` of it (a child
  that kills its whole worker does not wait: that buffer dies with its process);
- the main process's conclusion of a run (and whatever it says of that task after it) waits
  until the child has closed a run that is not concluded yet: its ``task_finished``, or its death.

Nothing waits longer than :data:`HOLD_SECONDS` (a run Celery skipped never starts; a child that
died unheard never reports), nor past a barrier. Pure bookkeeping: the caller brings the clock
and runs the timer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from celery_tutor.lab.kit import FINISHED_CHECKPOINT
from celery_tutor.lab.real import protocol

HOLD_SECONDS = 1.0
"""The longest an event waits for what must come before it (that normally trails by milliseconds)."""

ENDS = frozenset({"task-succeeded", "task-failed"})
"""Main-process events that conclude a run."""
AFTER_END = frozenset({*ENDS, "task-rejected", protocol.ACKED})
"""Main-process events about a task that must not overtake a conclusion held before them."""
RECEIVED = "task-received"
"""The main process's receipt of a delivery: the child's reports of its run come after it."""
CHILD_REPORTS = frozenset(
    {
        protocol.STARTED,
        protocol.CHECKPOINT,
        protocol.LEDGER,
        protocol.SKIPPED,
        protocol.RETRY,
        protocol.FAILURE_TAKEN,
        protocol.CHILD_KILLED,
        protocol.CRASH,
    }
)
"""What the pool child says of a run it was handed."""
CLOSES = frozenset({protocol.CHILD_KILLED, protocol.CANCELLED})
"""Reports after which the child says nothing more of its run (it dies, or is terminated),
besides its ``task_finished`` and a hard time limit."""

Event = Mapping[str, Any]
Key = tuple[str, str]
"""(task id, worker): two copies of one task may run on two workers at once (Redis)."""


@dataclass
class _Runs:
    """What one worker's child and main process have said of one task's runs so far."""

    received: int = 0
    """Deliveries the main process received whose run the child has not started yet."""
    closed: int = 0
    """Runs whose child reports are all in and that the main process has not concluded yet."""
    retrying: bool = False
    """The child's run asked for a retry: Celery concludes it with no end of the main process."""
    waiting: list[tuple[float, Event]] = field(default_factory=list)
    """Child reports waiting for their delivery's receipt, in arrival order, each with the time it stops waiting."""
    held: list[tuple[float, Event]] = field(default_factory=list)
    """Main-process events waiting for the child to close a run, the same way."""

    def settled(self) -> bool:
        """Nothing open, nothing waiting: as if never seen."""
        return not (self.received or self.closed or self.retrying or self.waiting or self.held)


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
        out = _admit(runs, event, now + HOLD_SECONDS)
        self._forget_if_settled(key)
        return out

    def next_deadline(self) -> float | None:
        """When the first waiting or held event stops waiting (None: nothing is held)."""
        firsts = [queue[0][0] for runs in self._runs.values() for queue in (runs.waiting, runs.held) if queue]
        return min(firsts, default=None)

    def due(self, now: float) -> list[Event]:
        """Held events whose wait is over, in order: what they wait for will not come (any more)."""
        out: list[Event] = []
        for key, runs in list(self._runs.items()):
            if runs.waiting and runs.waiting[0][0] <= now:
                out += _drain(runs, force=True)
            if runs.held and runs.held[0][0] <= now:
                out += _release(runs, force=True)
            self._forget_if_settled(key)
        return out

    def release_all(self) -> list[Event]:
        """Everything held (every event sent before a barrier has arrived: nothing more will)."""
        return self.due(math.inf)

    def forget_worker(self, worker: str) -> None:
        """The worker is gone (stopped or killed): its open deliveries and runs will never be concluded.

        A worker restarted under the same name must not find them: a run its predecessor's
        cold shutdown cancelled (Celery sends no success or failure for it) would let the new
        run's success pass before that run's start.
        """
        for key, runs in list(self._runs.items()):
            if key[1] == worker:
                runs.received = runs.closed = 0
                runs.retrying = False
                self._forget_if_settled(key)

    def tracked(self) -> int:
        """How many (task, worker) pairs are remembered: those with a delivery or run open, or an event held."""
        return len(self._runs)

    def clear(self) -> None:
        """Forget everything (the lab was reset)."""
        self._runs.clear()

    def _forget_if_settled(self, key: Key) -> None:
        """A pair with nothing open or held is as if never seen: keep memory to the runs in flight."""
        if self._runs[key].settled():
            del self._runs[key]


def _admit(runs: _Runs, event: Event, deadline: float, force: bool = False) -> list[Event]:
    """One event of a (task, worker) pair: what goes now (``force``: its wait is over)."""
    kind = event.get("type")
    if kind == protocol.CRASH and not force:
        # The child takes its whole worker down: a receipt still in the main process's buffer dies with it.
        return [*_drain(runs, force=True), *_admit(runs, event, deadline, force=True)]
    if kind in CHILD_REPORTS and not force and (runs.waiting or (kind == protocol.STARTED and not runs.received)):
        runs.waiting.append((deadline, event))
        return []
    if kind == RECEIVED:
        runs.received += 1
        return [event, *_drain(runs)]
    if kind == protocol.STARTED:
        runs.received = max(0, runs.received - 1)
    if kind in AFTER_END and (runs.held or (_concludes(event) and not runs.closed)):
        runs.held.append((deadline, event))
        return []
    if _concludes(event):
        runs.closed = max(0, runs.closed - 1)
    out = [event]
    if kind == protocol.RETRY:
        runs.retrying = True
    elif _closes(event):
        if not runs.retrying:
            runs.closed += 1
        runs.retrying = False
        out += _release(runs)
    return out


def _drain(runs: _Runs, force: bool = False) -> list[Event]:
    """The child's waiting reports, admitted again in order (``force``: without their receipt)."""
    waiting, runs.waiting = runs.waiting, []
    out: list[Event] = []
    for deadline, event in waiting:
        out += _admit(runs, event, deadline, force)
    return out


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
            if runs.closed:
                runs.closed -= 1
            elif force:
                runs.received = max(0, runs.received - 1)  # a delivery concluded with no run: Celery skipped it
            else:
                break  # the next run's conclusion waits for its own child
        out.append(runs.held.pop(0)[1])
    return out
