"""A lab on a real broker with real worker processes, behind the same controls as the in-process lab.

:class:`RealLab` answers the calls :class:`~celery_tutor.lab.runner.ScriptRunner`, the
actions and the reports make on :class:`~celery_tutor.lab.engine.Lab` (``send``,
``crash_at``, ``snapshot``, ``subscribe``…), with the same events on the same
:class:`~celery_tutor.lab.bus.EventBus`. What differs is where things happen: tasks go to
the lab's prefixed queue on the learner's broker; ``celery-tutor worker`` processes run
them; a crash is a SIGKILL to a worker's process group; a kill at a checkpoint is armed in
the workers by remote control and carried out there; events come back through Celery's
event stream.

The lab's worker processes are :mod:`.real_workers`' job, its faults :mod:`.real_faults`';
``lab run`` and ``verify`` build real labs with :mod:`.broker_runs`.

Not on a real broker (refused with the reason): a dropped connection's ``outage`` (a real
worker reconnects to a server that is up), and a script's own task code (``lab.code``).
"""

from __future__ import annotations

import contextlib
import inspect
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from celery import Celery

from celery_tutor.lab import events as ev
from celery_tutor.lab import settings
from celery_tutor.lab.bus import EventBus
from celery_tutor.lab.fleet import LabStateError
from celery_tutor.lab.kit import TaskSpec
from celery_tutor.lab.lab_config import LabConfig
from celery_tutor.lab.library import task_table
from celery_tutor.lab.real.names import LabNames, broker_kind, celery_conf
from celery_tutor.lab.real.process import WorkerProcess
from celery_tutor.lab.real.real_faults import NOT_YET, RealFaultControls
from celery_tutor.lab.real.real_workers import RealWorker
from celery_tutor.lab.real.receiver import EventThread
from celery_tutor.lab.real.safety import check_broker_url, describe_url, probe_broker
from celery_tutor.lab.real.translate import EventTranslator
from celery_tutor.lab.settings import LabConfigError

START_TIMEOUT = 30.0
"""Seconds a worker process may take to consume (importing Celery and forking its pool)."""


TUTOR_VISIBILITY_TIMEOUT = 10 * 365 * 24 * 3600.0
"""The tutor's own Redis channels restore no message a worker holds (see ``RealLab._make_app``)."""


class RealLab(RealFaultControls):
    """One lab on a real broker: the tutor side (send, watch, break) of real worker processes."""

    wait_floor = 30.0
    """A real prefork worker notices a killed pool child at once or at its next pool maintenance
    (every 5 s), and starts a new child in its own time: a lesson's few-second wait for what
    follows can time out there. What a script shows does not depend on how long it may wait."""

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
        _keep_remote_control(self.initial.settings)
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
        # kombu's Redis transport runs a restore scan whenever it drains a channel that consumes a
        # queue: the tutor's does, collecting remote-control replies. The tutor is no worker; with
        # its own (first) visibility timeout it would put the lab's unacked messages back early.
        transport["visibility_timeout"] = TUTOR_VISIBILITY_TIMEOUT
        app.conf.update(celery_conf(self.url, self.names, transport))
        app.conf.broker_connection_retry = False
        return app

    @property
    def prefix(self) -> str:
        """What ``celery-tutor worker --prefix`` needs to join this lab from another terminal."""
        return self.names.prefix

    # -- lifecycle -------------------------------------------------------------------------

    def _before_start(self) -> None:
        """The broker answers and its events come back, or the lab does not start."""
        probe_broker(self.url)
        if not self._events.start():
            raise LabStateError(f"no events came back from {describe_url(self.url)}: {self._events.failure or ''}")

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
            self._translator.close()
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

    def _check_open(self) -> None:
        if self._closed:
            raise LabStateError("the lab is closed")

    @property
    def halted(self) -> str | None:
        """Real workers run no learner code the lab must halt for: never halted."""
        return None

    # -- configuration and controls --------------------------------------------------------

    def _emit_config(self) -> None:
        self._emit_whole_config(self._settings, self._task_options, self.kind, describe_url(self.url))

    def _check_arguments(self, task: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        _check_signature(self.tasks[task], args, kwargs)

    def _publish(
        self, task: str, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], alias: str | None, **options: Any
    ) -> None:
        """Send to the lab's queue; the workers' events cannot say it was sent first, so the lab does."""
        self._translator.published(task_id)
        countdown = options.get("countdown")
        self._bus.emit(
            ev.TaskPublished,
            task_id=task_id,
            task=task,
            retries=0,
            eta_in=float(countdown) if countdown else None,
            by_retry=False,
            args=repr(args),
            alias=alias,
        )
        self.app.send_task(task, args=args, kwargs=kwargs, task_id=task_id, **options)

    def _keep_settings(self, checked: dict[str, Any]) -> None:
        _keep_remote_control(checked)
        self._settings.update(checked)

    def _keep_task_options(self, task: str, checked: dict[str, Any]) -> None:
        self._task_options.setdefault(task, {}).update(checked)

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
                handle.ended.set()
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

    def placed(self) -> dict[str, tuple[str, int, bool]]:
        """Every worker the lab knows: name → (host, main PID, started elsewhere), for the panel."""
        with self._lock:
            return {name: (h.host, h.pid, h.process is None) for name, h in self._workers.items()}

    def join_options(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The settings and task options (JSON values) a worker joining from elsewhere must run with.

        Called from the UI's event loop: it takes no lock a control may hold for seconds, and reads copies.
        """
        return self._plain_settings(), self._plain_task_options()

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


def _keep_remote_control(chosen: Mapping[str, Any]) -> None:
    """Refuse to turn remote control off: the tutor arms faults and reaches its workers through it."""
    if chosen.get("worker_enable_remote_control") is False:
        raise LabConfigError(
            "worker_enable_remote_control: false needs the in-process lab: real lab workers keep remote "
            "control on, since the tutor arms faults and reaches its workers through it"
        )
