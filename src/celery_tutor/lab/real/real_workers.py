"""A real lab's worker processes: started, stopped, killed, and what their ends mean for the messages they held.

A mixin of :class:`~.real_lab.RealLab`, the counterpart of the in-process lab's
:mod:`~celery_tutor.lab.fleet`. Its ``on_…`` methods are the event translator's callbacks:
they run on the receiver thread and never wait for events there.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from celery import Celery

from celery_tutor.lab import events as ev
from celery_tutor.lab import settings
from celery_tutor.lab.fleet import LabStateError, pick_worker
from celery_tutor.lab.lab_base import LabBase
from celery_tutor.lab.real import protocol
from celery_tutor.lab.real.names import LabNames
from celery_tutor.lab.real.process import WorkerProcess, worker_command
from celery_tutor.lab.real.receiver import EventThread
from celery_tutor.lab.real.safety import describe_url
from celery_tutor.lab.real.translate import EventTranslator

STOP_TIMEOUT = 60.0
"""Seconds a warm stop may take (running tasks finish first)."""
BARRIER_TIMEOUT = 10.0
"""Seconds to wait for the events published before a barrier to come back."""
CONTROL_TIMEOUT = 10.0
"""Seconds to wait for workers to confirm a remote-control command."""
LISTEN_PROBE = 0.25
"""Seconds one ping waits for a new worker's reply before it is sent again. A worker reports itself
ready before its loop first polls; on Redis its remote control subscribes only then (see _hears_control)."""


@dataclass(eq=False)
class RealWorker:
    """One incarnation of a named lab worker."""

    name: str
    process: WorkerProcess | None
    """None for a worker someone started elsewhere with ``celery-tutor worker``."""
    status: str = "starting"
    """starting, alive, stopping, killing (a crash being reported), stopped or killed."""
    ready: threading.Event = field(default_factory=threading.Event)
    host: str = ""
    pid: int = 0
    crash_checkpoint: str | None = None
    reported: bool = False
    """Its end (killed or stopped) has been reported, or is being reported."""
    ended: threading.Event = field(default_factory=threading.Event)
    """Set once its end has been reported (a worker started elsewhere has no process to wait for)."""


class RealWorkers(LabBase):
    """The worker processes of a real lab; the lab provides the parts they act on."""

    app: Celery
    url: str
    kind: str
    names: LabNames
    _lock: threading.RLock
    _replies: threading.Lock
    _workers: dict[str, RealWorker]
    _processes: list[WorkerProcess]
    _pending: dict[str, dict[str, Any]]
    _barriers: dict[str, threading.Event]
    _settings: dict[str, Any]
    _task_options: dict[str, dict[str, Any]]
    _start_timeout: float
    _closed: bool
    _translator: EventTranslator
    _events: EventThread

    def sync_events(self, timeout: float = BARRIER_TIMEOUT) -> bool:
        """Block until every event published before this call has been received and translated."""
        token = uuid.uuid4().hex
        arrived = threading.Event()
        with self._lock:
            self._barriers[token] = arrived
        try:
            self._events.send(protocol.BARRIER, token=token)
            return arrived.wait(timeout)
        finally:
            with self._lock:
                self._barriers.pop(token, None)

    def on_barrier(self, token: str) -> None:
        with self._lock:
            arrived = self._barriers.get(token)
        if arrived is not None:
            arrived.set()

    def on_worker_ready(self, worker: str, fields: Mapping[str, Any]) -> None:
        with self._lock:
            handle = self._workers.get(worker)
            if handle is None or handle.status in ("stopped", "killed"):
                if handle is not None and handle.process is not None:
                    return  # a late word from an incarnation that is already gone
                handle = self._workers[worker] = RealWorker(worker, None)  # started elsewhere
                threading.Thread(target=self._join_elsewhere, args=(handle,), daemon=True).start()
            if handle.status != "starting":
                return
            handle.status = "alive"
            handle.host = str(fields.get("host", ""))
            handle.pid = int(fields.get("main_pid") or 0)
        self._bus.emit(
            ev.WorkerStarted,
            worker=worker,
            concurrency=int(fields.get("concurrency") or 1),
            prefetch_multiplier=int(fields.get("prefetch") or 1),
        )
        handle.ready.set()

    def on_worker_offline(self, worker: str) -> None:
        with self._lock:
            handle = self._workers.get(worker)
            if handle is None or handle.process is not None or handle.reported:
                return  # the lab's own processes are watched by PID
            handle.status, handle.reported = "stopped", True
        self._translator.worker_gone(worker)
        self._give_back(worker)
        self._bus.emit(ev.WorkerStopped, worker=worker)
        handle.ended.set()

    def holder_fate(self, worker: str) -> str | None:
        with self._lock:
            handle = self._workers.get(worker)
            return handle.status if handle is not None and handle.status in ("killed", "stopped") else None

    def deduplicates(self) -> bool:
        return bool(dict(self._settings).get("worker_deduplicate_successful_tasks"))

    def _plain_settings(self) -> dict[str, Any]:
        """The settings that differ from the lab's defaults, as JSON values (the worker adds the defaults).

        It reads a copy, so the UI's event loop may call it while a control changes them.
        """
        defaults = settings.with_defaults({})
        return {
            name: settings.plain_value(value)
            for name, value in dict(self._settings).items()
            if name not in defaults or defaults[name] != value
        }

    def _plain_task_options(self) -> dict[str, dict[str, Any]]:
        """The task options as JSON values, tasks without any left out (read from a copy)."""
        options = {
            t: {k: settings.plain_value(v) for k, v in dict(o).items()} for t, o in dict(self._task_options).items()
        }
        return {task: values for task, values in options.items() if values}

    def _start_worker(self, name: str) -> RealWorker:
        command = worker_command(
            self.url,
            name,
            self.names.prefix,
            self._plain_settings(),
            self._plain_task_options(),
        )
        with self._lock:
            handle = RealWorker(name, None)
            self._workers[name] = handle
            handle.process = WorkerProcess(name, command, self._process_exited)
            self._processes.append(handle.process)
        process = handle.process
        deadline = time.monotonic() + self._start_timeout
        while not handle.ready.wait(0.1):
            if process.exited.is_set() or time.monotonic() > deadline:
                process.kill()
                tail = process.log_tail()
                raise LabStateError(f"worker {name} did not start on {describe_url(self.url)}: {tail or 'no output'}")
        if not self._hears_control(handle, deadline):
            process.kill()
            raise LabStateError(f"worker {name} started but does not answer remote control")
        self._arm_pending(handle)
        return handle

    def _join_elsewhere(self, handle: RealWorker) -> None:
        """A worker started in another terminal: give it the plans armed so far once it hears them."""
        if self._hears_control(handle, time.monotonic() + self._start_timeout):
            self._arm_pending(handle)

    def _hears_control(self, handle: RealWorker, deadline: float) -> bool:
        """Ping a worker until it answers: from then on a broadcast reaches it (False at the deadline)."""
        hostname = self.names.hostname(handle.name)
        while time.monotonic() < deadline and not self._closed:
            try:
                with self._replies:
                    replies = self.app.control.broadcast(
                        "ping", destination=[hostname], reply=True, timeout=LISTEN_PROBE, limit=1
                    )
            except Exception:  # the broker went away, or the lab closed under us: nobody answers
                return False
            if replies:
                return True
        return False

    def _arm_pending(self, handle: RealWorker) -> None:
        with self._lock:
            plans = list(self._pending.values())
        for plan in plans:
            self._broadcast(protocol.ARM, {"plan": plan}, [handle])

    def _alive(self) -> list[RealWorker]:
        with self._lock:
            return [h for h in self._workers.values() if h.status == "alive"]

    def _broadcast(self, command: str, arguments: dict[str, Any], to: list[RealWorker] | None = None) -> int:
        """A control command to the lab's live workers (or ``to``); how many confirmed it."""
        targets = self._alive() if to is None else to
        if not targets:
            return 0
        with self._replies:  # one collector at a time: they share the app's reply queue
            replies = self.app.control.broadcast(
                command,
                arguments=arguments,
                destination=[self.names.hostname(h.name) for h in targets],
                reply=True,
                timeout=CONTROL_TIMEOUT,
                limit=len(targets),
            )
        return len(replies or [])

    def _disarm(self, plan: str | None) -> None:
        """Forget a plan in every worker (it fired, or the lab was reset); nobody waits for replies."""
        with contextlib.suppress(Exception):
            self.app.control.broadcast(protocol.DISARM, arguments={"plan_id": plan})

    def _process_exited(self, process: WorkerProcess) -> None:
        """A worker process ended (watcher thread): a warm stop finished, or it died."""
        process.reap_group()
        with self._lock:
            handle = next((h for h in self._workers.values() if h.process is process), None)
            if handle is None or handle.reported or self._closed:
                return
            stopping = handle.status == "stopping"
            if stopping:
                handle.reported = True  # a stop: a deploy's SIGKILL, due now, is too late for it
        if stopping:
            self.sync_events()  # its last acks are in
            with self._lock:
                handle.status = "stopped"
            self._translator.worker_gone(handle.name)
            self._give_back(handle.name)
            self._bus.emit(ev.WorkerStopped, worker=handle.name)
            handle.ended.set()
        elif handle.status in ("alive", "starting"):
            self._report_killed(handle, None)

    def _give_back(self, worker: str, reason: str = ev.CLEAN_CLOSE, emit: bool = True) -> list[dict[str, Any]]:
        """A worker's connection closed: the broker has every message it held unacked back.

        Returns the redeliveries' fields; ``emit=False`` leaves reporting them to the caller.
        """
        try:
            view = self.snapshot().worker(worker)
        except KeyError:
            return []
        etas = {s.task_id: s for s in view.scheduled}
        running = {task_id: run.retries for task_id, _name, run in view.running}
        last = {task_id: i for i, task_id in enumerate(view.unacked)}
        backs: list[dict[str, Any]] = []
        for i, task_id in enumerate(view.unacked):
            # One task held twice is the run that called self.retry() and, received after it, the
            # retry message waiting for its ETA: the ETA is the later copy's.
            scheduled = etas.get(task_id) if last[task_id] == i else None
            self._translator.given_back(task_id)
            backs.append(
                {
                    "task_id": task_id,
                    "task": self._bus.name_of(task_id),
                    "worker": worker,
                    "reason": reason,
                    "retries": scheduled.retries if scheduled else running.get(task_id, 0),
                    "eta_in": max(0.0, scheduled.eta_at - self.now()) if scheduled else None,
                }
            )
        if emit:
            for back in backs:
                self._bus.emit(ev.MessageRedelivered, **back)
        return backs

    def _report_killed(self, handle: RealWorker, checkpoint: str | None) -> None:
        """The worker died at once: what it ran without holding the message is lost; the rest comes back."""
        self.sync_events()  # everything it said before it died is in
        with self._lock:
            if handle.reported:
                return
            handle.status, handle.reported = "killed", True
            checkpoint = checkpoint or handle.crash_checkpoint
        self._translator.worker_gone(handle.name)
        try:
            self._report_losses(handle.name, checkpoint)
        finally:
            handle.ended.set()

    def _report_losses(self, worker: str, checkpoint: str | None) -> None:
        """What a worker that just died held: the tasks lost, the messages the broker gets back or keeps."""
        try:
            view = self.snapshot().worker(worker)
        except KeyError:
            self._bus.emit(ev.WorkerKilled, worker=worker, requeued=0, lost=0, checkpoint=checkpoint)
            return
        held = set(view.unacked)
        lost = {task_id: run.number for task_id, _name, run in view.running if task_id not in held}
        if self.kind != "redis":
            self._give_back(worker, ev.CONNECTION_DIED)  # RabbitMQ requeues them as the connection dies
        # Acked when it was received (early ack) but its run had not said so yet: lost all the same,
        # unless the broker still has a copy somewhere.
        snapshot = self.snapshot()
        somewhere: set[str] = {task_id for other in snapshot.workers for task_id in other.unacked}
        somewhere |= {message.task_id for message in snapshot.ready}
        somewhere |= {message.task_id for message in snapshot.invisible}
        for task in snapshot.tasks:
            if (
                task.state == "RECEIVED"
                and task.task_id not in somewhere
                and task.task_id not in lost
                and self._translator.last_holder(task.task_id) == worker
            ):
                lost[task.task_id] = 0
        for task_id, number in lost.items():
            self._bus.emit(ev.TaskLost, task_id=task_id, task=self._bus.name_of(task_id), worker=worker, run=number)
        kept = len(view.unacked) if self.kind == "redis" else 0
        requeued = 0 if self.kind == "redis" else len(view.unacked)
        self._bus.emit(
            ev.WorkerKilled, worker=worker, requeued=requeued, lost=len(lost), checkpoint=checkpoint, kept=kept
        )

    def _pick(self, worker: str | None, statuses: Iterable[str] = ("alive",)) -> RealWorker:
        with self._lock:
            return pick_worker(self._workers, worker, statuses)

    def _stop(self, handle: RealWorker) -> None:
        with self._lock:
            if handle.status != "alive":
                return
            handle.status = "stopping"
        self._bus.emit(ev.WorkerStopping, worker=handle.name, how="warm")
        if handle.process is not None:
            handle.process.terminate()
        else:
            self.app.control.broadcast("shutdown", destination=[self.names.hostname(handle.name)])

    def _wait_gone(self, handle: RealWorker, timeout: float = STOP_TIMEOUT) -> None:
        if handle.process is None:
            raise LabStateError(
                f"{handle.name} runs elsewhere: start it again there with "
                f"celery-tutor worker --broker URL --name {handle.name} --prefix {self.names.prefix}"
            )
        if not handle.process.wait(timeout):
            handle.process.kill()
            handle.process.wait(timeout)

    def _restart_alive(self) -> None:
        handles = [h for h in self._alive() if h.process is not None]
        for handle in handles:
            self._stop(handle)
        for handle in handles:
            self._wait_gone(handle)
        for handle in handles:
            self._start_worker(handle.name)

    def stop_worker(self, worker: str | None = None) -> None:
        """Warm shutdown (SIGTERM): take no new messages, let running tasks finish. Returns at once."""
        with self._control:
            self._check_open()
            self._stop(self._pick(worker))

    def restart_worker(self, worker: str | None = None) -> None:
        """Start the worker's process again (after a warm stop if it is alive); returns once it consumes."""
        with self._control:
            self._check_open()
            handle = self._pick(worker, ("alive", "stopping", "stopped", "killed"))
            if handle.status == "alive":
                self._stop(handle)
            self._wait_gone(handle)
            self._start_worker(handle.name)

    def worker_status(self, name: str) -> str:
        """starting, alive, stopping, stopped or killed."""
        with self._lock:
            return self._workers[name].status

    def worker_info(self, name: str) -> tuple[str, int]:
        """Where a worker runs: its host name and main PID (as it reported them)."""
        with self._lock:
            handle = self._workers[name]
            return handle.host, handle.pid

    def live_pids(self) -> list[int]:
        """The PIDs of the worker processes of this lab still running."""
        with self._lock:
            return [p.pid for p in self._processes if not p.exited.is_set()]
