"""A real lab's fault controls: kills and deploys by signal; crash, failure and drop plans by remote control.

A mixin of :class:`~.real_lab.RealLab`, the counterpart of the in-process lab's
:mod:`~celery_tutor.lab.fault_controls`. A plan is armed in every live worker (and in
each worker that starts later) but fires once across the lab. A dropped connection is cut
by the worker itself (:func:`~.worker_control.lab_drop_connection`), which reports it.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from celery_tutor.lab import events as ev
from celery_tutor.lab import limits, settings
from celery_tutor.lab.faults import check_checkpoint
from celery_tutor.lab.fleet import LabStateError
from celery_tutor.lab.real import protocol
from celery_tutor.lab.real.real_workers import CONTROL_TIMEOUT, RealWorker, RealWorkers

NOT_YET = "is not available on a real broker yet (use the in-process lab)"


class RealFaultControls(RealWorkers):
    """Controls that break a real lab on purpose."""

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

    def on_connection_lost(self, worker: str, checkpoint: str | None, noticed: bool, plan: str | None) -> None:
        if plan is not None:
            self.on_plan_fired(plan)
        # RabbitMQ requeues what the connection held at once; Redis keeps it (the worker reports
        # what its clean-up of the connection puts back, as it does it).
        requeued = self._give_back(worker, ev.CONNECTION_LOST, emit=False) if self.kind != "redis" else []
        self._bus.emit(
            ev.ConnectionLost,
            worker=worker,
            broker=self.kind,
            requeued=len(requeued),
            checkpoint=checkpoint,
            noticed=noticed,
        )
        for back in requeued:
            self._bus.emit(ev.MessageRedelivered, **back)

    def crash_worker(self, worker: str | None = None) -> None:
        """Kill a whole worker now: SIGKILL to its process group (or, started elsewhere, by remote control)."""
        with self._control:
            self._check_open()
            handle = self._pick(worker, ("alive", "stopping"))
            with self._lock:
                handle.status = "killing"  # its watcher leaves the report to this control
            self._kill_now(handle)

    def _kill_now(self, handle: RealWorker) -> None:
        """SIGKILL the worker's process group (started elsewhere: crash it by remote control), and report it."""
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
        """A worker's broker connection drops now; the worker lives on and Celery's consumer reconnects.

        The worker shuts its own broker sockets (remote control), as a network failure would.
        """
        _no_outage(outage)
        with self._control:
            self._check_open()
            handle = self._pick(worker, ("alive", "stopping"))
            with self._replies:
                replies = self.app.control.broadcast(
                    protocol.DROP_CONNECTION,
                    destination=[self.names.hostname(handle.name)],
                    reply=True,
                    timeout=CONTROL_TIMEOUT,
                    limit=1,
                )
            if not any("ok" in reply for answer in replies or [] for reply in answer.values()):
                raise LabStateError(f"{handle.name} has no broker connection now (it is reconnecting)")

    def drop_connection_at(self, checkpoint: str, task: str | None = None, outage: float = 0.0) -> None:
        """Drop the connection of the worker running a task (``task``, or any) when it reaches ``checkpoint``."""
        _no_outage(outage)
        point = check_checkpoint(checkpoint, task, self.tasks)
        self._arm(
            {"kind": "drop", "checkpoint": point, "task": task},
            f"drop the broker connection of the worker when {task or 'a task'} reaches '{point}'",
        )

    def deploy(self, worker: str | None = None, grace: float = 30.0, remap_sigterm: bool = False) -> None:
        """Stop a worker as an orchestrator does: SIGTERM now, SIGKILL to its process group after ``grace`` s.

        The SIGTERM goes to the worker's main process, as ``docker stop`` or Kubernetes send it;
        Celery's own handler takes it (warm shutdown, or with ``remap_sigterm`` the cold one of
        a worker started with ``REMAP_SIGTERM=SIGQUIT``, installed by remote control first: see
        ``worker_control.lab_remap_sigterm``). Returns at once, like the in-process lab's deploy.
        """
        grace = settings.named("grace", settings.number, grace, 0, limits.MAX_GRACE)
        remap_sigterm = bool(remap_sigterm)
        with self._control:
            self._check_open()
            handle = self._pick(worker)
            if remap_sigterm and not self._broadcast(protocol.REMAP_SIGTERM, {}, [handle]):
                raise LabStateError(f"{handle.name} did not confirm it takes SIGTERM as a cold shutdown")
            soft_timeout = float(self._settings.get("worker_soft_shutdown_timeout") or 0.0)
            self._bus.emit(
                ev.ShutdownSignal,
                worker=handle.name,
                grace=grace,
                remap_sigterm=remap_sigterm,
                soft_shutdown_timeout=soft_timeout if remap_sigterm else 0.0,
            )
            with self._lock:
                handle.status = "stopping"
            self._bus.emit(ev.WorkerStopping, worker=handle.name, how="cold" if remap_sigterm else "warm")
            if handle.process is not None:
                handle.process.terminate()
            else:
                self.app.control.broadcast(protocol.SIGTERM_SELF, destination=[self.names.hostname(handle.name)])
        threading.Thread(
            target=self._sigkill_after_grace, args=(handle, grace), name=f"{handle.name}-grace", daemon=True
        ).start()

    def _sigkill_after_grace(self, handle: RealWorker, grace: float) -> None:
        """The orchestrator's second step: SIGKILL, unless the worker exited within the grace period."""
        gone = handle.process.wait(grace) if handle.process is not None else handle.ended.wait(grace)
        if gone:
            return
        with self._control:
            with self._lock:
                if self._closed or handle.reported or handle.status != "stopping":
                    return  # it exited just now, or a crash, a reset or the lab's close came first
                handle.status = "killing"  # its watcher leaves the report to this control
            self._bus.emit(ev.GraceExpired, worker=handle.name, grace=grace)
            self._kill_now(handle)


OUTAGE_REFUSED = (
    "a broker out of reach for a while (outage) is not available on a real broker: a real worker reconnects to "
    "a server that is up (use outage 0, or the in-process lab)"
)


def _no_outage(outage: float) -> None:
    """Refuse an outage: keeping a real worker from a live broker for a while cannot be done faithfully here."""
    if settings.named("outage", settings.number, outage, 0, limits.MAX_OUTAGE) > 0:
        raise LabStateError(OUTAGE_REFUSED)
