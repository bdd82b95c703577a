"""The lab's fault controls: injected failures, crashes, dropped connections and deploys.

A mixin of :class:`~.engine.Lab`, kept apart so the engine reads as lifecycle and
workers; it also acts on a crash or drop plan when a task reaches its checkpoint.
"""

from __future__ import annotations

import threading

from celery_tutor.lab import connection_loss, deploy, jobs, limits, settings
from celery_tutor.lab import events as ev
from celery_tutor.lab.broker_api import LabBroker
from celery_tutor.lab.bus import EventBus
from celery_tutor.lab.faults import CrashPlan, DropPlan, FaultInjector, Plan, check_checkpoint
from celery_tutor.lab.fleet import LabStateError, WorkerFleet, WorkerHandle
from celery_tutor.lab.kit import TaskSpec
from celery_tutor.lab.lab_config import LabConfig
from celery_tutor.lab.runtime import Fate, RunContext


class FaultControls:
    """Controls that break things on purpose; the lab provides the parts they act on."""

    tasks: dict[str, TaskSpec]
    broker: LabBroker
    initial: LabConfig
    _bus: EventBus
    _faults: FaultInjector
    _fleet: WorkerFleet
    _control: threading.RLock

    def _check_open(self) -> None:
        raise NotImplementedError  # the lab's own

    def fail_next(self, task: str, times: int = 1, exc: str = "ConnectionError") -> None:
        """Make the next ``times`` runs of ``task`` raise ``exc`` (at their first checkpoint or service call)."""
        self._bus.emit(ev.FaultArmed, description=self._faults.fail_next(task, times, exc))

    def crash_worker(self, worker: str | None = None) -> None:
        """Kill a whole worker now, like ``kill -9``. Returns at once."""
        with self._control:
            self._check_open()
            self._fleet.kill(self._fleet.pick(worker, ("alive", "stopping")), checkpoint=None)

    def crash_at(self, checkpoint: str, task: str | None = None) -> None:
        """Kill the whole worker when a task (``task``, or any) reaches ``checkpoint``."""
        self._arm(CrashPlan(child_only=False, checkpoint=check_checkpoint(checkpoint, task, self.tasks), task=task))

    def kill_child_at(self, checkpoint: str | None = None, task: str | None = None) -> None:
        """Kill only the pool child running a task when it reaches ``checkpoint`` (or its next one)."""
        point = check_checkpoint(checkpoint, task, self.tasks) if checkpoint is not None else None
        self._arm(CrashPlan(child_only=True, checkpoint=point, task=task))

    def _arm(self, plan: Plan) -> None:
        self._check_open()
        self._faults.arm(plan)
        self._bus.emit(ev.FaultArmed, description=plan.describe())

    def drop_connection(self, worker: str | None = None, outage: float = 0.0) -> None:
        """A worker's broker connection drops now; the worker lives on and reconnects (see :mod:`.connection_loss`)."""
        outage = settings.named("outage", settings.number, outage, 0, limits.MAX_OUTAGE)
        with self._control:
            self._check_open()
            handle = self._fleet.pick(worker, ("alive", "stopping"))
            if self._drop(handle, outage, checkpoint=None) is None:
                raise LabStateError(f"{handle.name} has no broker connection now (it is reconnecting)")

    def drop_connection_at(self, checkpoint: str, task: str | None = None, outage: float = 0.0) -> None:
        """Drop the connection of the worker running a task (``task``, or any) when it reaches ``checkpoint``."""
        outage = settings.named("outage", settings.number, outage, 0, limits.MAX_OUTAGE)
        self._arm(DropPlan(checkpoint=check_checkpoint(checkpoint, task), task=task, outage=outage))

    def _drop(self, handle: WorkerHandle, outage: float, checkpoint: str | None) -> threading.Event | None:
        """Cut a worker's connection (control lock held); the event Celery's consumer sets once it reacted."""
        return connection_loss.drop_connection(
            handle.worker, handle.name, self.broker, self._bus.emit, self.initial.broker, outage, checkpoint
        )

    def deploy(self, worker: str | None = None, grace: float = 30.0, remap_sigterm: bool = False) -> None:
        """Stop a worker as an orchestrator does: SIGTERM now, SIGKILL after ``grace`` seconds (see :mod:`.deploy`)."""
        grace = settings.named("grace", settings.number, grace, 0, limits.MAX_GRACE)
        with self._control:
            self._check_open()
            handle = self._fleet.pick(worker)
            deploy.deploy(handle, self._fleet, self._bus.emit, self._control, grace, bool(remap_sigterm))

    def reached(self, run: RunContext, checkpoint: str) -> str:
        """A task reached a checkpoint: report it, enforce its time limits, and act on a plan for here."""
        jobs.unwind_if_terminated(run)  # a cancelled run's child is gone: it reaches nothing more
        self._bus.emit(
            ev.CheckpointReached,
            task_id=run.task_id,
            task=run.task,
            worker=run.worker.name,
            run=run.run,
            checkpoint=checkpoint,
        )
        jobs.at_checkpoint(run, checkpoint, self._bus.emit)  # what a signal would have done by now
        plan = self._faults.take_plan(run, checkpoint)
        handle = self._fleet.handle_of(run.worker)
        if isinstance(plan, DropPlan):
            if handle is not None:
                with self._control:
                    handled = self._drop(handle, plan.outage, checkpoint)
                # The worker notices at once: its reaction (a cancel, say) lands at this checkpoint.
                if handled is not None:
                    handled.wait(connection_loss.HANDLED_TIMEOUT)
                jobs.at_checkpoint(run, checkpoint, self._bus.emit)
            return Fate.LIVE
        if plan is None or handle is None:
            return Fate.LIVE
        if plan.child_only:
            self._bus.emit(
                ev.ChildKilled, task_id=run.task_id, task=run.task, worker=run.worker.name, checkpoint=checkpoint
            )
            return Fate.KILL_CHILD
        with self._control:
            self._fleet.kill(handle, checkpoint=checkpoint)
        return Fate.KILL_WORKER
