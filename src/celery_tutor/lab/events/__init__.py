"""Typed events the lab emits: everything a learner must see happen.

Events are immutable and hold only plain data (ids, names, strings, numbers), never a
Celery ``Request`` or a live exception, so any thread can keep them and any layer can
read them. Every event has a ``seq`` (one total order per lab) and ``at`` (seconds since
the lab started, on the lab's clock). ``kind`` is the stable name that scripts and
lessons use.
"""

from __future__ import annotations

from celery_tutor.lab.events.base import LabEvent, TaskEvent, WorkerEvent
from celery_tutor.lab.events.lab import ConfigChanged, FaultArmed, LabLog, LabReset
from celery_tutor.lab.events.message import (
    CLEAN_CLOSE,
    CONNECTION_DIED,
    CONNECTION_LOST,
    SCAN_RESTORE,
    MessageAcked,
    MessageRedelivered,
    MessageRejected,
    QueuePurged,
    RestoreScan,
)
from celery_tutor.lab.events.task import (
    CheckpointReached,
    ChildKilled,
    CodeTimedOut,
    LedgerWritten,
    RetryScheduled,
    RunSkipped,
    SideEffectSkipped,
    SoftTimeLimitHit,
    TaskCancelled,
    TaskFailed,
    TaskLost,
    TaskPrinted,
    TaskPublished,
    TaskReceived,
    TaskStarted,
    TaskSucceeded,
    TimeLimitHit,
)
from celery_tutor.lab.events.worker import (
    ConnectionLost,
    ConnectionRestored,
    GraceExpired,
    ShutdownSignal,
    SoftShutdown,
    WorkerKilled,
    WorkerStarted,
    WorkerStopped,
    WorkerStopping,
)

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
    RestoreScan,
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
    TaskPrinted,
    CodeTimedOut,
    SoftTimeLimitHit,
    TimeLimitHit,
    TaskCancelled,
    ConnectionLost,
    ConnectionRestored,
    ShutdownSignal,
    SoftShutdown,
    GraceExpired,
)

EVENT_KINDS: dict[str, type[LabEvent]] = {cls.kind: cls for cls in EVENT_TYPES}
"""Every event kind by its stable name."""

__all__ = [
    "CLEAN_CLOSE",
    "CONNECTION_DIED",
    "CONNECTION_LOST",
    "EVENT_KINDS",
    "EVENT_TYPES",
    "SCAN_RESTORE",
    "CheckpointReached",
    "ChildKilled",
    "CodeTimedOut",
    "ConfigChanged",
    "ConnectionLost",
    "ConnectionRestored",
    "FaultArmed",
    "GraceExpired",
    "LabEvent",
    "LabLog",
    "LabReset",
    "LedgerWritten",
    "MessageAcked",
    "MessageRedelivered",
    "MessageRejected",
    "QueuePurged",
    "RestoreScan",
    "RetryScheduled",
    "RunSkipped",
    "ShutdownSignal",
    "SideEffectSkipped",
    "SoftShutdown",
    "SoftTimeLimitHit",
    "TaskCancelled",
    "TaskEvent",
    "TaskFailed",
    "TaskLost",
    "TaskPrinted",
    "TaskPublished",
    "TaskReceived",
    "TaskStarted",
    "TaskSucceeded",
    "TimeLimitHit",
    "WorkerEvent",
    "WorkerKilled",
    "WorkerStarted",
    "WorkerStopped",
    "WorkerStopping",
]
