"""The lab: a real Celery app, broker and workers that a learner can poke and break.

:class:`Lab` is the one object the rest of the project talks to. It owns the lab's
lifecycle and its workers, carries out the controls, and composes the parts that each
do one job:

* :mod:`.fleet`: the in-process workers, started, killed like ``kill -9``, stopped warm;
* :mod:`.bus`: every event in one total order, the lab-side state fold, subscribers, waits;
* :mod:`.broker`: the lab's own queues, behind the :class:`~.broker_api.LabBroker` interface;
* :mod:`.app_builder`: the Celery apps, with the lab's settings and private results;
* :mod:`.reporters`: Celery's signals and the broker's probe, turned into events;
* :mod:`.faults`: crash plans and injected failures;
* :mod:`.ledger`: the side effects of the tasks;
* :mod:`.fault_controls`: the controls that break things, and the plans they arm;
* :mod:`.lab_config`: how a lab starts, checked.

Controls return at once; slow teardown happens on background threads. Locks are taken
in one order only: the control lock (one control at a time), the fleet's, the
ledger's, the bus's; the fault injector's and the reporter's are leaves.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import Celery

from celery_tutor.lab import events as ev
from celery_tutor.lab import limits, logs
from celery_tutor.lab.app_builder import AppBuilder
from celery_tutor.lab.broker_api import LabBroker
from celery_tutor.lab.bus import EventBus, Subscriber
from celery_tutor.lab.code_guard import CodeGuard, Overrun
from celery_tutor.lab.fault_controls import FaultControls
from celery_tutor.lab.faults import CrashPlan, FaultInjector
from celery_tutor.lab.fleet import LabStateError, WorkerFleet
from celery_tutor.lab.kit import TaskSpec
from celery_tutor.lab.lab_base import LabBase
from celery_tutor.lab.lab_config import LabConfig, make_broker
from celery_tutor.lab.ledger import Ledger
from celery_tutor.lab.library import task_table
from celery_tutor.lab.reporters import BrokerReporter, CeleryReporter
from celery_tutor.lab.runtime import RunContext
from celery_tutor.lab.settings import LabConfigError
from celery_tutor.lab.views import LabSnapshot

__all__ = ["CrashPlan", "Lab", "LabConfig", "LabConfigError", "LabStateError", "Subscriber"]

_lab_numbers = itertools.count(1)

IDLE_STOP_TIMEOUT = 5.0
ACK_GRACE = 1.0
"""Seconds a configuration change waits for a finished task's late ack before it restarts the worker."""
"""Seconds a configuration change waits for an idle worker to stop before starting its successor."""


def _acked_or_busy(name: str, snapshot: LabSnapshot) -> bool:
    worker = snapshot.worker(name)
    return not worker.unacked or bool(worker.running)


class Lab(FaultControls, LabBase):
    """One isolated Celery lab: app, broker, result backend, workers, ledger, events."""

    def __init__(self, config: LabConfig | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.number = next(_lab_numbers)
        self.initial = (config or LabConfig()).checked()
        self.tasks: dict[str, TaskSpec] = task_table({spec.name: spec for spec in self.initial.extra_tasks})
        """Every task this lab runs, by name: the library's and the learner's."""
        self._halted: str | None = None
        self._prints: dict[tuple[str, int], int] = {}
        self._prints_lock = threading.Lock()
        self._bus = EventBus(clock)
        self._faults = FaultInjector(self.tasks)
        self._ledger = Ledger(self._bus)
        self._reporter = CeleryReporter(self._bus, self._faults)
        self.broker: LabBroker = make_broker(self.initial.broker, BrokerReporter(self._bus))
        self._guard = CodeGuard(f"lab{self.number}", self.initial.code_time_limit, self._code_overran)
        self._apps = AppBuilder(
            f"lab{self.number}",
            self.broker,
            self._reporter,
            tasks=self.tasks,
            guarded=[spec.name for spec in self.initial.extra_tasks],
            guard=self._guard,
        )
        self._apps.reset(self.initial.settings, self.initial.task_options)
        self._fleet = WorkerFleet(f"lab{self.number}", self._bus, self, self._reporter.on_run_skipped)
        self._control = threading.RLock()
        """Held by every control that starts, stops or kills workers: one at a time."""
        self._started = False
        self._closed = False
        logs.register(self)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def app(self) -> Celery:
        """The Celery app workers started now would run."""
        return self._apps.app

    def close(self, timeout: float = 10.0) -> None:
        """Stop everything and wait for every thread the lab started (blocking)."""
        with self._control:
            if self._closed:
                return
            self._closed = True
            self._bus.close()  # what a closing lab's dying threads do is nobody's business
            for handle in self._fleet.handles():
                if handle.status in ("alive", "stopping"):
                    self._fleet.kill(handle, checkpoint=None, quiet=True)
        self.join(timeout)
        self._guard.close()
        self._apps.close()
        self.broker.close()
        logs.unregister(self)

    def join(self, timeout: float = 10.0) -> bool:
        """Wait for the threads of stopped and killed workers and their teardown; True when done.

        The threads of workers still alive are not waited for.
        """
        deadline = time.monotonic() + timeout
        done = self._fleet.join(timeout)
        return self._guard.join(max(0.0, deadline - time.monotonic())) and done

    def _check_open(self) -> None:
        if self._halted is not None:
            raise LabStateError(self._halted)
        if self._closed:
            raise LabStateError("the lab is closed")

    @property
    def halted(self) -> str | None:
        """Why the lab stopped itself, if it did: learner code ran past its time limit.

        A halted lab has killed its workers and takes no more controls (they raise
        :class:`LabStateError` with this message); its owner replaces it with a fresh one.
        The :class:`~.events.CodeTimedOut` event says the same as it happens.
        """
        return self._halted

    def _code_overran(self, overrun: Overrun) -> None:
        """The guard's watchdog saw learner code outlive its limit: halt, and kill every worker."""
        with self._control:
            if self._closed or self._halted is not None:
                return
            self._halted = overrun.message
            self._bus.emit(
                ev.CodeTimedOut,
                task_id=overrun.task_id,
                task=overrun.task,
                worker=overrun.worker,
                seconds=overrun.seconds,
                message=overrun.message,
            )
            for handle in self._fleet.handles():
                if handle.status in ("alive", "stopping"):
                    self._fleet.kill(handle, checkpoint=None, quiet=True)

    # -- workers -------------------------------------------------------------------------

    def _start_worker(self, name: str) -> None:
        concurrency = int(self._apps.settings["worker_concurrency"])
        prefetch = int(self._apps.settings["worker_prefetch_multiplier"])
        self._fleet.start(name, self.app, concurrency, prefetch)

    def _restart_alive(self) -> None:
        """Restart every live worker so a new configuration applies, as a deploy would.

        An idle worker is stopped before its successor starts, as one restarts a worker in
        place. Otherwise, on Redis, the old worker's last BRPOP (kombu waits up to a second
        for it while closing) could take a message sent just after the change; kombu puts it
        back flagged redelivered ("no consumers"), and the learner would see a redelivery
        that only the lab's restart caused. A busy worker finishes its tasks in the
        background while its successor already runs, like a rolling restart.
        """
        for handle in self._fleet.handles():
            if handle.status == "alive":
                view = self.snapshot().worker(handle.name)
                if view.unacked and not view.running:
                    # A late ack goes out after the result is stored: let it land first.
                    self.wait_until(functools.partial(_acked_or_busy, handle.name), ACK_GRACE)
                    view = self.snapshot().worker(handle.name)
                idle = not view.unacked and not view.running
                self._fleet.stop(handle)
                if idle:
                    handle.thread.join(IDLE_STOP_TIMEOUT)
                self._start_worker(handle.name)

    # -- controls ------------------------------------------------------------------------

    def _publish(
        self, task: str, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], alias: str | None, **options: Any
    ) -> None:
        try:
            self.app.tasks[task].apply_async(args=args, kwargs=kwargs, task_id=task_id, **options)
        except TypeError as exc:  # Celery checks the arguments against the task's signature before sending
            raise LabConfigError(str(exc)) from None

    def _keep_settings(self, checked: dict[str, Any]) -> None:
        self._apps.update_settings(checked)

    def _keep_task_options(self, task: str, checked: dict[str, Any]) -> None:
        self._apps.update_task_options(task, checked)

    def _emit_config(self) -> None:
        server = str(getattr(self.broker, "server_name", ""))
        self._emit_whole_config(self._apps.settings, self._apps.task_options, self.initial.broker, server)

    def stop_worker(self, worker: str | None = None) -> None:
        """Warm shutdown: take no new messages, let running tasks finish. Returns at once."""
        with self._control:
            self._check_open()
            self._fleet.stop(self._fleet.pick(worker))

    def restart_worker(self, worker: str | None = None) -> None:
        """Start the worker again (after a warm stop if it is alive). Returns once it consumes."""
        with self._control:
            self._check_open()
            handle = self._fleet.pick(worker, ("alive", "stopping", "stopped", "killed"))
            if handle.status == "alive":
                self._fleet.stop(handle)
            self._start_worker(handle.name)

    def purge(self) -> int:
        """Delete every ready message; returns how many (unacked ones are not touched)."""
        self._check_open()
        count = self.broker.purge()
        self._bus.emit(ev.QueuePurged, count=count)
        return count

    def reset(self) -> None:
        """Back to the initial state: fresh workers, empty queue, ledger and results."""
        with self._control:
            self._check_open()
            for handle in self._fleet.handles():
                self._fleet.kill(handle, checkpoint=None, quiet=True)
            self.broker.purge()
            forget_unacked = getattr(self.broker, "forget_unacked", None)
            if forget_unacked is not None:  # Redis keeps a killed worker's messages: drop them too
                forget_unacked()
            self._fleet.forget_all()
            self._apps.reset(self.initial.settings, self.initial.task_options)
            self._reporter.clear()
            self._faults.clear()
            self._ledger.clear()
            self._apps.clear_results()
            self._bus.emit(ev.LabReset)
            self._emit_config()
            if self._started:
                self._start_workers()

    # -- what the running tasks call (runtime.TaskHooks), and Celery's logs ------------

    def side_effect(self, run: RunContext, action: str, key: str, detail: str, idempotency_key: str | None) -> bool:
        """Record a side effect in the ledger, unless its idempotency key was used."""
        return self._ledger.record(run, action, key, detail, idempotency_key)

    def printed(self, run: RunContext, text: str) -> None:
        """Learner code called ``print`` in a task: its text goes to the timeline (bounded per run)."""
        key = (run.task_id, run.run)
        with self._prints_lock:
            count = self._prints.get(key, 0) + 1
            self._prints[key] = count
        if count <= limits.MAX_CODE_PRINTS:
            shown = text if len(text) <= limits.MAX_PRINT_CHARS else text[: limits.MAX_PRINT_CHARS - 1] + "…"
            if count == limits.MAX_CODE_PRINTS:
                shown += f"  (the lab shows {limits.MAX_CODE_PRINTS} prints per run: more are dropped)"
            self._bus.emit(ev.TaskPrinted, task_id=run.task_id, task=run.task, worker=run.worker.name, text=shown)

    def on_log(self, level: str, logger: str, message: str) -> None:
        """A warning or error from Celery or kombu, routed to this lab (see :mod:`.logs`)."""
        self._reporter.on_log(level, logger, message)

    # -- introspection -------------------------------------------------------------------

    def worker_status(self, name: str) -> str:
        """alive, stopping, stopped or killed."""
        return self._fleet.status(name)

    def live_threads(self) -> list[threading.Thread]:
        """Threads this lab started (or runs learner code on) that are still running."""
        return self._fleet.live_threads() + self._guard.live_threads()

    def code_threads(self) -> list[threading.Thread]:
        """Threads running a learner's task code now (pool threads of this lab's workers)."""
        return self._guard.running_threads()

    def ready_in_broker(self) -> list[str]:
        """Task ids waiting in the broker's queue, read from the broker itself."""
        return self.broker.ready_ids()
