"""What a lab worker's main process reports beyond Celery's own events, at the moment Celery acts.

Celery sends no event for an ack, a restore scan, a time limit passing or a soft shutdown's
wait, and sends ``task-cancelled`` late. The main process reports those as custom events
(:mod:`.protocol`) through its consumer's event dispatcher: from two Celery signals,
connected as this module loads, and from wrappers around Celery's and kombu's own code
(:func:`install`) that run that code unchanged and only add a report before or after it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from celery import signals
from celery.worker.request import Request

from celery_tutor.lab import events as ev
from celery_tutor.lab.real import protocol, worker_disconnect
from celery_tutor.lab.real.worker_identity import current

_consumer: Any = None
"""The worker's consumer, once the worker is ready: the main process reports through its event dispatcher
(read each time: Celery makes a new one when the consumer restarts after a lost connection)."""


def install() -> None:
    """Wrap the places in Celery and kombu whose doings Celery sends no event for (once per process)."""
    _patch_acknowledge()
    _patch_restore_scan()
    _patch_shutdown_reports()


def send(kind: str, **fields: Any) -> None:
    """One ``worker-`` event from the main process, once the worker is ready (never breaks the caller)."""
    who = current()
    dispatcher = getattr(_consumer, "event_dispatcher", None)
    if who is None or dispatcher is None:
        return
    with contextlib.suppress(Exception):
        dispatcher.send(kind, worker=who.name, **fields)


@signals.task_received.connect(weak=False, dispatch_uid="celery-tutor-real-received")
def _received(sender: Any = None, request: Any = None, **_: Any) -> None:
    who = current()
    dispatcher = getattr(sender, "event_dispatcher", None)
    if who is None or request is None or dispatcher is None:
        return
    redelivered = bool((request.delivery_info or {}).get("redelivered"))
    dispatcher.send(protocol.RECEIVED, uuid=request.id, worker=who.name, redelivered=redelivered)


@signals.worker_ready.connect(weak=False, dispatch_uid="celery-tutor-real-ready")
def _ready(sender: Any = None, **_: Any) -> None:
    global _consumer
    who = current()
    dispatcher = getattr(sender, "event_dispatcher", None)
    if who is None or dispatcher is None:
        return
    _consumer = sender
    dispatcher.send(
        protocol.READY,
        worker=who.name,
        concurrency=who.concurrency,
        prefetch=who.prefetch,
        main_pid=who.main_pid,
        host=socket.gethostname(),
    )
    print(f"{who.name}: consuming (pid {who.main_pid}); Ctrl-C stops it warm", flush=True)


def _patch_acknowledge() -> None:
    """Report each ack that reached the broker (Celery sends no event for acks).

    The report follows kombu's ``Message.ack_log_error``, which Celery's consumer calls on the
    event loop's next turn: an ack kombu could not send ("Couldn't ack", after a lost
    connection) is not reported, though Celery marks its request acknowledged all the same.
    The event joins Celery's buffered task events, so it keeps its place after ``task-succeeded``,
    and the buffer is flushed at once.
    """
    from kombu.message import Message

    message_cls: Any = Message
    if getattr(message_cls.ack_log_error, "_lab_reports", False):
        return
    original = message_cls.ack_log_error

    def ack_log_error(self: Any, logger: Any, errors: Any, multiple: bool = False) -> Any:
        try:
            return original(self, logger, errors, multiple)
        finally:
            headers = self.headers or {}
            if self.acknowledged and "task" in headers:
                who = current()
                dispatcher = getattr(_consumer, "event_dispatcher", None)
                if who is not None and dispatcher is not None:
                    with contextlib.suppress(Exception):
                        dispatcher.send(protocol.ACKED, uuid=headers.get("id"), worker=who.name)
                        # Out now, with the task events before it: a worker on its way out
                        # (a warm shutdown cut short by SIGKILL) may never turn its loop again.
                        dispatcher.flush()

    ack_log_error._lab_reports = True  # type: ignore[attr-defined]
    message_cls.ack_log_error = ack_log_error


_scan = threading.local()
"""The messages the restore scan running on this thread put back so far (delivery tag → headers)."""


def _patch_restore_scan() -> None:
    """Report each message kombu's Redis restore scan puts back, when it does.

    Celery sends no event for it: without this the tutor would learn of a restore only
    when the copy is received, which a full prefetch window can hold off for as long
    as the running task takes (the scan happened long before).
    """
    from kombu.transport import redis as kombu_redis

    qos_cls: Any = kombu_redis.QoS
    channel_cls: Any = kombu_redis.Channel
    if getattr(qos_cls.restore_visible, "_lab_reports", False):
        return
    original_scan = qos_cls.restore_visible
    original_restore = channel_cls._do_restore_message

    def restore_visible(self: Any, start: int = 0, num: int = 10, interval: int = 10) -> Any:
        scans = self._vrestore_count % (interval or 1) == 0  # kombu counts calls, scans on every interval-th
        restored: dict[str, dict[str, Any]] = {}
        _scan.restored = restored
        try:
            return original_scan(self, start, num, interval)
        finally:
            _scan.restored = None
            if scans:
                _report_scan(self.channel, restored, interval)

    def _do_restore_message(
        self: Any, payload: Any, exchange: str, routing_key: str, pipe: Any, leftmost: bool = False
    ) -> Any:
        result = original_restore(self, payload, exchange, routing_key, pipe, leftmost)
        restored = getattr(_scan, "restored", None)
        if restored is not None:  # a transaction retried after WATCH restores one tag once
            tag = str((payload.get("properties") or {}).get("delivery_tag", ""))
            restored[tag] = payload.get("headers") or {}
        elif worker_disconnect.dropped.is_set():  # Celery's clean-up of the lost connection closed the channel
            _report_restored(payload.get("headers") or {}, ev.CONNECTION_LOST)
        return result

    restore_visible._lab_reports = True  # type: ignore[attr-defined]
    qos_cls.restore_visible = restore_visible
    channel_cls._do_restore_message = _do_restore_message


def _report_restored(headers: dict[str, Any], reason: str) -> None:
    """One task message went back to the queue now."""
    if "task" in headers:
        send(
            protocol.RESTORED,
            uuid=headers.get("id"),
            retries=int(headers.get("retries") or 0),
            eta=headers.get("eta"),
            reason=reason,
        )


def _report_scan(channel: Any, restored: dict[str, dict[str, Any]], throttle: int) -> None:
    """Send one event per task message the scan put back, then one for the scan (the panel's next-scan clock).

    Before the worker is ready nothing is sent: its receipt of a copy tells the tutor instead.
    A report never breaks kombu's timer (:func:`send` swallows errors).
    """
    interval = float(getattr(channel, "unacked_restore_interval", 0) or 10)
    for headers in restored.values():
        _report_restored(headers, ev.SCAN_RESTORE)
    send(protocol.SCANNED, restored=len(restored), next_in=interval * max(throttle, 1))


def _patch_shutdown_reports() -> None:
    """Report what Celery's own shutdown, connection-loss and time-limit code does, when it does it.

    Celery sends no event when a time limit passes or before a soft shutdown's wait, and its
    ``task-cancelled`` waits in the task-event buffer of a worker that may be on its way out.
    The wrappers run Celery's code unchanged and only add a ``worker-`` event before (a time
    limit, the wait) or after (each request that Celery's code cancelled).
    """
    from celery.worker import state as worker_state
    from celery.worker.consumer.consumer import Consumer
    from celery.worker.worker import WorkController

    controller_cls: Any = WorkController
    consumer_cls: Any = Consumer
    if getattr(controller_cls.wait_for_soft_shutdown, "_lab_reports", False):
        return
    original_wait = controller_cls.wait_for_soft_shutdown
    original_cancel = consumer_cls.cancel_active_requests
    original_lost = consumer_cls.on_connection_error_after_connected

    def wait_for_soft_shutdown(self: Any) -> Any:
        conf = self.app.conf
        running = len(worker_state.active_requests)
        timeout = float(conf.worker_soft_shutdown_timeout or 0)
        if timeout > 0 and (running or conf.worker_enable_soft_shutdown_on_idle):  # Celery's own test
            send(protocol.SOFT_SHUTDOWN, timeout=timeout, running=running)
        return original_wait(self)

    def cancelling(reason: str, celery_code: Any) -> Any:
        before = [r for r in list(worker_state.active_requests) if not r._already_cancelled]
        try:
            return celery_code()
        finally:
            if reason == "connection lost":
                worker_disconnect.reacted()
            for request in before:
                if request._already_cancelled:
                    send(
                        protocol.CANCELLED,
                        uuid=request.id,
                        name=request.name,
                        reason=reason,
                        acks_late=bool(request.task.acks_late),
                    )

    def cancel_active_requests(self: Any) -> Any:
        return cancelling("cold shutdown", lambda: original_cancel(self))

    def on_connection_error_after_connected(self: Any, exc: Any) -> Any:
        return cancelling("connection lost", lambda: original_lost(self, exc))

    original_timeout = Request.on_timeout

    def on_timeout(self: Any, soft: bool, timeout: float) -> Any:
        # After Celery's handling: a hard limit's FAILURE is stored by the time the tutor hears of it.
        # Still before billiard signals the child (soft), and before the task- events Celery buffers.
        try:
            return original_timeout(self, soft, timeout)
        finally:
            send(protocol.TIME_LIMIT, uuid=self.id, name=self.name, soft=bool(soft), limit=float(timeout or 0))

    from celery.worker.consumer.tasks import Tasks

    tasks_step: Any = Tasks
    original_tasks_start = tasks_step.start

    def tasks_start(self: Any, c: Any) -> Any:
        result = original_tasks_start(self, c)
        if c.restart_count > 0:  # the first start counts 0: this one follows a lost connection
            worker_disconnect.dropped.clear()
            send(protocol.RECONNECTED)
        return result

    tasks_step.start = tasks_start
    wait_for_soft_shutdown._lab_reports = True  # type: ignore[attr-defined]
    controller_cls.wait_for_soft_shutdown = wait_for_soft_shutdown
    consumer_cls.cancel_active_requests = cancel_active_requests
    consumer_cls.on_connection_error_after_connected = on_connection_error_after_connected
    Request.on_timeout = on_timeout  # type: ignore[method-assign]
