"""The lab's state at a moment, folded from its events alone.

:class:`LabState` applies events one by one (pure: no Celery, no threads) and answers
"what is where right now": ready messages, what each worker holds unacked, running
tasks with their last checkpoint, retries waiting for their ETA, results, the ledger,
and the settings and task options in effect (the lab reports its whole configuration
as a ``complete`` :class:`~.events.ConfigChanged` when it starts and when it resets).
The state after event *n* is the fold of the first *n* events: nothing else goes in.
The engine keeps one for :meth:`Lab.snapshot`; the UI keeps its own from the same
events, and the lesson goals read that one.

On Redis the fold follows the broker's own bookkeeping: an unacked message is one entry
per delivery tag, and kombu keeps a message's tag when a scan restores it. So the copy a
worker receives after a scan shares its entry with the first delivery, and an ack from
either holder deletes it; messages held by a worker that was killed stay, invisible,
until a scan restores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from celery_tutor.lab import events as ev
from celery_tutor.lab.records import RunRecord, TaskRecord, WorkerRecord
from celery_tutor.lab.views import (
    HeldMessage,
    LabSnapshot,
    ReadyMessage,
    ScheduledRetry,
    TaskView,
)

_Message = TypeVar("_Message", ReadyMessage, HeldMessage)

HALTED = "HALTED"
"""A task whose run the lab stopped at its code time limit (the lab halted with it)."""


class LabState:
    """A fold over lab events. Not thread-safe: the owner serialises :meth:`apply`."""

    def __init__(self) -> None:
        self.at = 0.0
        self.seq = 0
        self._settings: dict[str, Any] = {}
        self._task_options: dict[str, dict[str, Any]] = {}
        self._ready: list[ReadyMessage] = []
        self._workers: dict[str, WorkerRecord] = {}
        self._tasks: dict[str, TaskRecord] = {}
        self._names: dict[str, str] = {}
        self._ledger: list[ev.LedgerWritten] = []
        self._broker = "rabbitmq"
        self._broker_server = ""
        self._invisible: list[HeldMessage] = []
        """Redis: messages held unacked by connections that died (the broker still keeps them)."""
        self._next_scan: dict[str, float] = {}
        """Redis: worker name → when its next restore scan is due."""
        self.aliases: dict[str, str] = {}
        """Alias → task id, for the tasks a script or lesson named."""

    def copy(self) -> LabState:
        """An independent state equal to this one: folding into either leaves the other alone.

        Time travel keeps checkpoints of the fold. ``copy.deepcopy`` took 70 ms on a
        1,000-task state; this shares everything immutable (messages, ledger entries,
        frozen views) and copies only the records the fold changes in place. A worker's
        running record stays the very object its task's run list holds.
        """
        twin = LabState.__new__(LabState)
        twin.at, twin.seq = self.at, self.seq
        twin._settings = dict(self._settings)
        twin._task_options = {task: dict(options) for task, options in self._task_options.items()}
        twin._ready = list(self._ready)
        runs: dict[int, RunRecord] = {}
        twin._tasks = {task_id: record.copy(runs) for task_id, record in self._tasks.items()}
        twin._workers = {name: w.copy(runs) for name, w in self._workers.items()}
        twin._names = dict(self._names)
        twin._ledger = list(self._ledger)
        twin._broker, twin._broker_server = self._broker, self._broker_server
        twin._invisible = list(self._invisible)
        twin._next_scan = dict(self._next_scan)
        twin.aliases = dict(self.aliases)
        return twin

    # -- queries -------------------------------------------------------------------------

    def snapshot(self) -> LabSnapshot:
        """An immutable copy of the state now."""
        return LabSnapshot(
            at=self.at,
            ready=tuple(self._ready),
            workers=tuple(w.view(self._names, self._next_scan.get(w.name)) for w in self._workers.values()),
            tasks=tuple(record.view() for record in self._tasks.values()),
            ledger=tuple(self._ledger),
            settings=dict(self._settings),
            task_options={task: dict(options) for task, options in self._task_options.items()},
            seq=self.seq,
            broker=self._broker,
            broker_server=self._broker_server,
            invisible=tuple(self._invisible),
        )

    @property
    def settings(self) -> Mapping[str, Any]:
        """The Celery settings in effect (read-only view: fold events to change it)."""
        return self._settings

    @property
    def task_options(self) -> Mapping[str, Mapping[str, Any]]:
        """Task name → the options the lab applies on top of its decorator."""
        return self._task_options

    def task(self, task_id: str) -> TaskView | None:
        """The view of one task id, if the lab has seen it."""
        record = self._tasks.get(task_id)
        return record.view() if record is not None else None

    def find(self, ref: str) -> TaskView | None:
        """A task by the name a script gave it (its alias), else the latest task of that name."""
        task_id = self.aliases.get(ref)
        if task_id is not None:
            return self.task(task_id)
        for record in reversed(self._tasks.values()):
            if record.task == ref:
                return record.view()
        return None

    def has_retries(self) -> bool:
        """Is any task waiting for a retry's ETA (a countdown to keep ticking)?"""
        return any(record.state == "RETRY" and record.retry_eta_at is not None for record in self._tasks.values())

    @property
    def broker(self) -> str:
        """The broker the lab runs on: ``rabbitmq`` or ``redis``."""
        return self._broker

    def has_countdowns(self) -> bool:
        """Is anything counting down between events (a retry's ETA; on Redis, scans and timeouts)?"""
        if self._broker == "redis" and (self._next_scan or self._invisible):
            return True
        return self.has_retries()

    def ledger_count(self, action: str, key: str | None = None) -> int:
        """How many times a side effect happened (on one key, or on any)."""
        return sum(1 for e in self._ledger if e.action == action and (key is None or e.key == key))

    # -- the fold ------------------------------------------------------------------------

    def name_task(self, task_id: str, task: str, alias: str | None) -> None:
        """Register a task id before its message is published (so events can name it)."""
        self._names[task_id] = task
        if alias is not None:
            self.aliases[alias] = task_id
        if task_id not in self._tasks:
            self._tasks[task_id] = TaskRecord(task_id, task, alias)

    def apply(self, event: ev.LabEvent) -> None:
        """Fold one event in."""
        self.at = event.at
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)
        self.seq = event.seq

    def _record(self, task_id: str, task: str | None = None) -> TaskRecord:
        record = self._tasks.get(task_id)
        if record is None:
            record = self._tasks[task_id] = TaskRecord(task_id, task or self._names.get(task_id, "?"), None)
        return record

    def _update(self, task_id: str, **changes: Any) -> None:
        self._record(task_id).change(**changes)

    def _end_run(self, worker: str, task_id: str, outcome: str) -> None:
        w = self._workers.get(worker)
        run = w.running.pop(task_id, None) if w else None
        record = self._tasks.get(task_id)
        if record is None or not record.runs:
            return
        if run is None:
            run = record.runs[-1]
            if run.outcome is not None:
                return
        run.change(outcome=outcome)  # the task's own run record, shared with the worker's
        record.touch()

    def _drop_unacked(self, worker: str, task_id: str) -> None:
        """The broker forgot one delivery of ``task_id`` (acked, rejected or put back)."""
        w = self._workers.get(worker)
        if w is not None and _remove_first(w.unacked, task_id):
            return
        if self._broker != "redis":
            return
        # Redis: the entry is the delivery tag's, whoever received it last. A scan restore
        # keeps the tag, so the first holder's late ack deletes the entry of the copy that
        # another worker (or a dead connection) holds now.
        for other in self._workers.values():
            if other is not w and _remove_first(other.unacked, task_id):
                return
        _remove_first(self._invisible, task_id)

    def _on_published(self, e: ev.TaskPublished) -> None:
        if e.alias is not None and e.task_id not in self._tasks:
            self.name_task(e.task_id, e.task, e.alias)
        self._names[e.task_id] = e.task
        eta_at = e.at + e.eta_in if e.eta_in is not None else None
        self._ready.append(ReadyMessage(e.task_id, e.task, e.retries, False, eta_at))
        if e.task_id not in self._tasks:
            self._update(e.task_id, task=e.task)
        if e.by_retry:
            # Celery publishes the retry message before it reports the retry: the countdown
            # waits for that report, so that the retry's number, limit and wait come from
            # one event (never the last retry's number with this one's wait).
            self._update(e.task_id, state="RETRY", retry_eta_at=None, retry_attempt=e.retries)

    def _on_received(self, e: ev.TaskReceived) -> None:
        _remove_first(self._ready, e.task_id)
        w = self._workers.get(e.worker)
        if w is not None:
            w.unacked.append(HeldMessage(e.task_id, e.task, e.worker, e.at))
            if e.eta_in is not None:
                w.scheduled[e.task_id] = ScheduledRetry(e.task_id, e.task, e.at + e.eta_in, e.retries)
        record = self._tasks.get(e.task_id)
        if record is None or record.state in ("PENDING", "LOST"):
            self._update(e.task_id, state="RECEIVED")

    def _on_started(self, e: ev.TaskStarted) -> None:
        run = RunRecord(e.run, e.worker, e.at, e.redelivered, e.retries)
        w = self._workers.get(e.worker)
        if w is not None:
            w.scheduled.pop(e.task_id, None)
            w.running[e.task_id] = run
        record = self._record(e.task_id, e.task)
        record.runs.append(run)
        record.change(state="STARTED", retry_eta_at=None)

    def _on_checkpoint(self, e: ev.CheckpointReached) -> None:
        # The worker's running record is the same object as the task's run: one change serves
        # both, and the right run moves on even when two copies of a task run at once (Redis).
        w = self._workers.get(e.worker)
        run = w.running.get(e.task_id) if w is not None else None
        record = self._tasks.get(e.task_id)
        if run is None and record is not None and record.runs:
            run = record.runs[-1]
        if run is not None:
            run.change(checkpoint=e.checkpoint)
        if record is not None:
            record.touch()

    def _on_retry_scheduled(self, e: ev.RetryScheduled) -> None:
        self._end_run(e.worker, e.task_id, "retry")
        self._update(
            e.task_id, state="RETRY", max_retries=e.max_retries, retry_eta_at=e.eta_at, retry_attempt=e.attempt
        )

    def _on_succeeded(self, e: ev.TaskSucceeded) -> None:
        self._end_run(e.worker, e.task_id, "success")
        self._update(e.task_id, state="SUCCESS", result=e.result, exception=None)

    def _on_failed(self, e: ev.TaskFailed) -> None:
        self._end_run(e.worker, e.task_id, "failure")
        self._update(e.task_id, state="FAILURE", exception=f"{e.exc_type}({e.exc_message})")

    def _on_run_skipped(self, e: ev.RunSkipped) -> None:
        self._update(e.task_id, state="SUCCESS")

    def _on_acked(self, e: ev.MessageAcked) -> None:
        self._drop_unacked(e.worker, e.task_id)

    def _on_rejected(self, e: ev.MessageRejected) -> None:
        self._drop_unacked(e.worker, e.task_id)
        if not e.requeue:
            record = self._tasks.get(e.task_id)
            if record is not None and record.state not in ("FAILURE", "SUCCESS"):
                record.change(state="REJECTED")

    def _on_redelivered(self, e: ev.MessageRedelivered) -> None:
        self._drop_unacked(e.worker, e.task_id)
        w = self._workers.get(e.worker)
        # A scan restore (Redis) copies the message back while its holder lives on: the
        # holder still runs it, or still waits for its ETA, and will do so.
        if w is not None and e.reason != ev.SCAN_RESTORE:
            w.scheduled.pop(e.task_id, None)
            # A holder that only lost its connection drops its ETA timers but runs on.
            if e.task_id in w.running and e.reason != ev.CONNECTION_LOST:
                self._end_run(e.worker, e.task_id, "died")
        eta_at = e.at + e.eta_in if e.eta_in is not None else None
        self._ready.insert(0, ReadyMessage(e.task_id, e.task, e.retries, True, eta_at))

    def _on_lost(self, e: ev.TaskLost) -> None:
        self._end_run(e.worker, e.task_id, "lost")
        self._update(e.task_id, state="LOST")

    def _on_child_killed(self, e: ev.ChildKilled) -> None:
        self._end_run(e.worker, e.task_id, "child killed")

    def _on_time_limit(self, e: ev.TimeLimitHit) -> None:
        self._end_run(e.worker, e.task_id, "time limit")

    def _on_cancelled(self, e: ev.TaskCancelled) -> None:
        self._end_run(e.worker, e.task_id, "cancelled")
        if not e.acks_late:  # acked before it ran: nothing brings it back
            self._update(e.task_id, state="LOST")

    def _on_code_timed_out(self, e: ev.CodeTimedOut) -> None:
        """Learner code overran: the lab stopped the run and killed every worker (quietly: no more events).

        The task is ``HALTED``, not left ``STARTED`` as if it still ran; nothing runs after it.
        """
        self._end_run(e.worker, e.task_id, "timed out")
        self._update(e.task_id, state=HALTED, exception=e.message)
        for w in self._workers.values():
            if w.status in ("alive", "stopping"):
                w.status = "killed"
            for task_id in list(w.running):
                self._end_run(w.name, task_id, "halted")
            w.unacked.clear()
            w.scheduled.clear()

    def _on_ledger(self, e: ev.LedgerWritten) -> None:
        self._ledger.append(e)

    def _on_worker_started(self, e: ev.WorkerStarted) -> None:
        self._workers[e.worker] = WorkerRecord(e.worker, "alive", e.concurrency, e.prefetch_multiplier)

    def _on_worker_killed(self, e: ev.WorkerKilled) -> None:
        w = self._workers.get(e.worker)
        if w is None:
            return
        w.status = "killed"
        for task_id in list(w.running):
            self._end_run(e.worker, task_id, "died")
        if self._broker == "redis":  # nothing goes back when a connection dies: the broker keeps them
            self._invisible.extend(w.unacked)
        w.unacked.clear()
        w.scheduled.clear()
        self._next_scan.pop(e.worker, None)

    def _on_worker_stopping(self, e: ev.WorkerStopping) -> None:
        w = self._workers.get(e.worker)
        if w is not None:
            w.status = "stopping"

    def _on_worker_stopped(self, e: ev.WorkerStopped) -> None:
        w = self._workers.get(e.worker)
        if w is not None and w.status != "killed":
            w.status = "stopped"
            w.unacked.clear()
            w.scheduled.clear()
            self._next_scan.pop(e.worker, None)

    def _on_restore_scan(self, e: ev.RestoreScan) -> None:
        # A worker's start-up scan comes before its worker_started: keep it by name.
        self._next_scan[e.worker] = e.at + e.next_in

    def _on_purged(self, e: ev.QueuePurged) -> None:
        self._ready.clear()

    def _on_config_changed(self, e: ev.ConfigChanged) -> None:
        if e.complete:
            self._settings.clear()
            self._task_options.clear()
        if e.broker is not None:
            self._broker = e.broker
            self._broker_server = e.broker_server
        self._settings.update(e.settings)
        for task, options in e.task_options.items():
            self._task_options.setdefault(task, {}).update(options)

    def _on_lab_reset(self, e: ev.LabReset) -> None:
        self.__init__()  # type: ignore[misc]
        self.at = e.at


def _remove_first(messages: list[_Message], task_id: str) -> bool:
    """Remove the first message of ``task_id`` (the oldest delivery, or the head of the queue); False if none."""
    for index, message in enumerate(messages):
        if message.task_id == task_id:
            del messages[index]
            return True
    return False
