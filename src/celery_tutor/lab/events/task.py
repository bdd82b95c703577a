"""Events of one task's runs: published, received, started, checkpoints, outcomes, side effects."""

from __future__ import annotations

from celery_tutor.lab.events.base import RunEvent, TaskEvent, WorkerTaskEvent, at_checkpoint


def _unless_absent(phrase: str, value: float | bool | None) -> str:
    """``phrase`` filled in with ``value``, or nothing when it is None or False (no ETA, not redelivered)."""
    return "" if value is None or value is False else phrase.format(value)


class TaskPublished(TaskEvent, kind="published"):
    """A message for the task reached the broker (sent by a client, or a retry)."""

    retries: int = 0
    eta_in: float | None = None
    by_retry: bool = False
    args: str = ""
    alias: str | None = None
    """The name the script or lesson gave this task, if any."""

    def describe(self) -> str:
        what = "retry message" if self.by_retry else "message"
        return f"{what} published for {self.ref}{_unless_absent(', ETA in {:.1f}s', self.eta_in)}"


class TaskReceived(WorkerTaskEvent, kind="received"):
    """A worker took the message from the queue (it is now unacked, held by the worker)."""

    redelivered: bool
    retries: int
    eta_in: float | None = None

    def describe(self) -> str:
        redelivered = _unless_absent(" (redelivered)", self.redelivered)
        waits = _unless_absent(", waits {:.1f}s for its ETA", self.eta_in)
        return f"{self.worker} received {self.ref}{redelivered}{waits}"


class TaskStarted(RunEvent, kind="started"):
    """The task body started running: ``run`` counts executions of this task id."""

    redelivered: bool
    retries: int

    def describe(self) -> str:
        redelivered = _unless_absent(", redelivered", self.redelivered)
        return f"{self.worker} started {self.ref} (run {self.run}, retries={self.retries}{redelivered})"


class CheckpointReached(RunEvent, kind="checkpoint", template="{ref} reached '{checkpoint}'"):
    """A running task reached a named point in its code."""

    checkpoint: str


class RetryScheduled(WorkerTaskEvent, kind="retry_scheduled"):
    """The task asked to be retried: a new message with the same id waits for its ETA."""

    attempt: int
    max_retries: int | None
    countdown: float
    eta_at: float
    exc_type: str
    exc_message: str

    def describe(self) -> str:
        limit = "∞" if self.max_retries is None else str(self.max_retries)
        return f"{self.ref} retry {self.attempt} of {limit} in {self.countdown:.1f}s ({self.exc_type})"


class TaskSucceeded(WorkerTaskEvent, kind="succeeded", template="{ref} succeeded: {result}"):
    """The task returned and Celery stored SUCCESS."""

    result: str


class TaskFailed(WorkerTaskEvent, kind="failed", template="{ref} failed: {exc_type}({exc_message})"):
    """Celery recorded FAILURE for the task."""

    exc_type: str
    exc_message: str


class TaskLost(
    RunEvent, kind="lost", template="{ref} LOST: it was running on {worker}, already acked, when the worker died"
):
    """The task was running when its worker died, and its message was already acked."""


class ChildKilled(WorkerTaskEvent, kind="child_killed"):
    """Only the pool child running the task died (like the OOM killer)."""

    checkpoint: str | None

    def describe(self) -> str:
        where = at_checkpoint(self.checkpoint)
        return f"pool child running {self.ref} killed{where}"


class RunSkipped(
    WorkerTaskEvent, kind="run_skipped", template="{worker} skipped {ref}: redelivered, but SUCCESS is already stored"
):
    """A redelivered message was not run: Celery found its SUCCESS already stored."""


class SideEffectEvent(TaskEvent):
    """An event about a task's side effect in the outside world: an action on a key (charge, order 42)."""

    action: str
    key: str


class SideEffectSkipped(
    SideEffectEvent, kind="skipped", template="{action} {key} skipped: idempotency key already used"
):
    """A side effect was not repeated because its idempotency key was already used."""


class LedgerWritten(SideEffectEvent, kind="ledger"):
    """A side effect happened in the outside world (a charge, an email…)."""

    detail: str
    count: int

    @property
    def duplicate(self) -> bool:
        """True when the same action on the same key happened before."""
        return self.count > 1

    def describe(self) -> str:
        return f"ledger: {self.action} {self.key} {self.detail}{self.repeat_mark}"

    @property
    def repeat_mark(self) -> str:
        """``  ×2 DUPLICATE`` on a repeat (in words: no state is told by colour alone), else nothing."""
        return self.repeat_mark_of(self.count)

    @staticmethod
    def repeat_mark_of(count: int) -> str:
        """The repeat mark of the ``count``-th write of one side effect (a report's ledger has counts, not events)."""
        return f"  ×{count} DUPLICATE" if count > 1 else ""


class TaskPrinted(WorkerTaskEvent, kind="printed", template="{ref} printed: {text}"):
    """Learner code in a running task called ``print``: its text goes to the timeline."""

    text: str


class CodeTimedOut(WorkerTaskEvent, kind="code_timed_out", template="{message}"):
    """A run of learner code took longer than the lab's limit: the lab stopped it and halted.

    The lab takes no more controls after this event; whoever owns it replaces it with a
    fresh one.
    """

    seconds: float
    message: str


class TimeLimitPassed(RunEvent):
    """A run passed a time limit (``limit`` seconds); the lab noticed at ``checkpoint``.

    A prefork pool acts the moment the limit passes (a signal); the lab's threads cannot be
    interrupted, so it acts at the first checkpoint after the limit.
    """

    limit: float
    checkpoint: str


class SoftTimeLimitHit(
    TimeLimitPassed,
    kind="soft_time_limit",
    template=(
        "{ref} passed its soft time limit ({limit:g}s): SoftTimeLimitExceeded raised inside it at "
        "'{checkpoint}' (the lab enforces limits at checkpoints)"
    ),
):
    """A run passed its soft time limit: Celery's ``SoftTimeLimitExceeded`` is raised inside it.

    The task may catch it and clean up.
    """


class TimeLimitHit(
    TimeLimitPassed,
    kind="time_limit",
    template=(
        "{ref} passed its hard time limit ({limit:g}s): run killed at '{checkpoint}' (enforced at a "
        "checkpoint; prefork kills the child at once), TimeLimitExceeded"
    ),
):
    """A run passed its hard time limit and was killed; Celery's timeout handling decides the message.

    A prefork pool kills the child at once. Then Celery's own ``Request.on_failure`` and
    ``Request.on_timeout`` run with ``TimeLimitExceeded``: with ``acks_late`` the message
    is acked, or requeued when ``acks_on_timeout`` (``task_acks_on_failure_or_timeout``)
    is False.
    """


class TaskCancelled(WorkerTaskEvent, kind="cancelled"):
    """Celery cancelled a running task (``Request.cancel``): its run ends at its next checkpoint.

    ``reason`` is ``"connection lost"`` (``worker_cancel_long_running_tasks_on_connection_loss``:
    a late ack can no longer be sent) or ``"cold shutdown"`` (the end of a soft shutdown).
    With ``acks_late`` the message was never acked and the broker gets it back; without,
    it was acked before the run began, and the task is lost (Celery stores RETRY, but no
    retry message is sent).
    """

    reason: str
    acks_late: bool

    def describe(self) -> str:
        if self.acks_late:
            fate = "not acked, so the broker gets its message back"
        else:
            fate = "its message was acked before it ran: LOST (Celery stores RETRY, no retry is sent)"
        return f"{self.worker} cancelled {self.ref} ({self.reason}); it stops at its next checkpoint, {fate}"
