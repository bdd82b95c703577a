"""Turn what Celery and the broker report into lab events.

Two sources, two reporters, one bus:

* :class:`CeleryReporter` is the target of Celery's signals (routed by
  :mod:`.celery_signals`): received, started, retried, succeeded, failed. When a run
  starts it also numbers the run and hands it the failure the fault injector queued.
* :class:`BrokerReporter` is a :class:`~.broker_api.BrokerProbe`: published, acked,
  rejected, redelivered, which Celery reports through no signal. Any transport that
  calls a probe (the in-process memory broker today) is reported the same way.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from celery_tutor.lab import events as ev
from celery_tutor.lab import runtime, settings
from celery_tutor.lab.bus import EventBus
from celery_tutor.lab.faults import FaultInjector
from celery_tutor.lab.runtime import RunContext, WorkerRuntime


class CeleryReporter:
    """What Celery's signals say, as events (called on the workers' threads)."""

    def __init__(self, bus: EventBus, faults: FaultInjector) -> None:
        self._bus = bus
        self._faults = faults
        self._lock = threading.Lock()
        self._runs: Counter[str] = Counter()

    def clear(self) -> None:
        """Forget the run counts (the lab is reset)."""
        with self._lock:
            self._runs.clear()

    def on_task_received(self, worker: str, request: Any) -> None:
        """Celery's ``task_received``: the worker holds the message now."""
        self._bus.emit(
            ev.TaskReceived,
            task_id=request.id,
            task=request.name,
            worker=worker,
            redelivered=bool((request.delivery_info or {}).get("redelivered")),
            retries=int(request.request_dict.get("retries") or 0),
            eta_in=seconds_until(request.eta) if request.eta else None,
        )

    def on_task_prerun(self, task: Any, task_id: str) -> None:
        """Celery's ``task_prerun``: a run begins on this (pool) thread."""
        worker = runtime.bound_worker()
        if worker is None:
            return
        with self._lock:
            self._runs[task_id] += 1
            number = self._runs[task_id]
        failure = self._faults.take_failure(task.name)
        run = RunContext(
            worker=worker,
            task_id=task_id,
            task=task.name,
            run=number,
            failure=settings.make_exception(failure, task.name) if failure else None,
            tracing=True,
        )
        runtime.begin_run(run)
        request = task.request
        self._bus.emit(
            ev.TaskStarted,
            task_id=task_id,
            task=task.name,
            worker=worker.name,
            run=number,
            redelivered=bool((request.delivery_info or {}).get("redelivered")),
            retries=int(request.retries or 0),
        )

    def on_task_retry(self, task: Any, request: Any, reason: Any) -> None:
        """Celery's ``task_retry``: a new message with the same id was published."""
        when = reason.when
        countdown = seconds_until(when) if isinstance(when, datetime) else float(when or 0)
        exc = reason.exc
        self._bus.emit(
            ev.RetryScheduled,
            task_id=request.id,
            task=task.name,
            worker=_worker_name(),
            attempt=int(request.retries or 0) + 1,
            max_retries=getattr(task, "override_max_retries", task.max_retries),
            countdown=countdown,
            eta_at=self._bus.now() + countdown,
            exc_type=type(exc).__name__ if exc is not None else "Retry",
            exc_message=str(exc) if exc is not None else "",
        )

    def on_task_success(self, task: Any, result: Any) -> None:
        """Celery's ``task_success``: told once the run is over (see :attr:`RunContext.outcome`)."""
        fields = {"task_id": task.request.id, "task": task.name, "worker": _worker_name()}
        self._once_over(
            fields["task_id"], lambda: self._bus.emit(ev.TaskSucceeded, **fields, result=_short_repr(result))
        )

    def on_task_failure(self, task: Any, task_id: str, exception: BaseException) -> None:
        """Celery's ``task_failure``: told once the run is over (see :attr:`RunContext.outcome`)."""
        fields = {"task_id": task_id, "task": task.name, "worker": _worker_name()}
        exc_type, exc_message = type(exception).__name__, str(exception)
        self._once_over(
            task_id, lambda: self._bus.emit(ev.TaskFailed, **fields, exc_type=exc_type, exc_message=exc_message)
        )

    @staticmethod
    def _once_over(task_id: str, report: Callable[[], object]) -> None:
        """Report now, or, inside a run's trace, once the run reaches ``task_finished`` alive."""
        run = runtime.maybe_current_run()
        if run is None or not run.tracing or run.dead or run.task_id != task_id:
            report()  # outside a trace: Celery's worker itself concluded the run (a lost child, say)
        else:
            run.outcome = report

    def on_run_skipped(self, worker: WorkerRuntime, task_id: str) -> None:
        """Celery took a message but ran no body (a deduplicated redelivery, say)."""
        if not worker.killed.is_set():
            self._bus.emit(ev.RunSkipped, task_id=task_id, task=self._bus.name_of(task_id), worker=worker.name)

    def on_log(self, level: str, logger: str, message: str) -> None:
        """A warning or error from Celery or kombu (a killed worker's last words are not heard)."""
        worker = runtime.bound_worker()
        if worker is not None and worker.killed.is_set():
            return  # a SIGKILLed process logs nothing: its event loop tripping on the dead socket is ours
        self._bus.emit(ev.LabLog, level=level, logger=logger, message=message)


class BrokerReporter:
    """What the broker's probe says, as events (a :class:`~.broker_api.BrokerProbe`)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    def message_published(self, headers: dict[str, Any]) -> None:
        """A task message reached the queue."""
        retries = int(headers.get("retries") or 0)
        view = self._bus.task(headers["id"])
        self._bus.emit(
            ev.TaskPublished,
            task_id=headers["id"],
            task=headers["task"],
            retries=retries,
            eta_in=_eta_in(headers),
            by_retry=retries > 0,
            args=str(headers.get("argsrepr") or ""),
            alias=view.alias if view else None,
        )

    def message_acked(self, owner: str | None, headers: dict[str, Any]) -> None:
        """A worker acked a message."""
        if owner is not None and "task" in headers:
            self._bus.emit(ev.MessageAcked, task_id=headers["id"], task=headers["task"], worker=owner)

    def message_rejected(self, owner: str | None, headers: dict[str, Any], requeue: bool) -> None:
        """A worker rejected a message."""
        if owner is not None and "task" in headers:
            self._bus.emit(
                ev.MessageRejected, task_id=headers["id"], task=headers["task"], worker=owner, requeue=requeue
            )

    def message_restored(self, owner: str | None, headers: dict[str, Any], reason: str) -> None:
        """An unacked message went back to the queue."""
        if "task" in headers:
            self._bus.emit(
                ev.MessageRedelivered,
                task_id=headers["id"],
                task=headers["task"],
                worker=owner or "?",
                reason=reason,
                retries=int(headers.get("retries") or 0),
                eta_in=_eta_in(headers),
            )

    def restore_scanned(self, worker: str, restored: int, next_in: float) -> None:
        """A worker's restore scan ran (Redis)."""
        self._bus.emit(ev.RestoreScan, worker=worker, restored=restored, next_in=next_in)


def seconds_until(moment: datetime) -> float:
    """Seconds from now to an ETA (naive ones are UTC, as Celery writes them); never negative."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _eta_in(headers: dict[str, Any]) -> float | None:
    eta = headers.get("eta")
    return seconds_until(datetime.fromisoformat(eta)) if eta else None


def _worker_name() -> str:
    worker = runtime.bound_worker()
    return worker.name if worker else "?"


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
