"""What runs inside a lab worker process: the lab tasks' hooks, Celery signals, control commands.

A real ``celery worker`` (prefork pool) runs the lab's tasks, the same functions the
in-process lab runs. Their checkpoints and their side effects reach the tutor as custom
Celery events (:mod:`.protocol`), sent from the pool child that runs them. Plans armed by
remote control (crash the worker at a checkpoint, kill the pool child, make runs fail)
wait in a :class:`~.plans.PlanStore` shared with the children; a child that meets one
sends its event and then kills for real: ``SIGKILL`` to itself, or to the worker's whole
process group.

Nothing here is imported by the tutor's own process except for its names: it changes
process-wide things (Celery's ``Request.acknowledge``, signal receivers) that only a lab
worker process wants.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import signal
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import billiard.common
from celery import Celery, signals
from celery.worker.control import control_command
from celery.worker.request import Request

from celery_tutor.lab import connection_loss, runtime, settings
from celery_tutor.lab import events as ev
from celery_tutor.lab.kit import FINISHED_CHECKPOINT
from celery_tutor.lab.real import protocol
from celery_tutor.lab.real.plans import PlanStore
from celery_tutor.lab.reporters import seconds_until
from celery_tutor.lab.runtime import Fate, RunContext, WorkerRuntime


@dataclass
class WorkerIdentity:
    """Who this worker process is; set before the pool forks, so every child knows it too."""

    name: str
    main_pid: int
    store: PlanStore
    key_prefix: str
    concurrency: int
    prefetch: int
    directory: Path
    hostname: str = ""
    """Its Celery node name: a pool child asks its own main process by remote control."""


_identity: WorkerIdentity | None = None
_billiard: Any = billiard.common  # its stubs leave out terminate_handler_fired
_local_keys: set[str] = set()
_local_keys_lock = threading.Lock()


def identity() -> WorkerIdentity:
    """Who this lab worker process is (RuntimeError in any other process)."""
    if _identity is None:
        raise RuntimeError("not a lab worker process")
    return _identity


def install(app: Celery, who: WorkerIdentity) -> None:
    """Make this process a lab worker: remember who it is, connect the signals, patch acks."""
    global _identity
    _identity = who
    _patch_acknowledge()
    _patch_restore_scan()
    _patch_shutdown_reports()
    del app  # the receivers below serve whatever app this process runs


# -- killing for real ---------------------------------------------------------------------


def _children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def kill_worker(main_pid: int) -> None:
    """SIGKILL the whole worker: its process group when it leads one, else it and its children."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(main_pid) == main_pid:
            os.killpg(main_pid, signal.SIGKILL)
            return
    me = os.getpid()
    for pid in [*_children_of(main_pid), main_pid]:
        if pid != me:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    os.kill(me, signal.SIGKILL)


def _block_until_killed() -> None:
    """A SIGKILL is on its way to this process: do nothing more until it lands."""
    while True:
        signal.pause()


# -- the pool child: hooks the lab tasks call ---------------------------------------------


class ChildHooks:
    """The :class:`~celery_tutor.lab.runtime.TaskHooks` of a run in a pool child: report, and obey plans."""

    def __init__(self, task: Any) -> None:
        self.task = task

    def send(self, kind: str, **fields: Any) -> None:
        """One custom event about the running task, published before this returns."""
        self.task.send_event(kind, worker=identity().name, **fields)

    def reached(self, run: RunContext, checkpoint: str) -> str:
        """Report the checkpoint; when a plan is armed for it, die here for real."""
        who = identity()
        self.send(protocol.CHECKPOINT, checkpoint=checkpoint)
        plan = who.store.take_checkpoint_plan(run.task, checkpoint)
        if plan is None or not claim(self.task, f"plan:{plan['id']}"):  # armed in every worker: fires once
            return Fate.LIVE
        if plan["kind"] == "drop":
            drop_own_connection(self.task.app, who, checkpoint, plan["id"])
            return Fate.LIVE
        if plan["kind"] == "child":
            self.send(protocol.CHILD_KILLED, checkpoint=checkpoint, plan=plan["id"])
            os.kill(os.getpid(), signal.SIGKILL)
        else:
            self.send(protocol.CRASH, checkpoint=checkpoint, plan=plan["id"])
            kill_worker(who.main_pid)
        _block_until_killed()
        return Fate.LIVE  # never reached

    def side_effect(self, run: RunContext, action: str, key: str, detail: str, idempotency_key: str | None) -> bool:
        """Report a side effect; with an idempotency key already used, report it skipped instead."""
        if idempotency_key is not None and not claim(self.task, f"idempotency:{idempotency_key}"):
            self.send(protocol.SKIPPED, action=action, key=key)
            return False
        self.send(protocol.LEDGER, action=action, key=key, detail=detail)
        return True


def drop_own_connection(app: Celery, who: WorkerIdentity, checkpoint: str, plan: str) -> None:
    """From a pool child: have this worker's main process cut its broker connection; wait until Celery reacted.

    As in the in-process lab, the worker notices the loss while the task is at this
    checkpoint, so Celery's reaction (a cancel: SIGTERM to this child, which ends this wait
    and the run) lands here, not at some later step. The main process says it has reacted
    through a FIFO of this child's; if it never does, the task goes on after
    :data:`~celery_tutor.lab.connection_loss.HANDLED_TIMEOUT` seconds.
    """
    fifo = who.directory / f"dropped-{os.getpid()}-{plan}.fifo"
    os.mkfifo(fifo, 0o600)
    try:
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # no writer yet: a read end opens at once
        try:
            app.control.broadcast(
                protocol.DROP_CONNECTION,
                arguments={"checkpoint": checkpoint, "plan": plan, "notify": str(fifo)},
                destination=[who.hostname],
            )
            select.select([reader], [], [], connection_loss.HANDLED_TIMEOUT)
        finally:
            os.close(reader)
    finally:
        fifo.unlink(missing_ok=True)


_drop_waiters: list[str] = []
"""FIFOs of pool children waiting at a checkpoint for Celery to react to the connection they had cut."""
_drop_waiters_lock = threading.Lock()


def _reacted() -> None:
    """Celery has handled the lost connection (or will not notice it): release the children waiting for that."""
    with _drop_waiters_lock:
        waiting, _drop_waiters[:] = list(_drop_waiters), []
    for path in waiting:
        with contextlib.suppress(OSError):  # the child is gone already (cancelled, killed)
            writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            try:
                os.write(writer, b"1")
            finally:
                os.close(writer)


def claim(task: Any, key: str) -> bool:
    """Use ``key`` once for the whole lab (True the first time): in Redis, or in the shared results directory.

    Idempotency keys are claimed so, and plans too: a plan is armed in every worker, and
    only the first worker to claim it carries it out.
    """
    backend = task.backend
    client = getattr(backend, "client", None)
    if client is not None and hasattr(client, "set"):
        return bool(client.set(f"{identity().key_prefix}{key}", "1", nx=True))
    directory = getattr(backend, "path", None)
    if isinstance(directory, (str, bytes)):  # the filesystem backend: one file per key, created once
        name = hashlib.sha256(key.encode()).hexdigest()
        try:
            os.close(os.open(os.path.join(os.fsdecode(directory), f"claim-{name}"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return False
        return True
    with _local_keys_lock:  # no shared store: this worker alone
        if key in _local_keys:
            return False
        _local_keys.add(key)
        return True


def _claim_failure(task: Any, plan: dict[str, Any]) -> bool:
    """One of a failure plan's ``times`` runs, claimed lab-wide (False once all are taken)."""
    times = int(plan.get("times") or 1)
    return any(claim(task, f"plan:{plan['id']}:{n}") for n in range(1, times + 1))


@signals.task_prerun.connect(weak=False, dispatch_uid="celery-tutor-real-prerun")
def _prerun(sender: Any = None, task_id: str = "", task: Any = None, **_: Any) -> None:
    if _identity is None or task is None:
        return
    hooks = ChildHooks(task)
    worker = WorkerRuntime(_identity.name, hooks)
    runtime.bind_worker(worker)
    failure = _identity.store.take_failure(task.name)
    if failure is not None and not _claim_failure(task, failure):
        failure = None  # every run the plan asked for failed already, on other workers
    run = RunContext(
        worker=worker,
        task_id=task_id,
        task=task.name,
        run=0,  # the tutor numbers runs: it sees every worker's
        failure=settings.make_exception(failure["exc"], task.name) if failure else None,
    )
    runtime.begin_run(run)
    request = task.request
    hooks.send(
        protocol.STARTED,
        redelivered=bool((request.delivery_info or {}).get("redelivered")),
        retries=int(request.retries or 0),
        child_pid=os.getpid(),
    )
    if failure is not None:
        hooks.send(protocol.FAILURE_TAKEN, plan=failure["id"])


@signals.task_postrun.connect(weak=False, dispatch_uid="celery-tutor-real-postrun")
def _postrun(sender: Any = None, task_id: str = "", **_: Any) -> None:
    run = runtime.maybe_current_run()
    if _identity is None or run is None or run.task_id != task_id:
        return
    if _billiard.terminate_handler_fired():
        # Celery cancelled the run (SIGTERM from Request.cancel): the trace's finally sends this
        # signal on the child's way out, with no outcome stored. The run did not finish.
        runtime.bind_worker(None)
        return
    # Every task reaches this one after its outcome is stored, before the main process acks late.
    runtime.checkpoint(FINISHED_CHECKPOINT)
    runtime.bind_worker(None)


@signals.task_retry.connect(weak=False, dispatch_uid="celery-tutor-real-retry")
def _retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    if _identity is None or sender is None or request is None or reason is None:
        return
    when = reason.when
    countdown = seconds_until(when) if isinstance(when, datetime) else float(when or 0)
    exc = reason.exc
    ChildHooks(sender).send(
        protocol.RETRY,
        countdown=countdown,
        attempt=int(request.retries or 0) + 1,
        max_retries=getattr(sender, "override_max_retries", sender.max_retries),
        exc_type=type(exc).__name__ if exc is not None else "Retry",
        exc_message=str(exc) if exc is not None else "",
    )


# -- the main process: deliveries, acks, readiness, remote control ------------------------


@signals.task_received.connect(weak=False, dispatch_uid="celery-tutor-real-received")
def _received(sender: Any = None, request: Any = None, **_: Any) -> None:
    dispatcher = getattr(sender, "event_dispatcher", None)
    if _identity is None or request is None or dispatcher is None:
        return
    redelivered = bool((request.delivery_info or {}).get("redelivered"))
    dispatcher.send(protocol.RECEIVED, uuid=request.id, worker=_identity.name, redelivered=redelivered)


_consumer: Any = None
"""The worker's consumer, once the worker is ready: the main process reports through its event dispatcher
(read each time: Celery makes a new one when the consumer restarts after a lost connection)."""
_dropped = threading.Event()
"""Set from the moment this worker cut its own broker connection until Celery's consumer is back."""


@signals.worker_ready.connect(weak=False, dispatch_uid="celery-tutor-real-ready")
def _ready(sender: Any = None, **_: Any) -> None:
    global _consumer
    dispatcher = getattr(sender, "event_dispatcher", None)
    if _identity is None or dispatcher is None:
        return
    _consumer = sender
    dispatcher.send(
        protocol.READY,
        worker=_identity.name,
        concurrency=_identity.concurrency,
        prefetch=_identity.prefetch,
        main_pid=_identity.main_pid,
        host=socket.gethostname(),
    )
    print(f"{_identity.name}: consuming (pid {_identity.main_pid}); Ctrl-C stops it warm", flush=True)


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
                dispatcher = getattr(_consumer, "event_dispatcher", None)
                if _identity is not None and dispatcher is not None:
                    with contextlib.suppress(Exception):
                        dispatcher.send(protocol.ACKED, uuid=headers.get("id"), worker=_identity.name)
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
        elif _dropped.is_set():  # Celery's clean-up of the lost connection closed the channel
            _report_restored(payload.get("headers") or {}, ev.CONNECTION_LOST)
        return result

    restore_visible._lab_reports = True  # type: ignore[attr-defined]
    qos_cls.restore_visible = restore_visible
    channel_cls._do_restore_message = _do_restore_message


def _report_restored(headers: dict[str, Any], reason: str) -> None:
    """One task message went back to the queue now."""
    if "task" in headers:
        _send(
            protocol.RESTORED,
            uuid=headers.get("id"),
            retries=int(headers.get("retries") or 0),
            eta=headers.get("eta"),
            reason=reason,
        )


def _report_scan(channel: Any, restored: dict[str, dict[str, Any]], throttle: int) -> None:
    """Send one event per task message the scan put back, then one for the scan (the panel's next-scan clock).

    Before the worker is ready nothing is sent: its receipt of a copy tells the tutor instead.
    A report never breaks kombu's timer (:func:`_send` swallows errors).
    """
    interval = float(getattr(channel, "unacked_restore_interval", 0) or 10)
    for headers in restored.values():
        _report_restored(headers, ev.SCAN_RESTORE)
    _send(protocol.SCANNED, restored=len(restored), next_in=interval * max(throttle, 1))


def _send(kind: str, **fields: Any) -> None:
    """One ``worker-`` event from the main process, once the worker is ready (never breaks the caller)."""
    dispatcher = getattr(_consumer, "event_dispatcher", None)
    if _identity is None or dispatcher is None:
        return
    with contextlib.suppress(Exception):
        dispatcher.send(kind, worker=_identity.name, **fields)


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
            _send(protocol.SOFT_SHUTDOWN, timeout=timeout, running=running)
        return original_wait(self)

    def cancelling(reason: str, celery_code: Any) -> Any:
        before = [r for r in list(worker_state.active_requests) if not r._already_cancelled]
        try:
            return celery_code()
        finally:
            if reason == "connection lost":
                _reacted()
            for request in before:
                if request._already_cancelled:
                    _send(
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
            _send(protocol.TIME_LIMIT, uuid=self.id, name=self.name, soft=bool(soft), limit=float(timeout or 0))

    from celery.worker.consumer.tasks import Tasks

    tasks_step: Any = Tasks
    original_tasks_start = tasks_step.start

    def tasks_start(self: Any, c: Any) -> Any:
        result = original_tasks_start(self, c)
        if c.restart_count > 0:  # the first start counts 0: this one follows a lost connection
            _dropped.clear()
            _send(protocol.RECONNECTED)
        return result

    tasks_step.start = tasks_start
    wait_for_soft_shutdown._lab_reports = True  # type: ignore[attr-defined]
    controller_cls.wait_for_soft_shutdown = wait_for_soft_shutdown
    consumer_cls.cancel_active_requests = cancel_active_requests
    consumer_cls.on_connection_error_after_connected = on_connection_error_after_connected
    Request.on_timeout = on_timeout  # type: ignore[method-assign]


@control_command()
def lab_arm(state: Any, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """Arm a plan in this worker (a crash, a child kill, or injected failures)."""
    if _identity is None or not isinstance(plan, dict):
        return {"error": "not a lab worker, or no plan"}
    _identity.store.arm(plan)
    return {"ok": plan.get("id")}


@control_command()
def lab_disarm(state: Any, plan_id: str | None = None) -> dict[str, Any]:
    """Forget one plan (it fired elsewhere), or every plan."""
    if _identity is None:
        return {"error": "not a lab worker"}
    _identity.store.disarm(plan_id)
    return {"ok": plan_id or "all"}


@control_command()
def lab_kill_child(state: Any, task_id: str = "") -> dict[str, Any]:
    """SIGKILL the pool child running ``task_id`` now (as the OOM killer would)."""
    from celery.worker import state as worker_state

    for request in list(worker_state.active_requests):
        if request.id == task_id and request.worker_pid:
            os.kill(int(request.worker_pid), signal.SIGKILL)
            return {"ok": int(request.worker_pid)}
    return {"error": f"no pool child runs {task_id}"}


@control_command()
def lab_crash(state: Any) -> dict[str, Any]:
    """SIGKILL this whole worker (its reply never comes: the process is gone)."""
    if _identity is not None:
        threading.Timer(0.05, kill_worker, args=(_identity.main_pid,)).start()
    return {"ok": "crashing"}


@control_command()
def lab_remap_sigterm(state: Any) -> dict[str, Any]:
    """Take SIGTERM from now on as a worker started with ``REMAP_SIGTERM=SIGQUIT`` would: a cold shutdown.

    Celery reads that variable once, at import, to choose the SIGTERM handler
    (``celery/apps/worker.py``). This installs the very handler it would have chosen,
    Celery's ``on_cold_shutdown`` (a soft shutdown of ``worker_soft_shutdown_timeout``,
    then the running tasks cancelled), and sets the module's variable, which that handler
    reads again for a second SIGTERM. The pool children keep their signal handling: the
    one difference, SIGQUIT instead of SIGTERM from ``Request.cancel``, ends a child the
    same way (billiard's ``_shutdown_cleanup``). Control commands run in the main thread,
    the only one that may install a signal handler.
    """
    from celery.apps import worker as celery_apps_worker

    celery_worker: Any = celery_apps_worker  # celery-types leaves these names out
    controller = getattr(getattr(state, "consumer", None), "controller", None)
    if _identity is None or controller is None:
        return {"error": "not a lab worker"}
    try:
        celery_worker.REMAP_SIGTERM = "SIGQUIT"
        celery_worker.install_worker_term_hard_handler(controller, sig="SIGTERM")
    except ValueError as exc:  # not the main thread
        return {"error": str(exc)}
    return {"ok": "SIGTERM starts a cold shutdown"}


@control_command()
def lab_sigterm(state: Any) -> dict[str, Any]:
    """SIGTERM this worker's main process, as an orchestrator would (after the reply is sent)."""
    if _identity is None:
        return {"error": "not a lab worker"}
    threading.Timer(0.05, os.kill, args=(_identity.main_pid, signal.SIGTERM)).start()
    return {"ok": "SIGTERM"}


def _noticing(connection: Any) -> bool:
    """Will the worker's event loop see a cut of this connection now? AMQP: always (it reads all the time).

    Redis: see :func:`celery_tutor.lab.connection_loss.noticed_on_redis` (the in-process lab's rule too).
    """
    if connection.transport.driver_type != "redis":
        return True
    return connection_loss.noticed_on_redis(list(getattr(connection.transport, "channels", ())))


def _cut(connection: Any) -> None:
    """Shut the sockets of the consumer's broker connection, as a network failure would.

    The file descriptors stay open: the event loop sees the end of the stream and kombu
    raises its connection error on the next read, as for a real broken socket.
    """
    if connection.transport.driver_type == "redis":
        for channel in list(getattr(connection.transport, "channels", ())):
            connection_loss.shut_redis_channel(channel)
        return
    sock = getattr(getattr(connection, "connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@control_command()
def lab_drop_connection(
    state: Any, checkpoint: str | None = None, plan: str | None = None, notify: str | None = None
) -> dict[str, Any]:
    """Cut this worker's broker connection (the consumer's) after this reply is sent; the worker lives on.

    Only the consumer's connection is cut, the one that holds messages: the connection the
    worker sends its events on stays up, so the tutor sees what Celery does about the loss.
    """
    consumer = getattr(state, "consumer", None)
    connection = getattr(consumer, "connection", None)
    if _identity is None or connection is None or _dropped.is_set():
        if notify:  # a child waits: it goes on, there is no connection to drop
            with _drop_waiters_lock:
                _drop_waiters.append(notify)
            _reacted()
        return {"error": "no broker connection now (it is reconnecting)"}
    noticed = _noticing(connection)
    _dropped.set()
    if notify:
        with _drop_waiters_lock:
            _drop_waiters.append(notify)
    _send(protocol.CONNECTION_LOST, noticed=noticed, checkpoint=checkpoint, plan=plan)
    if not noticed:
        _reacted()  # nothing will notice: Celery does not react
    hub = getattr(consumer, "hub", None)
    if hub is not None:
        hub.call_soon(_cut, connection)  # the next turn of the event loop: this reply has gone out
    else:
        threading.Timer(0.05, _cut, args=(connection,)).start()
    return {"ok": "dropping", "noticed": noticed}
