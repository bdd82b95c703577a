"""The custom Celery events a lab worker sends beside Celery's own, and their fields.

Celery's event protocol (``task-received``, ``task-succeeded``, ``worker-online``…) says
what Flower sees. It does not say whether a delivery was a redelivery, when a message was
acked, or what a task did between start and end; the lab worker sends those as custom
events (``task.send_event`` in the pool child, the consumer's dispatcher in the main
process). Both sides import these names, so they cannot drift apart.
"""

from __future__ import annotations

RECEIVED = "task-lab-received"
"""Main process, from ``task_received``, just before Celery's ``task-received``: ``redelivered``."""
RESTORED = "worker-lab-restored"
"""Main process, from kombu's Redis restore scan (or its clean-up of a lost connection, ``reason``):
message ``uuid`` went back to the queue now (``worker`` scanned; ``retries``, ``eta``). Celery sends
nothing until the copy is received. A ``worker-`` event, not a ``task-`` one: the consumer buffers
its ``task`` group until the event loop next wakes, which a scan from the timer does not hurry."""
SCANNED = "worker-lab-scanned"
"""Main process: a restore scan put ``restored`` messages back; the next is ``next_in`` s away."""
ACKED = "task-lab-acked"
"""Main process: the ack reached the broker (after kombu's ``Message.ack_log_error``, which Celery calls)."""
STARTED = "task-lab-started"
"""Pool child, from ``task_prerun``: ``worker``, ``redelivered``, ``retries``, ``child_pid``."""
CHECKPOINT = "task-lab-checkpoint"
"""Pool child: ``checkpoint`` reached."""
LEDGER = "task-lab-ledger"
"""Pool child: a side effect happened (``action``, ``key``, ``detail``)."""
SKIPPED = "task-lab-skipped"
"""Pool child: a side effect was skipped, its idempotency key already used."""
RETRY = "task-lab-retry"
"""Pool child, from ``task_retry``: ``countdown``, ``attempt``, ``max_retries``, ``exc_type``, ``exc_message``."""
CHILD_KILLED = "task-lab-child-killed"
"""Pool child, about to SIGKILL itself at ``checkpoint`` (plan ``plan``)."""
CRASH = "task-lab-crash"
"""Pool child, about to SIGKILL its worker's process group at ``checkpoint`` (plan ``plan``)."""
FAILURE_TAKEN = "task-lab-failure-taken"
"""Pool child: an injected failure (plan ``plan``) will make this run raise."""
SOFT_SHUTDOWN = "worker-lab-soft-shutdown"
"""Main process, in Celery's cold shutdown just before its soft shutdown's wait: ``timeout``, ``running``."""
CANCELLED = "worker-lab-cancelled"
"""Main process: Celery cancelled running task ``uuid`` (``Request.cancel``): ``reason``
(``cold shutdown`` or ``connection lost``) and ``acks_late``. A ``worker-`` event: Celery's own
``task-cancelled`` waits in the task buffer, which a worker on its way out may never flush."""
TIME_LIMIT = "worker-lab-time-limit"
"""Main process, after ``Request.on_timeout`` (billiard's timeout handler calls it as the limit passes,
before it signals the child): task ``uuid`` passed its ``soft`` or hard ``limit``."""
CONNECTION_LOST = "worker-lab-connection-lost"
"""Main process, just before it cuts its own broker connection: ``noticed`` (will its event loop see it now),
``checkpoint`` and ``plan`` when a plan fired at a checkpoint."""
RECONNECTED = "worker-lab-reconnected"
"""Main process: Celery's consumer connected again after a lost connection and consumes again."""
READY = "worker-lab-ready"
"""Main process, from ``worker_ready``: consuming; ``concurrency``, ``prefetch``, ``main_pid``, ``host``."""
BARRIER = "worker-lab-barrier"
"""Sent by the tutor itself: every event published before it has been received once it is."""

ARM = "lab_arm"
"""Control command: arm a plan (a crash, a child kill or injected failures) in the worker."""
DISARM = "lab_disarm"
"""Control command: forget a plan (it fired on another worker, or the lab was reset)."""
KILL_CHILD = "lab_kill_child"
"""Control command: SIGKILL the pool child running task ``task_id`` now."""
DROP_CONNECTION = "lab_drop_connection"
"""Control command: the worker cuts its own broker connection (its sockets shut, as a network drop would)."""
REMAP_SIGTERM = "lab_remap_sigterm"
"""Control command: take SIGTERM from now on as a worker started with ``REMAP_SIGTERM=SIGQUIT`` does."""
SIGTERM_SELF = "lab_sigterm"
"""Control command: the worker sends SIGTERM to its own main process (a deploy of a worker started elsewhere)."""
CRASH_NOW = "lab_crash"
"""Control command: the worker SIGKILLs its own process group now (for workers the tutor did not start)."""
