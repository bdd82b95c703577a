"""What every lab shares, in process or on a real broker: its event bus seen from outside, and sending many.

The in-process :class:`~.engine.Lab` and :class:`~.real.real_lab.RealLab` differ in where
work happens, not in how the rest of the project reads them: both tell what happens as
events on one :class:`~.bus.EventBus`, so the reads of that bus, and the controls built
only from others, live here once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Self

from celery_tutor.lab import events as ev
from celery_tutor.lab import limits, settings
from celery_tutor.lab.bus import EventBus, Subscriber
from celery_tutor.lab.kit import TaskSpec
from celery_tutor.lab.lab_config import LabConfig
from celery_tutor.lab.views import LabSnapshot


class LabBase:
    """The reads of a lab's event bus, its ``with`` block, and the controls that only check and record.

    A lab provides the rest: its lifecycle, ``send``, where settings are kept, and how its
    live workers restart.
    """

    tasks: dict[str, TaskSpec]
    """Every task this lab runs, by name."""
    _bus: EventBus
    _control: threading.RLock
    """Held by every control that starts, stops or kills workers: one at a time."""

    initial: LabConfig
    """How the lab started (checked)."""
    wait_floor: float = 0.0
    """Seconds a script's condition wait may take at least, whatever its own timeout says."""
    _started: bool
    _closed: bool

    def start(self) -> None:
        """Start the configured workers; returns once they consume."""
        with self._control:
            self._check_open()
            if self._started:
                return
            self._started = True
            self._before_start()
            self._emit_config()
            self._start_workers()

    def _start_workers(self) -> None:
        """The workers the configuration asks for: ``worker1``, ``worker2``…"""
        for index in range(self.initial.workers):
            self._start_worker(f"worker{index + 1}")

    def _before_start(self) -> None:
        """What must hold before the first worker starts (a real broker: reachable, its events heard)."""

    def _emit_config(self) -> None:
        raise NotImplementedError  # the lab's own: its whole configuration as one event

    def _start_worker(self, name: str) -> object:
        raise NotImplementedError  # the lab's own

    def close(self, timeout: float = 10.0) -> None:
        raise NotImplementedError  # the lab's own

    def _check_open(self) -> None:
        raise NotImplementedError  # the lab's own

    def _check_arguments(self, task: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Refuse arguments the task cannot take, before anything is sent (raises LabConfigError)."""

    def _publish(
        self, task: str, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], alias: str | None, **options: Any
    ) -> None:
        raise NotImplementedError  # the lab's own: how a message reaches its broker

    def _keep_settings(self, checked: dict[str, Any]) -> None:
        raise NotImplementedError  # the lab's own: where the next workers read their settings

    def _keep_task_options(self, task: str, checked: dict[str, Any]) -> None:
        raise NotImplementedError  # the lab's own

    def _restart_alive(self) -> None:
        raise NotImplementedError  # the lab's own

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events ----------------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the lab was created, on the lab's clock."""
        return self._bus.now()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every event from now on; returns the unsubscribe function.

        Callbacks run on the lab's threads, one at a time, in event order. They must return
        quickly and must not call the lab's controls. One that raises is logged (with its
        traceback) on the ``celery_tutor.lab`` logger; the others still get the event.
        """
        return self._bus.subscribe(callback)

    def sync_events(self, timeout: float = 10.0) -> bool:
        """Block until every event already sent has arrived (in process they arrive as they are sent)."""
        return True

    def snapshot(self) -> LabSnapshot:
        """Everything in the lab at this moment, as its events tell it."""
        return self._bus.snapshot()

    def wait_until(self, predicate: Callable[[LabSnapshot], bool], timeout: float) -> bool:
        """Block until ``predicate(snapshot)`` holds (checked after every event)."""
        return self._bus.wait_until(predicate, timeout)

    def task_id(self, ref: str) -> str:
        """The task id a script or lesson named ``ref``: an alias, or the latest task of that name."""
        return self._bus.task_id(ref)

    # -- controls that only check and record -------------------------------------------------

    def send(
        self,
        task: str,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        alias: str | None = None,
        countdown: float | None = None,
    ) -> str:
        """Publish one task message; returns its task id at once."""
        self._check_open()
        settings.pick(self.tasks, task, "task")
        arguments, keywords = tuple(args), dict(kwargs or {})
        self._check_arguments(task, arguments, keywords)
        options: dict[str, Any] = {}
        if countdown is not None:
            options["countdown"] = settings.named("countdown", settings.number, countdown, 0, limits.MAX_COUNTDOWN)
        task_id = str(uuid.uuid4())
        self._bus.name_task(task_id, task, alias)
        self._publish(task, task_id, arguments, keywords, alias, **options)
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
            self._keep_settings(checked)
            self._bus.emit(ev.ConfigChanged, settings=dict(checked))
            self._restart_alive()

    def set_task_options(self, task: str, **options: Any) -> None:
        """Change a task's ``@app.task`` options; running workers restart (warm) with them."""
        settings.pick(self.tasks, task, "task")
        checked = {name: settings.check_task_option(name, value) for name, value in options.items()}
        with self._control:
            self._check_open()
            self._keep_task_options(task, checked)
            self._bus.emit(
                ev.ConfigChanged, task_options={task: {k: settings.plain_value(v) for k, v in checked.items()}}
            )
            self._restart_alive()

    def _emit_whole_config(
        self, now: Mapping[str, Any], task_options: Mapping[str, Mapping[str, Any]], broker: str, server: str
    ) -> None:
        """The whole configuration as one event, so that the lab's state can be folded from events alone."""
        options = {t: {k: settings.plain_value(v) for k, v in o.items()} for t, o in task_options.items()}
        self._bus.emit(
            ev.ConfigChanged,
            settings=dict(now),
            task_options=options,
            complete=True,
            broker=broker,
            broker_server=server,
        )
