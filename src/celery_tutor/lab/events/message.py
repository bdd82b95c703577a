"""Events of the messages themselves: acked, rejected, back in the queue, purged."""

from __future__ import annotations

from celery_tutor.lab.events.base import LabEvent, WorkerEvent, WorkerTaskEvent

SCAN_RESTORE = "restored by the scan"
"""The reason of a :class:`MessageRedelivered` put back by Redis's restore scan, not by a dead connection."""
CONNECTION_DIED = "worker died"
"""The reason of a :class:`MessageRedelivered` requeued because its holder's connection died (RabbitMQ)."""
CLEAN_CLOSE = "worker stopped"
"""The reason of a :class:`MessageRedelivered` given back when its holder closed its channel cleanly."""

CONNECTION_LOST = "connection lost"
"""The reason of a :class:`MessageRedelivered` whose holder lost its broker connection but lives on.

The holder keeps running the task (Celery's consumer cancels its ETA timers and reconnects),
so, unlike ``"worker died"``, the holder's run is not over."""


class MessageAcked(WorkerTaskEvent, kind="acked", template="{worker} acked {ref}"):
    """The worker acknowledged the message: the broker forgets it for good."""


class MessageRejected(WorkerTaskEvent, kind="rejected"):
    """The worker rejected the message, asking the broker to requeue it or drop it."""

    requeue: bool

    def describe(self) -> str:
        return f"{self.worker} rejected {self.ref} ({'requeued' if self.requeue else 'dropped'})"


class MessageRedelivered(WorkerTaskEvent, kind="redelivered"):
    """An unacked message went back to the queue, flagged ``redelivered``.

    ``reason`` says why, and so what became of its holder: ``"worker died"`` (the
    holder's connection dropped: RabbitMQ requeues, the holder's run is over),
    ``"worker stopped"`` (a clean close), ``"rejected, requeue=True"``, or
    :data:`SCAN_RESTORE` (Redis: a worker's restore scan found it older than the
    visibility timeout; its holder may still be running it or waiting for its ETA).
    """

    reason: str
    retries: int = 0
    eta_in: float | None = None

    def describe(self) -> str:
        holder = "held" if self.worker == "?" else f"{self.worker} held it"  # a scan may not know who held it
        # Say how it came back: on RabbitMQ a dead connection requeues at once; on Redis
        # only a scan does, long after, while its holder may still be running it.
        why = {
            CONNECTION_DIED: "requeued because the connection died",
            SCAN_RESTORE: f"restored by the scan ({holder} unacked past the visibility timeout)",
            CLEAN_CLOSE: f"{self.worker} stopped cleanly and gave it back",
        }.get(self.reason, self.reason)
        return f"{self.ref} back in the queue: {why}"


class RestoreScan(WorkerEvent, kind="restore_scan"):
    """Redis: a worker's restore scan ran, putting back messages unacked past the visibility timeout.

    kombu scans once when a worker's consumer starts, then on every
    ``unacked_restore_throttle``-th tick of a timer that ticks every
    ``unacked_restore_interval`` seconds; ``next_in`` is the time to this worker's next
    scan. A scan that restored nothing is quiet: timelines leave it out.
    """

    restored: int
    next_in: float

    @property
    def quiet(self) -> bool:
        return self.restored == 0

    def describe(self) -> str:
        found = f"put {self.restored} message(s) back" if self.restored else "found nothing to put back"
        return f"{self.worker}'s restore scan {found}; next scan in {self.next_in:g}s"


class QueuePurged(LabEvent, kind="purged", template="purged {count} ready message(s)"):
    """Ready messages were deleted from the queue."""

    count: int
