"""The lab: a real Celery app, broker and workers that a learner can poke and break.

:class:`Lab` is the one object the rest of the project talks to. It owns an isolated
Celery app on its own RabbitMQ-like memory broker (:mod:`.broker`), a private result
backend (:mod:`.results`), and one or more real in-process workers (:mod:`.worker`).
Controls return at once; slow teardown happens on background threads. Everything that
happens is reported as a typed event (:mod:`.events`), in one total order, to every
subscriber, and folded into a :class:`~.state.LabState` for :meth:`Lab.snapshot`.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from celery import Celery

from celery_tutor.lab import (
    celery_signals,  # noqa: F401  (importing it connects Celery's signals)
    logs,
    runtime,
    settings,
)
from celery_tutor.lab import events as ev
from celery_tutor.lab.broker import Broker
from celery_tutor.lab.catalog import CATALOG, all_checkpoints
from celery_tutor.lab.results import make_result_backend
from celery_tutor.lab.runtime import Fate, RunContext, WorkerRuntime
from celery_tutor.lab.settings import LabConfigError
from celery_tutor.lab.state import LabSnapshot, LabState
from celery_tutor.lab.worker import LabWorker

E = TypeVar("E", bound=ev.LabEvent)
Subscriber = Callable[[ev.LabEvent], None]

START_TIMEOUT = 10.0
_lab_numbers = itertools.count(1)


class LabStateError(RuntimeError):
    """A control that makes no sense right now (no worker alive to crash, a closed lab…)."""


@dataclass
class LabConfig:
    """How a lab starts: Celery settings, per-task options, and how many workers."""

    settings: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    workers: int = 1

    def checked(self) -> LabConfig:
        """A copy with every name and value checked (raises :class:`LabConfigError`)."""
        checked_settings = {name: settings.check_setting(name, v) for name, v in self.settings.items()}
        options: dict[str, dict[str, Any]] = {}
        for task, values in self.task_options.items():
            settings.pick(CATALOG, task, "task")
            options[task] = {name: settings.check_task_option(name, v) for name, v in values.items()}
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or not 1 <= self.workers <= 4:
            raise LabConfigError(f"workers: expected 1 to 4, got {self.workers!r}")
        return LabConfig(checked_settings, options, self.workers)


@dataclass(frozen=True)
class CrashPlan:
    """Kill a worker (or only a pool child) when a task reaches a checkpoint."""

    child_only: bool
    checkpoint: str | None
    task: str | None

    def matches(self, run: RunContext, checkpoint: str) -> bool:
        """Does this plan fire for this run at this checkpoint?"""
        return (self.checkpoint is None or self.checkpoint == checkpoint) and (
            self.task is None or self.task == run.task
        )

    def describe(self) -> str:
        """For the timeline."""
        who = "the pool child" if self.child_only else "the worker"
        where = f"reaches '{self.checkpoint}'" if self.checkpoint else "reaches its next checkpoint"
        task = self.task or "a task"
        return f"kill {who} when {task} {where}"


@dataclass(eq=False)
class _WorkerHandle:
    name: str
    incarnation: int
    runtime: WorkerRuntime
    worker: LabWorker
    thread: threading.Thread
    status: str = "alive"


class Lab:
    """One isolated Celery lab: app, broker, result backend, workers, ledger, events."""

    def __init__(self, config: LabConfig | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.number = next(_lab_numbers)
        self.initial = (config or LabConfig()).checked()
        self._clock = clock
        self._t0 = clock()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._control = threading.RLock()
        self._subscribers: list[Subscriber] = []
        self._seq = 0
        self._state = LabState()
        self.broker = Broker(probe=self)
        self._backend_cls = make_result_backend()
        self._settings: dict[str, Any] = {}
        self._task_options: dict[str, dict[str, Any]] = {}
        self._apps: list[Celery] = []
        self._app: Celery | None = None
        self._handles: dict[str, _WorkerHandle] = {}
        self._by_runtime: dict[int, _WorkerHandle] = {}
        self._threads: set[threading.Thread] = set()
        self._incarnations: Counter[str] = Counter()
        self._runs: Counter[str] = Counter()
        self._failures: dict[str, deque[str]] = {}
        self._crash_plans: list[CrashPlan] = []
        self._ledger_counts: Counter[tuple[str, str]] = Counter()
        self._idempotency_keys: set[str] = set()
        self._started = False
        self._closed = False
        self._apply_config(self.initial)
        logs.register(self)

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def app(self) -> Celery:
        """The Celery app workers started now would run."""
        if self._app is None:
            self._app = self._build_app()
        return self._app

    def start(self) -> None:
        """Start the configured workers; returns once they consume (tens of ms)."""
        with self._control:
            self._check_open()
            if self._started:
                return
            self._started = True
            self._emit_config()
            for index in range(self.initial.workers):
                self._start_worker(f"worker{index + 1}")

    def close(self, timeout: float = 10.0) -> None:
        """Stop everything and wait for every thread the lab started (blocking)."""
        with self._control:
            if self._closed:
                return
            self._closed = True
            for handle in list(self._handles.values()):
                if handle.status in ("alive", "stopping"):
                    self._kill(handle, checkpoint=None, quiet=True)
        self.join(timeout)
        self.broker.clear()
        for app in self._apps:
            app.close()
        self._apps.clear()
        self._app = None
        self.broker.forget()
        logs.unregister(self)

    def join(self, timeout: float = 10.0) -> bool:
        """Wait for the threads of stopped and killed workers and their teardown; True when done.

        The threads of workers still alive are not waited for.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._threads = {t for t in self._threads if t.is_alive()}
                alive = {h.thread for h in self._handles.values() if h.status == "alive"}
                pending = [t for t in self._threads if t not in alive]
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            pending[0].join(remaining)

    def _check_open(self) -> None:
        if self._closed:
            raise LabStateError("the lab is closed")

    # -- events --------------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the lab was created, on the lab's clock."""
        return self._clock() - self._t0

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every event from now on; returns the unsubscribe function.

        Callbacks run on Celery's and the lab's threads, one at a time, in event order.
        They must return quickly and must not call the lab's controls.
        """
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, cls: type[E], **fields: Any) -> E | None:
        with self._lock:
            if self._closed:
                return None  # what a closing lab's dying threads do is nobody's business
            self._seq += 1
            event = cls(seq=self._seq, at=self.now(), **fields)
            self._state.apply(event)
            for callback in list(self._subscribers):
                try:
                    callback(event)
                except Exception as exc:  # a subscriber must never break the lab
                    logs.report_subscriber_error(exc)
            self._changed.notify_all()
        return event

    def snapshot(self) -> LabSnapshot:
        """Everything in the lab at this moment."""
        with self._lock:
            return self._state.snapshot()

    def wait_until(self, predicate: Callable[[LabSnapshot], bool], timeout: float) -> bool:
        """Block until ``predicate(snapshot)`` holds (checked after every event)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self._state.snapshot()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def task_id(self, ref: str) -> str:
        """The task id a script or lesson named ``ref``: an alias, or the latest task of that name."""
        with self._lock:
            task_id = self._state.aliases.get(ref)
            if task_id is not None:
                return task_id
            named = [view.task_id for view in self._state.snapshot().tasks if view.task == ref]
            if named:
                return named[-1]
            known = ", ".join(sorted(self._state.aliases)) or "none yet"
            raise LabConfigError(f"no task {ref!r} sent yet; aliases: {known}")

    # -- the Celery app ------------------------------------------------------------------

    def _apply_config(self, config: LabConfig) -> None:
        self._settings = settings.with_defaults(config.settings)
        self._task_options = {task: dict(options) for task, options in config.task_options.items()}
        self._app = None

    def _build_app(self) -> Celery:
        app = Celery(f"lab{self.number}", set_as_current=False)
        app.conf.update(
            broker_url="memory://localhost//",
            broker_transport=self.broker.transport_cls,
            broker_connection_retry_on_startup=True,
            result_backend=self._backend_cls,
            result_extended=True,
            worker_hijack_root_logger=False,
            worker_redirect_stdouts=False,
            worker_enable_remote_control=False,
            worker_send_task_events=False,
            task_send_sent_event=False,
            enable_utc=True,
            worker_timer_precision=0.1,  # ETAs fire on time, and the timer thread stops quickly
        )
        app.conf.update({k: v for k, v in self._settings.items() if k != "worker_concurrency"})
        app._celery_tutor_lab = self  # type: ignore[attr-defined]
        for spec in CATALOG.values():
            options = {**spec.options, **self._task_options.get(spec.name, {})}
            app.task(name=spec.name, shared=False, **options)(spec.func)
        app.finalize()
        self._apps.append(app)
        return app

    # -- workers -------------------------------------------------------------------------

    def _start_worker(self, name: str) -> _WorkerHandle:
        self._incarnations[name] += 1
        incarnation = self._incarnations[name]
        worker_runtime = WorkerRuntime(name=name, hooks=self)
        concurrency = int(self._settings["worker_concurrency"])
        prefetch = int(self._settings["worker_prefetch_multiplier"])
        worker = LabWorker(
            self.app,
            worker_runtime,
            hostname=f"{name}.{incarnation}@lab{self.number}",
            concurrency=concurrency,
            prefetch_multiplier=prefetch,
            on_skipped=self._on_skipped,
            on_ready=lambda: self._emit(
                ev.WorkerStarted, worker=name, concurrency=concurrency, prefetch_multiplier=prefetch
            ),
        )
        thread = threading.Thread(target=worker.run, name=f"celery-tutor-lab{self.number}-{name}", daemon=True)
        handle = _WorkerHandle(name, incarnation, worker_runtime, worker, thread)
        with self._lock:
            self._handles[name] = handle
            self._by_runtime[id(worker_runtime)] = handle
            self._threads.add(thread)
        thread.start()
        if not worker.consuming.wait(START_TIMEOUT) or not thread.is_alive():
            raise LabStateError(f"{name} did not start consuming")
        return handle

    def _pick_worker(self, name: str | None, statuses: Iterable[str] = ("alive",)) -> _WorkerHandle:
        wanted = tuple(statuses)
        if name is not None:
            handle = self._handles.get(name)
            if handle is None:
                raise LabConfigError(f"unknown worker {name!r}; valid: {', '.join(sorted(self._handles))}")
            if handle.status not in wanted:
                raise LabStateError(f"{name} is {handle.status}")
            return handle
        for handle in self._handles.values():
            if handle.status in wanted:
                return handle
        now = ", ".join(f"{h.name} is {h.status}" for h in self._handles.values()) or "the lab is not started"
        raise LabStateError(f"no worker is {' or '.join(wanted)} ({now})")

    def _background(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"celery-tutor-lab{self.number}-{name}", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _kill(self, handle: _WorkerHandle, checkpoint: str | None, quiet: bool = False) -> None:
        with self._lock:
            if handle.status not in ("alive", "stopping"):
                return
            handle.status = "killed"
            running = {task_id: run for task_id, _name, run in self._running_on(handle.name)}
        restored: list[str] = []
        channels = handle.worker.channels()
        with ExitStack() as held:
            # Let a delivery in progress finish (and be reported), then die with the
            # connection: nothing is received in between.
            for channel in channels:
                held.enter_context(channel.delivery_lock)
            handle.runtime.killed.set()
            for channel in channels:
                restored.extend(channel.sever())
        if not quiet:
            lost = [task_id for task_id in running if task_id not in restored]
            for task_id in lost:
                self._emit(
                    ev.TaskLost,
                    task_id=task_id,
                    task=self._name_of(task_id),
                    worker=handle.name,
                    run=running[task_id].number,
                )
            self._emit(
                ev.WorkerKilled, worker=handle.name, requeued=len(restored), lost=len(lost), checkpoint=checkpoint
            )

        def teardown() -> None:
            handle.worker.terminate()
            handle.thread.join(START_TIMEOUT)
            handle.worker.forget_requests()
            self._forget_handle(handle)

        self._background(f"{handle.name}-teardown", teardown)

    def _forget_handle(self, handle: _WorkerHandle) -> None:
        with self._lock:
            self._by_runtime.pop(id(handle.runtime), None)

    def _running_on(self, worker: str) -> tuple[tuple[str, str, Any], ...]:
        try:
            return self._state.snapshot().worker(worker).running
        except KeyError:
            return ()

    def _name_of(self, task_id: str) -> str:
        view = self._state.task(task_id)
        return view.task if view else "?"

    # -- controls ------------------------------------------------------------------------

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
        settings.pick(CATALOG, task, "task")
        task_id = str(uuid.uuid4())
        with self._lock:
            self._state.name_task(task_id, task, alias)
        self.app.tasks[task].apply_async(
            args=tuple(args), kwargs=dict(kwargs or {}), task_id=task_id, countdown=countdown
        )
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
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise LabConfigError(f"count: expected a whole number ≥ 1, got {count!r}")
        arguments = tuple(args)
        return [self.send(task, arguments, kwargs, alias=f"{alias}-{i + 1}" if alias else None) for i in range(count)]

    def configure(self, **changes: Any) -> None:
        """Change Celery settings; running workers restart (warm) to pick them up."""
        checked = {name: settings.check_setting(name, value) for name, value in changes.items()}
        with self._control:
            self._check_open()
            self._settings.update(checked)
            self._app = None
            self._emit(ev.ConfigChanged, settings=dict(checked))
            self._restart_alive()

    def set_task_options(self, task: str, **options: Any) -> None:
        """Change a task's ``@app.task`` options; running workers restart (warm) to pick them up."""
        settings.pick(CATALOG, task, "task")
        checked = {name: settings.check_task_option(name, value) for name, value in options.items()}
        with self._control:
            self._check_open()
            self._task_options.setdefault(task, {}).update(checked)
            self._app = None
            self._emit(ev.ConfigChanged, task_options={task: {k: settings.plain_value(v) for k, v in checked.items()}})
            self._restart_alive()

    def _emit_config(self) -> None:
        # The whole configuration as an event: the lab's state can be folded from events alone.
        options = {t: {k: settings.plain_value(v) for k, v in o.items()} for t, o in self._task_options.items()}
        self._emit(ev.ConfigChanged, settings=dict(self._settings), task_options=options, complete=True)

    def _restart_alive(self) -> None:
        for handle in list(self._handles.values()):
            if handle.status == "alive":
                self._stop(handle)
                self._start_worker(handle.name)

    def fail_next(self, task: str, times: int = 1, exc: str = "ConnectionError") -> None:
        """Make the next ``times`` runs of ``task`` raise ``exc`` (at their first checkpoint or service call)."""
        settings.pick(CATALOG, task, "task")
        settings.exception_class(exc)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise LabConfigError(f"times: expected a whole number ≥ 1, got {times!r}")
        with self._lock:
            self._failures.setdefault(task, deque()).extend([exc] * times)
        self._emit(ev.FaultArmed, description=f"the next {times} run(s) of {task} raise {exc}")

    def crash_worker(self, worker: str | None = None) -> None:
        """Kill a whole worker now, like ``kill -9``. Returns at once."""
        with self._control:
            self._check_open()
            self._kill(self._pick_worker(worker, ("alive", "stopping")), checkpoint=None)

    def crash_at(self, checkpoint: str, task: str | None = None) -> None:
        """Kill the whole worker when a task (``task``, or any) reaches ``checkpoint``."""
        self._arm(CrashPlan(child_only=False, checkpoint=self._check_checkpoint(checkpoint, task), task=task))

    def kill_child_at(self, checkpoint: str | None = None, task: str | None = None) -> None:
        """Kill only the pool child running a task when it reaches ``checkpoint`` (or its next one)."""
        point = self._check_checkpoint(checkpoint, task) if checkpoint is not None else None
        self._arm(CrashPlan(child_only=True, checkpoint=point, task=task))

    def _check_checkpoint(self, checkpoint: str, task: str | None) -> str:
        if task is not None:
            spec = settings.pick(CATALOG, task, "task")
            valid = (*spec.checkpoints, *all_checkpoints(universal_only=True))
        else:
            valid = all_checkpoints()
        if checkpoint not in valid:
            owner = f" of {task}" if task else ""
            raise LabConfigError(f"unknown checkpoint{owner} {checkpoint!r}; valid: {', '.join(valid)}")
        return checkpoint

    def _arm(self, plan: CrashPlan) -> None:
        self._check_open()
        with self._lock:
            self._crash_plans.append(plan)
        self._emit(ev.FaultArmed, description=plan.describe())

    def stop_worker(self, worker: str | None = None) -> None:
        """Warm shutdown: take no new messages, let running tasks finish. Returns at once."""
        with self._control:
            self._check_open()
            self._stop(self._pick_worker(worker))

    def _stop(self, handle: _WorkerHandle) -> None:
        with self._lock:
            handle.status = "stopping"
        for channel in handle.worker.channels():
            channel.draining = True
        self._emit(ev.WorkerStopping, worker=handle.name)

        def teardown() -> None:
            handle.worker.stop()
            handle.thread.join(START_TIMEOUT)
            handle.worker.forget_requests()
            self._forget_handle(handle)
            with self._lock:
                # After a restart the name belongs to a newer worker: say nothing about it.
                current = handle.status == "stopping" and self._handles.get(handle.name) is handle
                if handle.status == "stopping":
                    handle.status = "stopped"
            if current:
                self._emit(ev.WorkerStopped, worker=handle.name)

        self._background(f"{handle.name}-stop", teardown)

    def restart_worker(self, worker: str | None = None) -> None:
        """Start the worker again (after a warm stop if it is alive). Returns once it consumes."""
        with self._control:
            self._check_open()
            handle = self._pick_worker(worker, ("alive", "stopping", "stopped", "killed"))
            if handle.status == "alive":
                self._stop(handle)
            self._start_worker(handle.name)

    def purge(self) -> int:
        """Delete every ready message; returns how many (unacked ones are not touched)."""
        self._check_open()
        count = self.broker.purge()
        self._emit(ev.QueuePurged, count=count)
        return count

    def reset(self) -> None:
        """Back to the initial state: fresh workers, empty queue, ledger and results."""
        with self._control:
            self._check_open()
            for handle in list(self._handles.values()):
                self._kill(handle, checkpoint=None, quiet=True)
            self.broker.purge()
            with self._lock:
                self._handles.clear()
                self._runs.clear()
                self._failures.clear()
                self._crash_plans.clear()
                self._ledger_counts.clear()
                self._idempotency_keys.clear()
                self._backend_cls.store.clear()
                self._apply_config(self.initial)
            self._emit(ev.LabReset)
            self._emit_config()
            if self._started:
                for index in range(self.initial.workers):
                    self._start_worker(f"worker{index + 1}")

    # -- what the running tasks call (runtime.TaskHooks) --------------------------------

    def reached(self, run: RunContext, checkpoint: str) -> str:
        """A task reached a checkpoint: report it, and kill here if a plan says so."""
        self._emit(
            ev.CheckpointReached,
            task_id=run.task_id,
            task=run.task,
            worker=run.worker.name,
            run=run.run,
            checkpoint=checkpoint,
        )
        with self._lock:
            plan = next((p for p in self._crash_plans if p.matches(run, checkpoint)), None)
            if plan is not None:
                self._crash_plans.remove(plan)
            handle = self._by_runtime.get(id(run.worker))
        if plan is None or handle is None:
            return Fate.LIVE
        if plan.child_only:
            self._emit(
                ev.ChildKilled, task_id=run.task_id, task=run.task, worker=run.worker.name, checkpoint=checkpoint
            )
            return Fate.KILL_CHILD
        with self._control:
            self._kill(handle, checkpoint=checkpoint)
        return Fate.KILL_WORKER

    def side_effect(self, run: RunContext, action: str, key: str, detail: str, idempotency_key: str | None) -> bool:
        """Record a side effect in the ledger, unless its idempotency key was used."""
        with self._lock:
            if idempotency_key is not None and idempotency_key in self._idempotency_keys:
                self._emit(ev.SideEffectSkipped, task_id=run.task_id, task=run.task, action=action, key=key)
                return False
            if idempotency_key is not None:
                self._idempotency_keys.add(idempotency_key)
            self._ledger_counts[(action, key)] += 1
            count = self._ledger_counts[(action, key)]
            self._emit(
                ev.LedgerWritten, task_id=run.task_id, task=run.task, action=action, key=key, detail=detail, count=count
            )
            return True

    def _on_skipped(self, worker: WorkerRuntime, task_id: str) -> None:
        if not worker.killed.is_set():
            self._emit(ev.RunSkipped, task_id=task_id, task=self._name_of(task_id), worker=worker.name)

    # -- what Celery's signals report (see celery_signals) -------------------------------

    def on_task_received(self, worker: str, request: Any) -> None:
        """Celery's ``task_received``: the worker holds the message now."""
        eta_in = _seconds_until(request.eta) if request.eta else None
        self._emit(
            ev.TaskReceived,
            task_id=request.id,
            task=request.name,
            worker=worker,
            redelivered=bool((request.delivery_info or {}).get("redelivered")),
            retries=int(request.request_dict.get("retries") or 0),
            eta_in=eta_in,
        )

    def on_task_prerun(self, task: Any, task_id: str) -> None:
        """Celery's ``task_prerun``: a run begins on this (pool) thread."""
        worker = runtime.bound_worker()
        if worker is None:
            return
        with self._lock:
            self._runs[task_id] += 1
            number = self._runs[task_id]
            pending = self._failures.get(task.name)
            failure = pending.popleft() if pending else None
        run = RunContext(
            worker=worker,
            task_id=task_id,
            task=task.name,
            run=number,
            failure=settings.make_exception(failure, task.name) if failure else None,
        )
        runtime.begin_run(run)
        request = task.request
        self._emit(
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
        countdown = _seconds_until(when) if isinstance(when, datetime) else float(when or 0)
        max_retries = getattr(task, "override_max_retries", task.max_retries)
        exc = reason.exc
        self._emit(
            ev.RetryScheduled,
            task_id=request.id,
            task=task.name,
            worker=_worker_name(),
            attempt=int(request.retries or 0) + 1,
            max_retries=max_retries,
            countdown=countdown,
            eta_at=self.now() + countdown,
            exc_type=type(exc).__name__ if exc is not None else "Retry",
            exc_message=str(exc) if exc is not None else "",
        )

    def on_task_success(self, task: Any, result: Any) -> None:
        """Celery's ``task_success``."""
        self._emit(
            ev.TaskSucceeded,
            task_id=task.request.id,
            task=task.name,
            worker=_worker_name(),
            result=_short_repr(result),
        )

    def on_task_failure(self, task: Any, task_id: str, exception: BaseException) -> None:
        """Celery's ``task_failure``."""
        self._emit(
            ev.TaskFailed,
            task_id=task_id,
            task=task.name,
            worker=_worker_name(),
            exc_type=type(exception).__name__,
            exc_message=str(exception),
        )

    def on_log(self, level: str, logger: str, message: str) -> None:
        """A warning or error from Celery or kombu, routed to this lab."""
        self._emit(ev.LabLog, level=level, logger=logger, message=message)

    # -- what the broker reports (broker.BrokerProbe) ------------------------------------

    def message_published(self, headers: dict[str, Any]) -> None:
        """A task message reached the queue."""
        retries = int(headers.get("retries") or 0)
        with self._lock:
            view = self._state.task(headers["id"])
        self._emit(
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
            self._emit(ev.MessageAcked, task_id=headers["id"], task=headers["task"], worker=owner)

    def message_rejected(self, owner: str | None, headers: dict[str, Any], requeue: bool) -> None:
        """A worker rejected a message."""
        if owner is not None and "task" in headers:
            self._emit(ev.MessageRejected, task_id=headers["id"], task=headers["task"], worker=owner, requeue=requeue)

    def message_restored(self, owner: str | None, headers: dict[str, Any], reason: str) -> None:
        """An unacked message went back to the queue."""
        if "task" in headers:
            self._emit(
                ev.MessageRedelivered,
                task_id=headers["id"],
                task=headers["task"],
                worker=owner or "?",
                reason=reason,
                retries=int(headers.get("retries") or 0),
                eta_in=_eta_in(headers),
            )

    # -- introspection -------------------------------------------------------------------

    def worker_status(self, name: str) -> str:
        """alive, stopping, stopped or killed."""
        with self._lock:
            return self._handles[name].status

    def live_threads(self) -> list[threading.Thread]:
        """Threads this lab started that are still running."""
        with self._lock:
            return [t for t in self._threads if t.is_alive()]

    def ready_in_broker(self) -> list[str]:
        """Task ids waiting in the broker's queue, read from the broker itself."""
        return self.broker.ready_ids()


def _worker_name() -> str:
    worker = runtime.bound_worker()
    return worker.name if worker else "?"


def _seconds_until(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _eta_in(headers: dict[str, Any]) -> float | None:
    eta = headers.get("eta")
    return _seconds_until(datetime.fromisoformat(eta)) if eta else None


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
