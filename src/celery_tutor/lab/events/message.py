"""Events of the messages themselves: acked, rejected, back in the queue, purged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from celery_tutor.lab.events.base import LabEvent, TaskEvent, short_id

SCAN_RESTORE = "restored by the scan"
"""The reason of a :class:`MessageRedelivered` put back by Redis's restore scan, not by a dead connection."""

CONNECTION_LOST = "connection lost"
"""The reason of a :class:`MessageRedelivered` whose holder lost its broker connection but lives on.

The holder keeps running the task (Celery's consumer cancels its ETA timers and reconnects),
so, unlike ``"worker died"``, the holder's run is not over."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageAcked(TaskEvent):
    """The worker acknowledged the message: the broker forgets it for good."""

    kind: ClassVar[str] = "acked"
    worker: str

    def describe(self) -> str:
        return f"{self.worker} acked {self.task}[{short_id(self.task_id)}]"


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRejected(TaskEvent):
    """The worker rejected the message, asking the broker to requeue it or drop it."""

    kind: ClassVar[str] = "rejected"
    worker: str
    requeue: bool

    def describe(self) -> str:
        what = "requeued" if self.requeue else "dropped"
        return f"{self.worker} rejected {self.task}[{short_id(self.task_id)}] ({what})"


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
        return f"{self.task}[{short_id(self.task_id)}] back in the queue ({self.reason})"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuePurged(LabEvent):
    """Ready messages were deleted from the queue."""

    kind: ClassVar[str] = "purged"
    count: int

    def describe(self) -> str:
        return f"purged {self.count} ready message(s)"
