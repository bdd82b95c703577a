"""Events of one worker's life: started, killed, stopping, stopped."""

from __future__ import annotations

from celery_tutor.lab.events.base import WorkerEvent, at_checkpoint


class WorkerStarted(
    WorkerEvent,
    kind="worker_started",
    template="{worker} started (concurrency {concurrency}, prefetch multiplier {prefetch_multiplier})",
):
    """A worker is consuming."""

    concurrency: int
    prefetch_multiplier: int


class WorkerKilled(WorkerEvent, kind="worker_killed"):
    """The whole worker died at once, like ``kill -9``: its connection to the broker dropped."""

    requeued: int
    lost: int
    checkpoint: str | None = None
    kept: int = 0
    """Redis: unacked messages the broker keeps, invisible, until a restore scan finds them."""

    def describe(self) -> str:
        where = at_checkpoint(self.checkpoint)
        back = f"broker requeued {self.requeued} unacked message(s)"
        if self.kept:
            back = f"broker keeps {self.kept} unacked message(s) invisible until a restore scan"
        return f"{self.worker} KILLED{where}: {back}, {self.lost} running task(s) lost"


class WorkerStopping(WorkerEvent, kind="worker_stopping"):
    """A shutdown began: no new messages. Warm: running tasks finish; cold: they are cancelled."""

    how: str = "warm"
    """warm, or cold (a cold shutdown, after its soft shutdown if one is configured)."""

    def describe(self) -> str:
        if self.how == "cold":
            return f"{self.worker} cold shutdown: takes no new messages; tasks still running will be cancelled"
        return f"{self.worker} warm shutdown: finishing running tasks"


class WorkerStopped(WorkerEvent, kind="worker_stopped", template="{worker} stopped"):
    """The worker is gone (after a warm stop, or when a killed worker's threads ended)."""


class ConnectionLost(WorkerEvent, kind="connection_lost"):
    """A worker's broker connection dropped while the worker itself lives on.

    On RabbitMQ the broker requeues every message the connection held unacked at once
    (``requeued``), while the worker's tasks keep running; their acks can no longer
    reach the broker. On Redis the server gives nothing back: the worker's own clean-up
    restores its unacked messages if it can reach Redis, else a restore scan does once
    they are older than ``visibility_timeout``. Celery's consumer then reconnects.
    """

    broker: str
    requeued: int
    outage: float = 0.0
    """Seconds the broker stays out of reach for this worker."""
    checkpoint: str | None = None
    noticed: bool = True
    """Does the worker notice now? Not on Redis while its prefetch is full: kombu is not
    reading the connection then, and redis-py reconnects when it next uses it."""

    def describe(self) -> str:
        where = at_checkpoint(self.checkpoint)
        reach = f"; the broker is out of reach for {self.outage:g}s" if self.outage else ""
        head = f"{self.worker} lost its broker connection{where} (the worker lives on)"
        if self.broker != "redis":
            return (
                f"{head}: the broker requeued {self.requeued} unacked message(s); running tasks keep running, "
                f"but their acks cannot reach the broker{reach}"
            )
        if not self.noticed:
            return (
                f"{head}, while not reading from it (its prefetch is full): nothing notices, Redis keeps the "
                f"unacked messages, redis-py reconnects on next use{reach}"
            )
        return (
            f"{head}: Redis itself gives nothing back; Celery's clean-up of the connection puts the unacked "
            f"messages back if Redis is in reach, else a restore scan will after visibility_timeout{reach}"
        )


class ConnectionRestored(
    WorkerEvent, kind="reconnected", template="{worker} reconnected to the broker and consumes again (on a new channel)"
):
    """Celery's consumer reconnected after a lost connection and consumes again."""


class ShutdownSignal(WorkerEvent, kind="sigterm"):
    """An orchestrator asked a worker to stop (a deploy): SIGTERM now, SIGKILL after ``grace`` seconds.

    Celery takes SIGTERM as a warm shutdown (running tasks finish, however long they
    take). With ``REMAP_SIGTERM=SIGQUIT`` in the worker's environment it takes it as a
    cold shutdown: a soft shutdown of ``worker_soft_shutdown_timeout`` seconds (Celery
    5.5+), then the tasks still running are cancelled.
    """

    grace: float
    remap_sigterm: bool = False
    soft_shutdown_timeout: float = 0.0

    def describe(self) -> str:
        if self.remap_sigterm:
            soft = (
                f"a soft shutdown of {self.soft_shutdown_timeout:g}s, then cancels what still runs"
                if self.soft_shutdown_timeout > 0
                else "cancels what runs now (worker_soft_shutdown_timeout is 0)"
            )
            how = f"with REMAP_SIGTERM=SIGQUIT Celery starts a cold shutdown: {soft}"
        else:
            how = "Celery starts a warm shutdown and waits for its running tasks"
        return f"{self.worker} got SIGTERM (a deploy): {how}; SIGKILL follows in {self.grace:g}s if it has not exited"


class SoftShutdown(WorkerEvent, kind="soft_shutdown"):
    """A cold shutdown's soft phase: the worker waits ``timeout`` seconds before cancelling its tasks.

    Celery waits the whole ``worker_soft_shutdown_timeout``, however soon the tasks end;
    only when tasks are running, unless ``worker_enable_soft_shutdown_on_idle``.
    """

    timeout: float
    running: int

    def describe(self) -> str:
        what = f"its {self.running} running task(s)" if self.running else "ETA messages (idle: soft shutdown on idle)"
        return (
            f"{self.worker} soft shutdown: waits {self.timeout:g}s (worker_soft_shutdown_timeout) for {what}, "
            "then cancels what still runs"
        )


class GraceExpired(
    WorkerEvent,
    kind="sigkill",
    template="{worker} still running after the {grace:g}s grace period: the orchestrator sends SIGKILL",
):
    """The grace period of a deploy ended with the worker still running: the orchestrator sends SIGKILL."""

    grace: float
