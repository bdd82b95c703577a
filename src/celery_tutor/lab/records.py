"""The records :class:`~.state.LabState` folds events into: tasks, runs and workers.

They change in place as events arrive (folding stays cheap) and freeze into the
immutable views of :mod:`.views` when read; copies share nothing mutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from celery_tutor.lab.views import HeldMessage, Run, ScheduledRetry, TaskView, WorkerView

View = TypeVar("View")


class _Record(Generic[View]):
    """A record that changes in place and builds its frozen view only when read after a change.

    Building frozen views on every event was most of the fold's cost in a burst.
    """

    __slots__ = ("_view",)

    def __init__(self) -> None:
        self._view: View | None = None

    def change(self, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
        self._view = None

    def view(self) -> View:
        if self._view is None:
            self._view = self._freeze()
        return self._view

    def _freeze(self) -> View:
        raise NotImplementedError


class RunRecord(_Record[Run]):
    """A run as the fold keeps it: changed in place, frozen into a :class:`Run` when read."""

    __slots__ = ("checkpoint", "number", "outcome", "redelivered", "retries", "started_at", "worker")

    def __init__(self, number: int, worker: str, started_at: float, redelivered: bool, retries: int) -> None:
        super().__init__()
        self.number = number
        self.worker = worker
        self.started_at = started_at
        self.redelivered = redelivered
        self.retries = retries
        self.checkpoint: str | None = None
        self.outcome: str | None = None

    def copy(self) -> RunRecord:
        """The same run, changed apart from this one from now on (its frozen view is shared)."""
        twin = RunRecord(self.number, self.worker, self.started_at, self.redelivered, self.retries)
        twin.checkpoint, twin.outcome, twin._view = self.checkpoint, self.outcome, self._view
        return twin

    def copy_in(self, runs: dict[int, RunRecord]) -> RunRecord:
        """Its copy in ``runs`` (by id), made on first call: a task and the worker running it share one."""
        return runs.setdefault(id(self), self.copy())

    def _freeze(self) -> Run:
        return Run(
            self.number, self.worker, self.started_at, self.redelivered, self.retries, self.checkpoint, self.outcome
        )


class TaskRecord(_Record[TaskView]):
    """A task as the fold keeps it: changed in place, frozen into a :class:`TaskView` when read."""

    __slots__ = (
        "alias",
        "exception",
        "max_retries",
        "result",
        "retry_attempt",
        "retry_eta_at",
        "runs",
        "state",
        "task",
        "task_id",
    )

    def __init__(self, task_id: str, task: str, alias: str | None, state: str = "PENDING") -> None:
        super().__init__()
        self.task_id = task_id
        self.task = task
        self.alias = alias
        self.state = state
        self.runs: list[RunRecord] = []
        self.result: str | None = None
        self.exception: str | None = None
        self.max_retries: int | None = None
        self.retry_eta_at: float | None = None
        self.retry_attempt: int | None = None

    def touch(self) -> None:
        """One of its runs changed."""
        self._view = None

    def copy(self, runs: dict[int, RunRecord]) -> TaskRecord:
        """The same task, with copies of its runs (``runs`` maps each run's id to its copy)."""
        twin = TaskRecord(self.task_id, self.task, self.alias, self.state)
        twin.runs = [run.copy_in(runs) for run in self.runs]
        twin.result, twin.exception, twin.max_retries = self.result, self.exception, self.max_retries
        twin.retry_eta_at, twin.retry_attempt, twin._view = self.retry_eta_at, self.retry_attempt, self._view
        return twin

    def _freeze(self) -> TaskView:
        return TaskView(
            self.task_id,
            self.task,
            self.alias,
            self.state,
            tuple(run.view() for run in self.runs),
            self.result,
            self.exception,
            self.max_retries,
            self.retry_eta_at,
            self.retry_attempt,
        )


@dataclass
class WorkerRecord:
    """A worker as the fold keeps it: its status, what it holds unacked, runs and waits."""

    name: str
    status: str
    concurrency: int
    prefetch_multiplier: int
    unacked: list[HeldMessage] = field(default_factory=list)
    """What the broker keeps for this worker, oldest delivery first."""
    running: dict[str, RunRecord] = field(default_factory=dict)
    scheduled: dict[str, ScheduledRetry] = field(default_factory=dict)

    def copy(self, runs: dict[int, RunRecord]) -> WorkerRecord:
        """The same worker, running the copies of its runs (``runs`` maps each run's id to its copy)."""
        running = {task_id: run.copy_in(runs) for task_id, run in self.running.items()}
        return replace(self, unacked=list(self.unacked), running=running, scheduled=dict(self.scheduled))

    def view(self, names: Mapping[str, str], next_scan_at: float | None) -> WorkerView:
        """The worker frozen, its running tasks named from ``names`` (task id → task)."""
        return WorkerView(
            name=self.name,
            status=self.status,
            concurrency=self.concurrency,
            prefetch_multiplier=self.prefetch_multiplier,
            unacked=tuple(held.task_id for held in self.unacked),
            running=tuple((task_id, names.get(task_id, "?"), run.view()) for task_id, run in self.running.items()),
            scheduled=tuple(sorted(self.scheduled.values(), key=lambda s: s.eta_at)),
            held=tuple(self.unacked),
            next_scan_at=next_scan_at,
        )
