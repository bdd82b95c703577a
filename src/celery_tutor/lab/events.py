"""Typed events the lab emits: everything a learner must see happen.

Events are immutable and hold only plain data (ids, names, strings, numbers), never a
Celery ``Request`` or a live exception, so any thread can keep them and any layer can
read them. Every event has a ``seq`` (one total order per lab) and ``at`` (seconds since
the lab started, on the lab's clock). ``kind`` is the stable name that scripts and
lessons use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True, kw_only=True)
class LabEvent:
    """Base of every lab event."""

    kind: ClassVar[str] = "event"
    seq: int
    at: float

    def describe(self) -> str:
        """One line for a timeline or a report."""
        return self.kind

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (``kind`` first)."""
        data: dict[str, Any] = {"kind": self.kind}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            data[name] = value.to_dict() if hasattr(value, "to_dict") else value
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskEvent(LabEvent):
    """An event about one task (one task id; retries keep the id)."""

    task_id: str
    task: str


SCAN_RESTORE = "restored by the scan"
"""The reason of a :class:`MessageRedelivered` put back by Redis's restore scan, not by a dead connection."""


def _short(task_id: str) -> str:
    return task_id[:8]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskPublished(TaskEvent):
    """A message for the task reached the broker (sent by a client, or a retry)."""

    kind: ClassVar[str] = "published"
    retries: int = 0
    eta_in: float | None = None
    by_retry: bool = False
    args: str = ""
    alias: str | None = None
    """The name the script or lesson gave this task, if any."""

    def describe(self) -> str:
        what = "retry message" if self.by_retry else "message"
        eta = f", ETA in {self.eta_in:.1f}s" if self.eta_in is not None else ""
        return f"{what} published for {self.task}[{_short(self.task_id)}]{eta}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskReceived(TaskEvent):
    """A worker took the message from the queue (it is now unacked, held by the worker)."""

    kind: ClassVar[str] = "received"
    worker: str
    redelivered: bool
    retries: int
    eta_in: float | None = None

    def describe(self) -> str:
        flag = " (redelivered)" if self.redelivered else ""
        eta = f", waits {self.eta_in:.1f}s for its ETA" if self.eta_in is not None else ""
        return f"{self.worker} received {self.task}[{_short(self.task_id)}]{flag}{eta}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskStarted(TaskEvent):
    """The task body started running: ``run`` counts executions of this task id."""

    kind: ClassVar[str] = "started"
    worker: str
    run: int
    redelivered: bool
    retries: int

    def describe(self) -> str:
        flag = ", redelivered" if self.redelivered else ""
        return (
            f"{self.worker} started {self.task}[{_short(self.task_id)}] (run {self.run}, retries={self.retries}{flag})"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointReached(TaskEvent):
    """A running task reached a named point in its code."""

    kind: ClassVar[str] = "checkpoint"
    worker: str
    run: int
    checkpoint: str

    def describe(self) -> str:
        return f"{self.task}[{_short(self.task_id)}] reached '{self.checkpoint}'"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryScheduled(TaskEvent):
    """The task asked to be retried: a new message with the same id waits for its ETA."""

    kind: ClassVar[str] = "retry_scheduled"
    worker: str
    attempt: int
    max_retries: int | None
    countdown: float
    eta_at: float
    exc_type: str
    exc_message: str

    def describe(self) -> str:
        limit = "∞" if self.max_retries is None else str(self.max_retries)
        return (
            f"{self.task}[{_short(self.task_id)}] retry {self.attempt} of {limit} "
            f"in {self.countdown:.1f}s ({self.exc_type})"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSucceeded(TaskEvent):
    """The task returned and Celery stored SUCCESS."""

    kind: ClassVar[str] = "succeeded"
    worker: str
    result: str

    def describe(self) -> str:
        return f"{self.task}[{_short(self.task_id)}] succeeded: {self.result}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFailed(TaskEvent):
    """Celery recorded FAILURE for the task."""

    kind: ClassVar[str] = "failed"
    worker: str
    exc_type: str
    exc_message: str

    def describe(self) -> str:
        return f"{self.task}[{_short(self.task_id)}] failed: {self.exc_type}({self.exc_message})"


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageAcked(TaskEvent):
    """The worker acknowledged the message: the broker forgets it for good."""

    kind: ClassVar[str] = "acked"
    worker: str

    def describe(self) -> str:
        return f"{self.worker} acked {self.task}[{_short(self.task_id)}]"


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRejected(TaskEvent):
    """The worker rejected the message, asking the broker to requeue it or drop it."""

    kind: ClassVar[str] = "rejected"
    worker: str
    requeue: bool

    def describe(self) -> str:
        what = "requeued" if self.requeue else "dropped"
        return f"{self.worker} rejected {self.task}[{_short(self.task_id)}] ({what})"


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRedelivered(TaskEvent):
    """An unacked message went back to the queue, flagged ``redelivered``.

    ``reason`` says why, and so what became of its holder: ``"worker died"`` (the
    holder's connection dropped: RabbitMQ requeues, the holder's run is over),
    ``"worker stopped"`` (a clean close), ``"rejected, requeue=True"``, or
    :data:`SCAN_RESTORE` (Redis: a worker's restore scan found it older than the
    visibility timeout; its holder may still be running it or waiting for its ETA).
    """

    kind: ClassVar[str] = "redelivered"
    worker: str
    reason: str
    retries: int = 0
    eta_in: float | None = None

    def describe(self) -> str:
        return f"{self.task}[{_short(self.task_id)}] back in the queue ({self.reason})"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskLost(TaskEvent):
    """The task was running when its worker died, and its message was already acked."""

    kind: ClassVar[str] = "lost"
    worker: str
    run: int

    def describe(self) -> str:
        return (
            f"{self.task}[{_short(self.task_id)}] LOST: it was running on {self.worker}, "
            "already acked, when the worker died"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildKilled(TaskEvent):
    """Only the pool child running the task died (like the OOM killer)."""

    kind: ClassVar[str] = "child_killed"
    worker: str
    checkpoint: str | None

    def describe(self) -> str:
        where = f" at '{self.checkpoint}'" if self.checkpoint else ""
        return f"pool child running {self.task}[{_short(self.task_id)}] killed{where}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSkipped(TaskEvent):
    """A redelivered message was not run: Celery found its SUCCESS already stored."""

    kind: ClassVar[str] = "run_skipped"
    worker: str

    def describe(self) -> str:
        return f"{self.worker} skipped {self.task}[{_short(self.task_id)}]: redelivered, but SUCCESS is already stored"


@dataclass(frozen=True, slots=True, kw_only=True)
class SideEffectSkipped(TaskEvent):
    """A side effect was not repeated because its idempotency key was already used."""

    kind: ClassVar[str] = "skipped"
    action: str
    key: str

    def describe(self) -> str:
        return f"{self.action} {self.key} skipped: idempotency key already used"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerEvent(LabEvent):
    """An event about one worker."""

    worker: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStarted(WorkerEvent):
    """A worker is consuming."""

    kind: ClassVar[str] = "worker_started"
    concurrency: int
    prefetch_multiplier: int

    def describe(self) -> str:
        return f"{self.worker} started (concurrency {self.concurrency}, prefetch multiplier {self.prefetch_multiplier})"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerKilled(WorkerEvent):
    """The whole worker died at once, like ``kill -9``: its connection to the broker dropped."""

    kind: ClassVar[str] = "worker_killed"
    requeued: int
    lost: int
    checkpoint: str | None = None

    def describe(self) -> str:
        where = f" at '{self.checkpoint}'" if self.checkpoint else ""
        return (
            f"{self.worker} KILLED{where}: broker requeued {self.requeued} unacked message(s), "
            f"{self.lost} running task(s) lost"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStopping(WorkerEvent):
    """A warm shutdown began: no new messages; running tasks finish."""

    kind: ClassVar[str] = "worker_stopping"

    def describe(self) -> str:
        return f"{self.worker} warm shutdown: finishing running tasks"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStopped(WorkerEvent):
    """The worker is gone (after a warm stop, or when a killed worker's threads ended)."""

    kind: ClassVar[str] = "worker_stopped"

    def describe(self) -> str:
        return f"{self.worker} stopped"


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerWritten(TaskEvent):
    """A side effect happened in the outside world (a charge, an email…)."""

    kind: ClassVar[str] = "ledger"
    action: str
    key: str
    detail: str
    count: int

    @property
    def duplicate(self) -> bool:
        """True when the same action on the same key happened before."""
        return self.count > 1

    def describe(self) -> str:
        dup = f"  DUPLICATE ×{self.count}" if self.duplicate else ""
        return f"ledger: {self.action} {self.key} {self.detail}{dup}"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuePurged(LabEvent):
    """Ready messages were deleted from the queue."""

    kind: ClassVar[str] = "purged"
    count: int

    def describe(self) -> str:
        return f"purged {self.count} ready message(s)"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigChanged(LabEvent):
    """Settings or task options changed; they apply to workers started from now on.

    A ``complete`` event carries the whole configuration (the lab starting, or reset);
    the others carry only what changed. Folding them in order gives the configuration
    at any event, so nobody needs to ask the lab for it.
    """

    kind: ClassVar[str] = "config_changed"
    settings: dict[str, Any] = field(default_factory=dict)
    """Celery settings by name."""
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Task name → its ``@app.task`` options (plain values: exceptions by name)."""
    complete: bool = False

    def describe(self) -> str:
        settings = self.settings
        if self.complete:  # only what differs from the lab's defaults: nine settings are a lot to read
            from celery_tutor.lab.settings import SETTINGS

            settings = {k: v for k, v in settings.items() if k not in SETTINGS or SETTINGS[k].default != v}
        parts = [", ".join(f"{k}={v!r}" for k, v in settings.items())] if settings else []
        for task, options in self.task_options.items():
            parts.append(f"{task} " + ", ".join(f"{k}={v!r}" for k, v in options.items()))
        if self.complete:
            return "config: " + ("; ".join(parts) + " (the rest: lab defaults)" if parts else "the lab defaults")
        return "config: " + "; ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultArmed(LabEvent):
    """A failure or a crash is armed and waits for its moment."""

    kind: ClassVar[str] = "fault_armed"
    description: str

    def describe(self) -> str:
        return f"armed: {self.description}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LabReset(LabEvent):
    """The lab went back to its initial state."""

    kind: ClassVar[str] = "lab_reset"

    def describe(self) -> str:
        return "lab reset"


@dataclass(frozen=True, slots=True, kw_only=True)
class LabLog(LabEvent):
    """A warning or error logged by Celery or kombu inside the lab."""

    kind: ClassVar[str] = "log"
    level: str
    logger: str
    message: str

    def describe(self) -> str:
        return f"[{self.level}] {self.logger}: {self.message}"


EVENT_TYPES: tuple[type[LabEvent], ...] = (
    TaskPublished,
    TaskReceived,
    TaskStarted,
    CheckpointReached,
    RetryScheduled,
    TaskSucceeded,
    TaskFailed,
    MessageAcked,
    MessageRejected,
    MessageRedelivered,
    TaskLost,
    ChildKilled,
    RunSkipped,
    SideEffectSkipped,
    WorkerStarted,
    WorkerKilled,
    WorkerStopping,
    WorkerStopped,
    LedgerWritten,
    QueuePurged,
    ConfigChanged,
    FaultArmed,
    LabReset,
    LabLog,
)

EVENT_KINDS: dict[str, type[LabEvent]] = {cls.kind: cls for cls in EVENT_TYPES}
"""Every event kind by its stable name."""
