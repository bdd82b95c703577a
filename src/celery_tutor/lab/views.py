"""What the lab looks like at one moment: immutable views that any thread or layer may keep.

:class:`~.state.LabState` folds events into these; the UI, goals, reports and waits read
them. Plain data only: no Celery, no threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from celery_tutor.lab.events import LedgerWritten

KOMBU_REDIS_DEFAULTS: Mapping[str, float] = {
    "visibility_timeout": 3600,
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 10,
    "unacked_mutex_expire": 300,
}
"""kombu 5.7's Redis transport options, where a lab leaves them unset."""


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
class HeldMessage:
    """A message delivered to a worker and not acked: the broker keeps it for that worker.

    On Redis the broker only notes *when* it was delivered: the message becomes visible
    again ``visibility_timeout`` seconds later, and comes back at the first restore scan
    after that, whether its holder died or not.
    """

    task_id: str
    task: str
    holder: str
    delivered_at: float


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
    held: tuple[HeldMessage, ...] = ()
    """The unacked messages again, with when each was delivered (in the order of ``unacked``)."""
    next_scan_at: float | None = None
    """Redis: when this worker's next restore scan is due (None: none reported yet)."""


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
    broker: str = "rabbitmq"
    """``rabbitmq`` (RabbitMQ-like, in process) or ``redis`` (kombu's Redis transport, a real server)."""
    broker_server: str = ""
    """The server behind a Redis lab, as it names itself (``Valkey 9.1.2``)."""
    invisible: tuple[HeldMessage, ...] = ()
    """Redis: messages held unacked by a connection that died. The broker keeps them,
    invisible, until a restore scan finds them older than the visibility timeout."""

    @property
    def visibility_timeout(self) -> float | None:
        """Redis: seconds an unacked message stays invisible (None on RabbitMQ: it never expires)."""
        if self.broker != "redis":
            return None
        return float(self.transport_option("visibility_timeout"))

    def transport_option(self, name: str) -> Any:
        """A Redis transport option in effect: the lab's setting, else kombu's default."""
        options = self.settings.get("broker_transport_options") or {}
        return options.get(name, KOMBU_REDIS_DEFAULTS[name])

    def visible_again_at(self, message: HeldMessage) -> float | None:
        """Redis: when a held message becomes visible again (a scan after that restores it)."""
        timeout = self.visibility_timeout
        return None if timeout is None else message.delivered_at + timeout

    @property
    def next_scan_at(self) -> float | None:
        """Redis: when the next restore scan of a live worker is due (None: no worker scans)."""
        due = [w.next_scan_at for w in self.workers if w.status == "alive" and w.next_scan_at is not None]
        return min(due) if due else None

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
