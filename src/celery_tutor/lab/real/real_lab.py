"""A lab on a real broker with real worker processes, behind the same controls as the in-process lab.

:class:`RealLab` answers the calls :class:`~celery_tutor.lab.runner.ScriptRunner`, the
actions and the reports make on :class:`~celery_tutor.lab.engine.Lab` (``send``,
``crash_at``, ``snapshot``, ``subscribe``…), with the same events on the same
:class:`~celery_tutor.lab.bus.EventBus`. What differs is where things happen: tasks go to
the lab's prefixed queue on the learner's broker; ``celery-tutor worker`` processes run
them; a crash is a SIGKILL to a worker's process group; a kill at a checkpoint is armed in
the workers by remote control and carried out there; events come back through Celery's
event stream.

Not yet on a real broker (they raise :class:`~celery_tutor.lab.fleet.LabStateError` with
the reason): ``drop_connection``, ``deploy``, and a script's own task code (``lab.code``).
"""

from __future__ import annotations

import contextlib
import inspect
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from celery import Celery

from celery_tutor.lab import events as ev
from celery_tutor.lab import limits, settings
from celery_tutor.lab.bus import EventBus, Subscriber
from celery_tutor.lab.faults import check_checkpoint
from celery_tutor.lab.fleet import LabStateError
from celery_tutor.lab.kit import TaskSpec
from celery_tutor.lab.lab_config import LabConfig
from celery_tutor.lab.library import task_table
from celery_tutor.lab.real import protocol
from celery_tutor.lab.real.names import LabNames, broker_kind, celery_conf
from celery_tutor.lab.real.process import WorkerProcess, worker_command
from celery_tutor.lab.real.receiver import EventThread
from celery_tutor.lab.real.safety import check_broker_url, describe_url, probe_broker
from celery_tutor.lab.real.translate import EventTranslator
from celery_tutor.lab.settings import LabConfigError
from celery_tutor.lab.views import LabSnapshot

START_TIMEOUT = 30.0
"""Seconds a worker process may take to consume (importing Celery and forking its pool)."""
STOP_TIMEOUT = 60.0
"""Seconds a warm stop may take (running tasks finish first)."""
BARRIER_TIMEOUT = 10.0
CONTROL_TIMEOUT = 10.0
"""Seconds to wait for workers to confirm a remote-control command."""

if TYPE_CHECKING:
    from celery_tutor.lab.engine import Lab

L = TypeVar("L")

NOT_YET = "is not available on a real broker yet (use the in-process lab)"


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
    """Its end (killed or stopped) has been reported."""


class RealLab:
    """One lab on a real broker: the tutor side (send, watch, break) of real worker processes."""

    def __init__(
        self,
        config: LabConfig | None,
        broker_url: str,
        *,
        allow_remote: bool = False,
        clock: Callable[[], float] = time.monotonic,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.url = check_broker_url(broker_url, allow_remote)
        self.initial = (config or LabConfig()).checked()
        if self.initial.extra_tasks:
            raise LabConfigError(f"a script's own task code (lab.code) {NOT_YET}")
        self.kind = broker_kind(self.url)
        self.names = LabNames.new()
        self.tasks: dict[str, TaskSpec] = task_table()
        self._start_timeout = start_timeout
        self._bus = EventBus(clock)
        self._settings: dict[str, Any] = settings.with_defaults(self.initial.settings)
        self._task_options = {task: dict(options) for task, options in self.initial.task_options.items()}
        self._control = threading.RLock()
        self._lock = threading.RLock()
        self._workers: dict[str, RealWorker] = {}
        self._processes: list[WorkerProcess] = []
        self._pending: dict[str, dict[str, Any]] = {}
        """Plans armed and not yet fired, by id: re-armed in every worker that starts."""
        self._barriers: dict[str, threading.Event] = {}
        self._replies = threading.Lock()
        """Held while a control command's replies are collected."""
        self.app = self._make_app()
        self._translator = EventTranslator(self._bus, self.kind, self)
        self._events = EventThread(self.app, self._translator.handle, self.names.prefix)
        self._started = False
        self._closed = False

    def _make_app(self) -> Celery:
        app = Celery(self.names.prefix, set_as_current=False)
        transport = dict(self._settings.get("broker_transport_options") or {})
        app.conf.update(celery_conf(self.url, self.names, transport))
        app.conf.broker_connection_retry = False
        return app

    @property
    def prefix(self) -> str:
        """What ``celery-tutor worker --prefix`` needs to join this lab from another terminal."""
        return self.names.prefix

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> RealLab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Check the broker, listen to its events, start the configured workers; returns once they consume."""
        with self._control:
            self._check_open()
            if self._started:
                return
            self._started = True
            probe_broker(self.url)
            if not self._events.start():
                raise LabStateError(f"no events came back from {describe_url(self.url)}: {self._events.failure or ''}")
            self._emit_config()
            for index in range(self.initial.workers):
                self._start_worker(f"worker{index + 1}")

    def close(self, timeout: float = 10.0) -> None:
        """Kill every worker process the lab started (by PID), stop listening, delete the lab's keys."""
        with self._control:
            if self._closed:
                return
            self._closed = True
            self._bus.close()
            with self._lock:
                processes = list(self._processes)
            for process in processes:
                process.kill()
            for process in processes:
                process.wait(timeout)
                process.reap_group()
                process.remove_log()
            self._events.stop()
            self._delete_lab_keys()
            self.app.close()

    def _delete_lab_keys(self) -> None:
        """Redis: delete every key under the lab's prefix (and nothing else). RabbitMQ: the lab's queue."""
        with contextlib.suppress(Exception):
            if self.kind == "redis":
                import redis

                client = redis.Redis.from_url(self.url, socket_timeout=3, socket_connect_timeout=3)
                try:
                    keys = list(client.scan_iter(match=f"{self.names.key_prefix}*", count=500))
                    for start in range(0, len(keys), 500):
                        client.delete(*keys[start : start + 500])
                finally:
                    client.close()
            else:
                shutil.rmtree(self.names.results_dir, ignore_errors=True)
                with self.app.connection_for_write() as connection:
                    channel: Any = connection.default_channel
                    channel.queue_delete(self.names.queue)

    def join(self, timeout: float = 10.0) -> bool:
        """Wait until every worker process the lab started has exited; True when none is left."""
        deadline = time.monotonic() + timeout
        with self._lock:
            processes = [p for p in self._processes if p.status in ("stopping", "stopped", "killed")]
        return all(p.wait(max(0.0, deadline - time.monotonic())) for p in processes)

    def live_pids(self) -> list[int]:
        """The PIDs of the worker processes of this lab still running."""
        with self._lock:
            return [p.pid for p in self._processes if not p.exited.is_set()]

    def _check_open(self) -> None:
        if self._closed:
            raise LabStateError("the lab is closed")

    @property
    def halted(self) -> str | None:
        """Real workers run no learner code the lab must halt for: never halted."""
        return None

    # -- events ----------------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the lab was created, on the lab's clock."""
        return self._bus.now()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every event from now on; returns the unsubscribe function."""
        return self._bus.subscribe(callback)

    def snapshot(self) -> LabSnapshot:
        """Everything in the lab at this moment, as its events tell it."""
        return self._bus.snapshot()

    def wait_until(self, predicate: Callable[[LabSnapshot], bool], timeout: float) -> bool:
        """Block until ``predicate(snapshot)`` holds (checked after every event)."""
        return self._bus.wait_until(predicate, timeout)

    def task_id(self, ref: str) -> str:
        """The task id a script named ``ref``: an alias, or the latest task of that name."""
        return self._bus.task_id(ref)

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

    def _emit_config(self) -> None:
        options = {t: {k: settings.plain_value(v) for k, v in o.items()} for t, o in self._task_options.items()}
        self._bus.emit(
            ev.ConfigChanged,
            settings=dict(self._settings),
            task_options=options,
            complete=True,
            broker=self.kind,
            broker_server=describe_url(self.url),
        )

    # -- the translator's callbacks (receiver thread: never block on events here) ---------

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
                threading.Thread(target=self._arm_pending, args=(handle,), daemon=True).start()
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
        self._give_back(worker)
        self._bus.emit(ev.WorkerStopped, worker=worker)

    def on_crash(self, worker: str, checkpoint: str, plan: str) -> None:
        with self._lock:
            self._pending.pop(plan, None)
            handle = self._workers.get(worker)
            if handle is not None:
                handle.crash_checkpoint = checkpoint
        threading.Thread(target=self._disarm, args=(plan,), daemon=True).start()
        if handle is not None and handle.process is None:
            threading.Thread(target=self._report_killed, args=(handle, checkpoint), daemon=True).start()

    def on_plan_fired(self, plan: str) -> None:
        with self._lock:
            pending = self._pending.get(plan)
            if pending is None:
                return
            left = int(pending.get("left", 1)) - 1
            if left > 0:
                pending["left"] = left
                return
            del self._pending[plan]
        threading.Thread(target=self._disarm, args=(plan,), daemon=True).start()

    def holder_fate(self, worker: str) -> str | None:
        with self._lock:
            handle = self._workers.get(worker)
            return handle.status if handle is not None and handle.status in ("killed", "stopped") else None

    # -- workers ---------------------------------------------------------------------------

    def _plain_settings(self) -> dict[str, Any]:
        """The settings that differ from the lab's defaults, as JSON values (the worker adds the defaults)."""
        defaults = settings.with_defaults({})
        return {
            name: settings.plain_value(value)
            for name, value in self._settings.items()
            if name not in defaults or defaults[name] != value
        }

    def _start_worker(self, name: str) -> RealWorker:
        command = worker_command(
            self.url,
            name,
            self.names.prefix,
            self._plain_settings(),
            {t: {k: settings.plain_value(v) for k, v in o.items()} for t, o in self._task_options.items()},
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
        self._arm_pending(handle)
        return handle

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
            self.sync_events()  # its last acks are in
            with self._lock:
                handle.status, handle.reported = "stopped", True
            self._give_back(handle.name)
            self._bus.emit(ev.WorkerStopped, worker=handle.name)
        elif handle.status in ("alive", "starting"):
            self._report_killed(handle, None)

    def _give_back(self, worker: str) -> None:
        """A worker closed its connection cleanly: the broker has every message it held unacked back."""
        try:
            view = self.snapshot().worker(worker)
        except KeyError:
            return
        etas = {s.task_id: s for s in view.scheduled}
        for task_id in view.unacked:
            scheduled = etas.get(task_id)
            self._translator.given_back(task_id)
            self._bus.emit(
                ev.MessageRedelivered,
                task_id=task_id,
                task=self._bus.name_of(task_id),
                worker=worker,
                reason=ev.CLEAN_CLOSE,
                retries=scheduled.retries if scheduled else 0,
                eta_in=max(0.0, scheduled.eta_at - self.now()) if scheduled else None,
            )

    def _report_killed(self, handle: RealWorker, checkpoint: str | None) -> None:
        """The worker died at once: what it ran without holding the message is lost; the rest comes back."""
        self.sync_events()  # everything it said before it died is in
        with self._lock:
            if handle.reported:
                return
            handle.status, handle.reported = "killed", True
            checkpoint = checkpoint or handle.crash_checkpoint
        try:
            view = self.snapshot().worker(handle.name)
        except KeyError:
            self._bus.emit(ev.WorkerKilled, worker=handle.name, requeued=0, lost=0, checkpoint=checkpoint)
            return
        held = set(view.unacked)
        lost = {task_id: run.number for task_id, _name, run in view.running if task_id not in held}
        # Acked when it was received (early ack) but its run had not said so yet: lost all the same,
        # unless the broker still has a copy somewhere.
        snapshot = self.snapshot()
        somewhere: set[str] = {task_id for worker in snapshot.workers for task_id in worker.unacked}
        somewhere |= {message.task_id for message in snapshot.ready}
        somewhere |= {message.task_id for message in snapshot.invisible}
        for task in snapshot.tasks:
            if (
                task.state == "RECEIVED"
                and task.task_id not in somewhere
                and task.task_id not in lost
                and self._translator.last_holder(task.task_id) == handle.name
            ):
                lost[task.task_id] = 0
        for task_id, number in lost.items():
            self._bus.emit(
                ev.TaskLost, task_id=task_id, task=self._bus.name_of(task_id), worker=handle.name, run=number
            )
        kept = len(view.unacked) if self.kind == "redis" else 0
        requeued = 0 if self.kind == "redis" else len(view.unacked)
        self._bus.emit(
            ev.WorkerKilled, worker=handle.name, requeued=requeued, lost=len(lost), checkpoint=checkpoint, kept=kept
        )

    def _pick(self, worker: str | None, statuses: Iterable[str] = ("alive",)) -> RealWorker:
        wanted = tuple(statuses)
        with self._lock:
            if worker is not None:
                handle = self._workers.get(worker)
                if handle is None:
                    known = ", ".join(self._workers) or "none"
                    raise LabStateError(f"unknown worker {worker!r}; workers: {known}")
                if handle.status not in wanted:
                    raise LabStateError(f"{worker} is {handle.status}, not {' or '.join(wanted)}")
                return handle
            for handle in self._workers.values():
                if handle.status in wanted:
                    return handle
            now = ", ".join(f"{h.name} is {h.status}" for h in self._workers.values()) or "the lab is not started"
        raise LabStateError(f"no worker is {' or '.join(wanted)} ({now})")

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

    # -- controls --------------------------------------------------------------------------

    def send(
        self,
        task: str,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        alias: str | None = None,
        countdown: float | None = None,
    ) -> str:
        """Publish one task message to the lab's queue; returns its task id at once."""
        self._check_open()
        spec: TaskSpec = settings.pick(self.tasks, task, "task")
        arguments, keywords = tuple(args), dict(kwargs or {})
        _check_signature(spec, arguments, keywords)
        options: dict[str, Any] = {}
        if countdown is not None:
            options["countdown"] = settings.named("countdown", settings.number, countdown, 0, limits.MAX_COUNTDOWN)
        task_id = str(uuid.uuid4())
        self._bus.name_task(task_id, task, alias)
        self._translator.published(task_id)
        self._bus.emit(
            ev.TaskPublished,
            task_id=task_id,
            task=task,
            retries=0,
            eta_in=float(countdown) if countdown else None,
            by_retry=False,
            args=repr(arguments),
            alias=alias,
        )
        self.app.send_task(task, args=arguments, kwargs=keywords, task_id=task_id, **options)
        return task_id

    def send_many(
        self,
        task: str,
        count: int,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        alias: str | None = None,
    ) -> list[str]:
        """Publish ``count`` messages of one task; aliases are ``ALIAS-1``, ``ALIAS-2``…"""
        settings.named("count", settings.whole, count, 1, limits.MAX_COUNT, "messages")
        arguments = tuple(args)
        return [self.send(task, arguments, kwargs, alias=f"{alias}-{i + 1}" if alias else None) for i in range(count)]

    def configure(self, **changes: Any) -> None:
        """Change Celery settings; running workers restart (warm) with them, as a deploy would."""
        checked = {name: settings.check_setting(name, value) for name, value in changes.items()}
        with self._control:
            self._check_open()
            self._settings.update(checked)
            self._bus.emit(ev.ConfigChanged, settings=dict(checked))
            self._restart_alive()

    def set_task_options(self, task: str, **options: Any) -> None:
        """Change a task's options; running workers restart (warm) with them."""
        settings.pick(self.tasks, task, "task")
        checked = {name: settings.check_task_option(name, value) for name, value in options.items()}
        with self._control:
            self._check_open()
            self._task_options.setdefault(task, {}).update(checked)
            self._bus.emit(
                ev.ConfigChanged, task_options={task: {k: settings.plain_value(v) for k, v in checked.items()}}
            )
            self._restart_alive()

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

    def crash_worker(self, worker: str | None = None) -> None:
        """Kill a whole worker now: SIGKILL to its process group (or, started elsewhere, by remote control)."""
        with self._control:
            self._check_open()
            handle = self._pick(worker, ("alive", "stopping"))
            with self._lock:
                handle.status = "killing"  # its watcher leaves the report to this control
            if handle.process is not None:
                handle.process.kill()
                handle.process.wait()
            else:
                self.app.control.broadcast(protocol.CRASH_NOW, destination=[self.names.hostname(handle.name)])
            self._report_killed(handle, None)

    def crash_at(self, checkpoint: str, task: str | None = None) -> None:
        """Kill the whole worker when a task (``task``, or any) reaches ``checkpoint``."""
        point = check_checkpoint(checkpoint, task, self.tasks)
        self._arm(
            {"kind": "crash", "checkpoint": point, "task": task},
            f"kill the worker when {task or 'a task'} reaches '{point}'",
        )

    def kill_child_at(self, checkpoint: str | None = None, task: str | None = None) -> None:
        """Kill only the pool child running a task when it reaches ``checkpoint`` (or its next one)."""
        point = check_checkpoint(checkpoint, task, self.tasks) if checkpoint is not None else None
        where = f"reaches '{point}'" if point else "reaches its next checkpoint"
        self._arm(
            {"kind": "child", "checkpoint": point, "task": task}, f"kill the pool child when {task or 'a task'} {where}"
        )

    def kill_child(self, task_ref: str) -> None:
        """SIGKILL the pool child running a task now (remote control finds its PID in the worker)."""
        with self._control:
            self._check_open()
            task_id = self.task_id(task_ref)
            alive = self._alive()
            with self._replies:
                replies = self.app.control.broadcast(
                    protocol.KILL_CHILD,
                    arguments={"task_id": task_id},
                    destination=[self.names.hostname(h.name) for h in alive],
                    reply=True,
                    timeout=CONTROL_TIMEOUT,
                    limit=len(alive),
                )
            if not any("ok" in reply for answer in replies or [] for reply in answer.values()):
                raise LabStateError(f"no pool child runs {task_ref} now")

    def fail_next(self, task: str, times: int = 1, exc: str = "ConnectionError") -> None:
        """Make the next ``times`` runs of ``task`` raise ``exc`` (at their first checkpoint or service call)."""
        settings.pick(self.tasks, task, "task")
        settings.exception_class(exc)
        settings.named("times", settings.whole, times, 1, limits.MAX_COUNT, "runs")
        self._arm(
            {"kind": "failure", "task": task, "exc": exc, "left": times, "times": times},
            f"the next {times} run(s) of {task} raise {exc}",
        )

    def _arm(self, plan: dict[str, Any], description: str) -> None:
        with self._control:
            self._check_open()
            plan = {**plan, "id": uuid.uuid4().hex}
            with self._lock:
                self._pending[plan["id"]] = dict(plan)
            targets = self._alive()
            confirmed = self._broadcast(protocol.ARM, {"plan": plan}, targets)
            if confirmed < len(targets):
                raise LabStateError(f"only {confirmed} of {len(targets)} worker(s) confirmed the plan: {description}")
            self._bus.emit(ev.FaultArmed, description=description)

    def drop_connection(self, worker: str | None = None, outage: float = 0.0) -> None:
        """Not yet on a real broker."""
        raise LabStateError(f"drop_connection {NOT_YET}")

    def drop_connection_at(self, checkpoint: str, task: str | None = None, outage: float = 0.0) -> None:
        """Not yet on a real broker."""
        raise LabStateError(f"drop_connection {NOT_YET}")

    def deploy(self, worker: str | None = None, grace: float = 30.0, remap_sigterm: bool = False) -> None:
        """Not yet on a real broker."""
        raise LabStateError(f"deploy {NOT_YET}")

    def purge(self) -> int:
        """Delete every ready message of the lab's queue (and of no other queue)."""
        self._check_open()
        with self.app.connection_for_write() as connection:
            channel: Any = connection.default_channel
            count = int(channel.queue_purge(self.names.queue) or 0)
        self._bus.emit(ev.QueuePurged, count=count)
        return count

    def reset(self) -> None:
        """Back to the start: kill the workers, delete the lab's keys, start fresh workers."""
        with self._control:
            self._check_open()
            with self._lock:
                owned = [h for h in self._workers.values() if h.process is not None]
                self._pending.clear()
            for handle in owned:
                with self._lock:
                    handle.reported = True
                    handle.status = "killed"
                assert handle.process is not None
                handle.process.kill()
                handle.process.wait()
            self._disarm(None)
            self.sync_events()
            self._delete_lab_keys_but_events()
            self._settings = settings.with_defaults(self.initial.settings)
            self._task_options = {t: dict(o) for t, o in self.initial.task_options.items()}
            self._translator.clear()
            self._bus.emit(ev.LabReset)
            self._emit_config()
            if self._started:
                for handle in owned:
                    self._start_worker(handle.name)

    def _delete_lab_keys_but_events(self) -> None:
        self._delete_lab_keys()

    # -- introspection ---------------------------------------------------------------------

    def worker_status(self, name: str) -> str:
        """starting, alive, stopping, stopped or killed."""
        with self._lock:
            return self._workers[name].status

    def worker_info(self, name: str) -> tuple[str, int]:
        """Where a worker runs: its host name and main PID (as it reported them)."""
        with self._lock:
            handle = self._workers[name]
            return handle.host, handle.pid

    def placed(self) -> dict[str, tuple[str, int, bool]]:
        """Every worker the lab knows: name → (host, main PID, started elsewhere), for the panel."""
        with self._lock:
            return {name: (h.host, h.pid, h.process is None) for name, h in self._workers.items()}

    def join_options(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The settings and task options (JSON values) a worker joining from elsewhere must run with.

        Called from the UI's event loop: it takes no lock a control may hold for seconds, and reads copies.
        """
        defaults = settings.with_defaults({})
        now = dict(self._settings)
        plain = {k: settings.plain_value(v) for k, v in now.items() if k not in defaults or defaults[k] != v}
        tasks = dict(self._task_options)
        options = {t: {k: settings.plain_value(v) for k, v in dict(o).items()} for t, o in tasks.items()}
        return plain, {t: o for t, o in options.items() if o}

    def ready_in_broker(self) -> list[str]:
        """Not read from a real broker: the lab's events say what is ready."""
        return [message.task_id for message in self.snapshot().ready]


def _check_signature(spec: TaskSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse arguments the task cannot take, as Celery does before sending on an app that has the task."""
    signature = inspect.signature(spec.func)
    if spec.options.get("bind"):
        parameters = list(signature.parameters.values())[1:]
        signature = signature.replace(parameters=parameters)
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise LabConfigError(f"{spec.name}: {exc}") from None


def lab_maker(broker_url: str, allow_remote: bool = False) -> Callable[[LabConfig], Lab]:
    """A factory of real labs on one broker, for ``verify --broker`` (the URL checked, the broker probed)."""
    check_broker_url(broker_url, allow_remote)
    probe_broker(broker_url)

    def make_lab(config: LabConfig) -> Lab:
        return cast("Lab", RealLab(config, broker_url, allow_remote=allow_remote))

    return make_lab


def lessons_for(broker_url: str, lessons: list[L]) -> tuple[list[L], list[L]]:
    """The lessons whose lab runs on this broker's kind, and the others (skipped)."""
    kind = broker_kind(broker_url)
    chosen = [lesson for lesson in lessons if getattr(lesson.lab, "broker", "rabbitmq") == kind]  # type: ignore[attr-defined]
    return chosen, [lesson for lesson in lessons if lesson not in chosen]


def run_script_on_broker(script: Any, broker_url: str, *, allow_remote: bool = False) -> Any:
    """``lab run --broker URL``: the script's report, from real workers on that broker.

    The URL is checked and the broker probed first: a refused URL or a dead broker raises
    :class:`~.safety.BrokerRefused` within seconds, before anything starts.
    """
    from celery_tutor.lab.experiment import run_script

    return run_script(script, make_lab=lab_maker(broker_url, allow_remote))
