"""What the lab looks like at one moment: immutable views that any thread or layer may keep.

:class:`~.state.LabState` folds events into these; the UI, goals, reports and waits read
them. Plain data only: no Celery, no threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from celery_tutor.lab.events import LedgerWritten


@dataclass(frozen=True, slots=True)
class ReadyMessage:
    """A message waiting in the queue."""

    task_id: str
    task: str
    retries: int
    redelivered: bool
    eta_at: float | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """One execution of a task body."""

    number: int
    worker: str
    started_at: float
    redelivered: bool
    retries: int
    checkpoint: str | None = None
    outcome: str | None = None
    """None while running; then success, failure, retry, lost, died, child killed."""


@dataclass(frozen=True, slots=True)
class ScheduledRetry:
    """A message a worker holds, unacked, until its ETA."""

    task_id: str
    task: str
    eta_at: float
    retries: int


@dataclass(frozen=True, slots=True)
class WorkerView:
    """A worker as the learner sees it."""

    name: str
    status: str
    """alive, stopping, stopped or killed."""
    concurrency: int
    prefetch_multiplier: int
    unacked: tuple[str, ...] = ()
    running: tuple[tuple[str, str, Run], ...] = ()
    """(task id, task name, run) for every task body running now."""
    scheduled: tuple[ScheduledRetry, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskView:
    """Everything known about one task id."""

    task_id: str
    task: str
    alias: str | None
    state: str
    """PENDING, RECEIVED, STARTED, RETRY, SUCCESS, FAILURE, REJECTED or LOST."""
    runs: tuple[Run, ...] = ()
    result: str | None = None
    exception: str | None = None
    max_retries: int | None = None
    retry_eta_at: float | None = None
    retry_attempt: int | None = None
    """Which retry is waiting (1 for the first), while the task is in RETRY."""


@dataclass(frozen=True, slots=True)
class LabSnapshot:
    """The whole lab at one moment."""

    at: float
    ready: tuple[ReadyMessage, ...]
    workers: tuple[WorkerView, ...]
    tasks: tuple[TaskView, ...]
    ledger: tuple[LedgerWritten, ...]
    """Every side effect so far, as the lab reported it."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The Celery settings in effect (new workers start with them)."""
    task_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Task name → the options the lab applies on top of its decorator."""
    seq: int = 0
    """The last event folded in (0: none yet)."""

    @property
    def retries(self) -> tuple[TaskView, ...]:
        """Tasks waiting for a retry's ETA."""
        return tuple(view for view in self.tasks if view.state == "RETRY" and view.retry_eta_at is not None)

    def task(self, task_id: str) -> TaskView:
        """The view of one task id."""
        for view in self.tasks:
            if view.task_id == task_id:
                return view
        raise KeyError(task_id)

    def worker(self, name: str) -> WorkerView:
        """The view of one worker."""
        for view in self.workers:
            if view.name == name:
                return view
        raise KeyError(name)
