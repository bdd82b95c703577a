"""Celery's events, and the lab worker's custom ones, turned into the lab's own typed events.

The in-process lab learns what happens from Celery's signals and its broker's probe; a real
lab learns it from the event stream, as Flower does. This module maps one event dict at a
time to the same :mod:`~celery_tutor.lab.events` the in-process lab emits, numbering runs
and counting side effects as it goes, so that the state fold, waits and reports see no
difference. Worker lifecycle (ready, offline, a crash) is handed to the lab, which knows
which worker processes it owns.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, Protocol

from celery_tutor.lab import events as ev
from celery_tutor.lab.bus import EventBus
from celery_tutor.lab.real import protocol
from celery_tutor.lab.real.event_fields import eta_in, failure_parts
from celery_tutor.lab.real.names import worker_name
from celery_tutor.lab.real.run_order import RunOrder

REJECT_REQUEUE = "rejected, requeue=True"
"""The reason of a redelivery the worker asked for by rejecting with requeue (as the Redis lab says)."""


class Lifecycle(Protocol):
    """The lab's side of worker lifecycle events."""

    def on_worker_ready(self, worker: str, fields: Mapping[str, Any]) -> None:
        """A worker consumes (``worker-lab-ready``)."""

    def on_worker_offline(self, worker: str) -> None:
        """Celery's ``worker-offline``: the worker shut down cleanly."""

    def on_crash(self, worker: str, checkpoint: str, plan: str) -> None:
        """A pool child is about to kill its whole worker at a checkpoint."""

    def on_plan_fired(self, plan: str) -> None:
        """A plan fired (a child kill) or one of its failures was taken."""

    def on_barrier(self, token: str) -> None:
        """The tutor's own barrier event came back."""

    def on_connection_lost(self, worker: str, checkpoint: str | None, noticed: bool, plan: str | None) -> None:
        """A worker is cutting its own broker connection now (it lives on)."""

    def holder_fate(self, worker: str) -> str | None:
        """How the worker that last held a message ended: ``killed``, ``stopped`` or None (alive)."""

    def deduplicates(self) -> bool:
        """Whether workers skip a redelivered run whose SUCCESS is stored (worker_deduplicate_successful_tasks)."""


class EventTranslator:
    """Maps one lab's Celery events to lab events on its bus (called on the receiver's thread)."""

    def __init__(self, bus: EventBus, broker: str, lab: Lifecycle) -> None:
        self._bus = bus
        self._broker = broker
        self._lab = lab
        self._lock = threading.Lock()
        self._runs: Counter[str] = Counter()
        self._ledger: Counter[tuple[str, str]] = Counter()
        self._redelivered: dict[str, bool] = {}
        self._requeued: Counter[str] = Counter()
        """Copies already reported back in the queue whose receipt is still to come, per task."""
        self._holders: dict[str, str] = {}
        self._published: set[tuple[str, int]] = set()
        self._running: set[str] = set()
        """Tasks whose current delivery started a run."""
        self._again: set[str] = set()
        """Tasks whose current delivery is a redelivery (one Celery may skip: see :meth:`_succeeded`)."""
        self._checkpoints: dict[str, str] = {}
        """The last checkpoint each task's current run reached."""
        self._order = RunOrder(self._worker)
        self._order_lock = threading.Lock()
        """Guards the order's bookkeeping and the timer (the receiver's thread and the timer's share them)."""
        self._timer: threading.Timer | None = None

    def clear(self) -> None:
        """Forget runs, counts and deliveries (the lab was reset)."""
        with self._lock:
            self._runs.clear()
            self._ledger.clear()
            self._redelivered.clear()
            self._requeued.clear()
            self._holders.clear()
            self._published.clear()
            self._checkpoints.clear()
            self._running.clear()
            self._again.clear()
        with self._order_lock:
            self._order.clear()

    def published(self, task_id: str, retries: int = 0) -> None:
        """The tutor reported this publish itself: Celery's ``task-sent`` for it says nothing new."""
        with self._lock:
            self._published.add((task_id, retries))

    def given_back(self, task_id: str) -> None:
        """The lab reported this message back in the queue already: its next delivery says nothing new."""
        with self._lock:
            self._requeued[task_id] += 1

    def last_holder(self, task_id: str) -> str | None:
        """The worker that received ``task_id`` last."""
        with self._lock:
            return self._holders.get(task_id)

    def handle(self, event: Mapping[str, Any]) -> None:
        """Translate one event, after the pool child's reports it must follow (see :mod:`.run_order`)."""
        with self._order_lock:  # bookkeeping only: translating calls into the lab, which has locks of its own
            if event.get("type") == protocol.BARRIER:  # all sent before it is in: nothing held waits for more
                ready = [*self._order.release_all(), event]
            else:
                ready = self._order.admit(event, time.monotonic())
            self._arm_timer()
        for each in ready:
            self._translate(each)

    def worker_gone(self, worker: str) -> None:
        """The worker stopped or died: the runs it left open are forgotten (see :meth:`.RunOrder.forget_worker`)."""
        with self._order_lock:
            self._order.forget_worker(worker)

    def close(self) -> None:
        """Stop the timer that lets held events go (the lab is closing)."""
        with self._order_lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _translate(self, event: Mapping[str, Any]) -> None:
        handler = _HANDLERS.get(str(event.get("type", "")))  # unknown and routine ones are ignored
        if handler is not None:
            handler(self, event)

    def _arm_timer(self) -> None:
        deadline = self._order.next_deadline()
        if deadline is None or self._timer is not None:
            return
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        with self._order_lock:
            self._timer = None
            due = self._order.due(time.monotonic())
            self._arm_timer()
        for event in due:
            self._translate(event)

    # -- helpers ---------------------------------------------------------------------------

    def _worker(self, event: Mapping[str, Any]) -> str:
        return str(event.get("worker") or worker_name(str(event.get("hostname", "?"))))

    def _name(self, event: Mapping[str, Any]) -> str:
        name = event.get("name")
        return str(name) if name else self._bus.name_of(str(event.get("uuid")))

    def _emit(self, cls: type[ev.LabEvent], e: Mapping[str, Any], **fields: Any) -> None:
        """Emit ``cls`` about the task and the worker that ``e`` names, as far as ``cls`` is about them.

        One rule for every event: its task id is the Celery event's ``uuid``, its task name the
        event's or else the bus's, its worker the lab worker that sent it. ``fields`` win (a
        redelivery names the worker that held the message, not the one that reported it).
        """
        subject: dict[str, Any] = {}
        if issubclass(cls, ev.TaskEvent):
            subject.update(task_id=str(e["uuid"]), task=self._name(e))
        if issubclass(cls, (ev.WorkerTaskEvent, ev.WorkerEvent)):
            subject["worker"] = self._worker(e)
        self._bus.emit(cls, **{**subject, **fields})

    def _run(self, e: Mapping[str, Any], *, new_run: bool = False, checkpoint: str | None = None) -> int:
        """The number of the task's current run (``new_run``: this event starts the next one)."""
        task_id = str(e["uuid"])
        with self._lock:
            if new_run:
                self._runs[task_id] += 1
                self._checkpoints.pop(task_id, None)
            if checkpoint is not None:
                self._checkpoints[task_id] = checkpoint
            return self._runs[task_id]

    # -- task events -----------------------------------------------------------------------

    def _sent(self, e: Mapping[str, Any]) -> None:
        task_id, retries = str(e["uuid"]), int(e.get("retries") or 0)
        with self._lock:
            if (task_id, retries) in self._published:
                return
            self._published.add((task_id, retries))
        view = self._bus.task(task_id)
        self._emit(
            ev.TaskPublished,
            e,
            retries=retries,
            eta_in=eta_in(e.get("eta")),
            by_retry=retries > 0,
            args=str(e.get("args") or ""),
            alias=view.alias if view else None,
        )

    def _lab_received(self, e: Mapping[str, Any]) -> None:
        with self._lock:
            self._redelivered[str(e["uuid"])] = bool(e.get("redelivered"))

    def _received(self, e: Mapping[str, Any]) -> None:
        task_id, worker = str(e["uuid"]), self._worker(e)
        with self._lock:
            redelivered = self._redelivered.pop(task_id, False)
            already_back = self._requeued[task_id] > 0
            if already_back:
                self._requeued[task_id] -= 1
            holder = self._holders.get(task_id)
            self._holders[task_id] = worker
            self._running.discard(task_id)
            (self._again.add if redelivered else self._again.discard)(task_id)
        delivery = {"retries": int(e.get("retries") or 0), "eta_in": eta_in(e.get("eta"))}
        if redelivered and not already_back:
            # The broker gave the message back before this delivery; say how, as the lab does.
            fate = self._lab.holder_fate(holder) if holder else None
            if fate == "stopped":
                reason = ev.CLEAN_CLOSE
            elif self._broker == "redis":
                reason = ev.SCAN_RESTORE
            else:
                reason = ev.CONNECTION_DIED
            self._emit(ev.MessageRedelivered, e, worker=holder or "?", reason=reason, **delivery)
        self._emit(ev.TaskReceived, e, redelivered=redelivered, **delivery)

    def _restored(self, e: Mapping[str, Any]) -> None:
        """A worker's restore scan (or clean-up of a lost connection) put this message back now (Redis): say so now."""
        task_id = str(e["uuid"])
        with self._lock:
            self._requeued[task_id] += 1
            holder = self._holders.get(task_id)
        self._emit(
            ev.MessageRedelivered,
            e,
            worker=holder or "?",
            reason=str(e.get("reason") or ev.SCAN_RESTORE),
            retries=int(e.get("retries") or 0),
            eta_in=eta_in(e.get("eta")),
        )

    def _scanned(self, e: Mapping[str, Any]) -> None:
        self._emit(ev.RestoreScan, e, restored=int(e.get("restored") or 0), next_in=float(e.get("next_in") or 0.0))

    def _started(self, e: Mapping[str, Any]) -> None:
        with self._lock:
            self._running.add(str(e["uuid"]))
        self._emit(
            ev.TaskStarted,
            e,
            run=self._run(e, new_run=True),
            redelivered=bool(e.get("redelivered")),
            retries=int(e.get("retries") or 0),
        )

    def _checkpoint(self, e: Mapping[str, Any]) -> None:
        checkpoint = str(e.get("checkpoint"))
        self._emit(ev.CheckpointReached, e, run=self._run(e, checkpoint=checkpoint), checkpoint=checkpoint)

    def _time_limit(self, e: Mapping[str, Any]) -> None:
        """A run passed its time limit; a prefork child is signalled where it is: after its last checkpoint."""
        run = self._run(e)
        with self._lock:
            checkpoint = self._checkpoints.get(str(e["uuid"]), "")
        limit_cls = ev.SoftTimeLimitHit if e.get("soft") else ev.TimeLimitHit
        self._emit(limit_cls, e, run=run, limit=float(e.get("limit") or 0.0), checkpoint=checkpoint)

    def _ledger_written(self, e: Mapping[str, Any]) -> None:
        action, key = str(e.get("action")), str(e.get("key"))
        with self._lock:
            self._ledger[(action, key)] += 1
            count = self._ledger[(action, key)]
        self._emit(ev.LedgerWritten, e, action=action, key=key, detail=str(e.get("detail")), count=count)

    def _skipped(self, e: Mapping[str, Any]) -> None:
        self._emit(ev.SideEffectSkipped, e, action=str(e.get("action")), key=str(e.get("key")))

    def _retry(self, e: Mapping[str, Any]) -> None:
        countdown = float(e.get("countdown") or 0.0)
        max_retries = e.get("max_retries")
        self._emit(
            ev.RetryScheduled,
            e,
            attempt=int(e.get("attempt") or 1),
            max_retries=None if max_retries is None else int(max_retries),
            countdown=countdown,
            eta_at=self._bus.now() + countdown,
            exc_type=str(e.get("exc_type") or "Retry"),
            exc_message=str(e.get("exc_message") or ""),
        )

    def _succeeded(self, e: Mapping[str, Any]) -> None:
        task_id = str(e["uuid"])
        with self._lock:
            skipped = task_id in self._again and task_id not in self._running
            self._running.discard(task_id)
        if skipped and self._lab.deduplicates():
            # Received, never started: Celery's tracer found SUCCESS stored for this redelivery
            # (worker_deduplicate_successful_tasks) and ran no body, sending no prerun signal.
            self._emit(ev.RunSkipped, e)
            return
        self._emit(ev.TaskSucceeded, e, result=str(e.get("result", "")))

    def _failed(self, e: Mapping[str, Any]) -> None:
        exc_type, exc_message = failure_parts(str(e.get("exception") or ""), str(e.get("traceback") or ""))
        self._emit(ev.TaskFailed, e, exc_type=exc_type, exc_message=exc_message)

    def _rejected(self, e: Mapping[str, Any]) -> None:
        requeue = bool(e.get("requeue"))
        self._emit(ev.MessageRejected, e, requeue=requeue)
        if requeue:
            with self._lock:
                self._requeued[str(e["uuid"])] += 1
            self._emit(ev.MessageRedelivered, e, reason=REJECT_REQUEUE)

    def _acked(self, e: Mapping[str, Any]) -> None:
        self._emit(ev.MessageAcked, e)

    def _child_killed(self, e: Mapping[str, Any]) -> None:
        self._emit(ev.ChildKilled, e, checkpoint=e.get("checkpoint"))
        self._lab.on_plan_fired(str(e.get("plan")))

    def _soft_shutdown(self, e: Mapping[str, Any]) -> None:
        self._emit(ev.SoftShutdown, e, timeout=float(e.get("timeout") or 0.0), running=int(e.get("running") or 0))

    def _cancelled(self, e: Mapping[str, Any]) -> None:
        self._emit(
            ev.TaskCancelled, e, reason=str(e.get("reason") or "cold shutdown"), acks_late=bool(e.get("acks_late"))
        )

    # -- handed to the lab -----------------------------------------------------------------

    def _crash(self, e: Mapping[str, Any]) -> None:
        self._lab.on_crash(self._worker(e), str(e.get("checkpoint")), str(e.get("plan")))

    def _failure_taken(self, e: Mapping[str, Any]) -> None:
        self._lab.on_plan_fired(str(e.get("plan")))

    def _connection_lost(self, e: Mapping[str, Any]) -> None:
        checkpoint, plan = e.get("checkpoint"), e.get("plan")
        self._lab.on_connection_lost(
            self._worker(e),
            str(checkpoint) if checkpoint else None,
            bool(e.get("noticed", True)),
            str(plan) if plan else None,
        )

    def _reconnected(self, e: Mapping[str, Any]) -> None:
        self._emit(ev.ConnectionRestored, e)

    def _ready(self, e: Mapping[str, Any]) -> None:
        self._lab.on_worker_ready(self._worker(e), e)

    def _offline(self, e: Mapping[str, Any]) -> None:
        self._lab.on_worker_offline(self._worker(e))

    def _barrier(self, e: Mapping[str, Any]) -> None:
        self._lab.on_barrier(str(e.get("token")))


_HANDLERS = {
    "task-sent": EventTranslator._sent,
    protocol.RECEIVED: EventTranslator._lab_received,
    "task-received": EventTranslator._received,
    protocol.RESTORED: EventTranslator._restored,
    protocol.SCANNED: EventTranslator._scanned,
    protocol.STARTED: EventTranslator._started,
    protocol.CHECKPOINT: EventTranslator._checkpoint,
    protocol.LEDGER: EventTranslator._ledger_written,
    protocol.SKIPPED: EventTranslator._skipped,
    protocol.RETRY: EventTranslator._retry,
    "task-succeeded": EventTranslator._succeeded,
    "task-failed": EventTranslator._failed,
    "task-rejected": EventTranslator._rejected,
    protocol.ACKED: EventTranslator._acked,
    protocol.CHILD_KILLED: EventTranslator._child_killed,
    protocol.CRASH: EventTranslator._crash,
    protocol.FAILURE_TAKEN: EventTranslator._failure_taken,
    protocol.SOFT_SHUTDOWN: EventTranslator._soft_shutdown,
    protocol.CANCELLED: EventTranslator._cancelled,
    protocol.TIME_LIMIT: EventTranslator._time_limit,
    protocol.CONNECTION_LOST: EventTranslator._connection_lost,
    protocol.RECONNECTED: EventTranslator._reconnected,
    protocol.READY: EventTranslator._ready,
    "worker-offline": EventTranslator._offline,
    protocol.BARRIER: EventTranslator._barrier,
}
