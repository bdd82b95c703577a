"""What a lab task's thread knows about where it runs: its worker, its run, its fate.

Python threads cannot be killed, so a "dead" worker's task threads die at their next
checkpoint: every lab task waits and touches the outside world only through the kit
(:mod:`celery_tutor.lab.kit`), which asks this module first whether its worker is still
alive. The pool binds the worker to the thread; the engine binds the run when Celery
starts the task body.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class SimulatedKill(BaseException):
    """The whole worker died under this thread (``kill -9``): unwind without a trace.

    A ``BaseException`` so that a task's ``except Exception`` cannot swallow it.
    """


class SimulatedChildKill(BaseException):
    """Only the pool child running this task died (like the OOM killer's SIGKILL)."""

    def __init__(self, checkpoint: str | None = None) -> None:
        super().__init__(checkpoint)
        self.checkpoint = checkpoint


class LabContextError(RuntimeError):
    """A lab task helper was called outside a task running in a lab."""


class Fate:
    """What the lab decided at a checkpoint."""

    LIVE = "live"
    KILL_WORKER = "kill_worker"
    KILL_CHILD = "kill_child"


class TaskHooks(Protocol):
    """The engine's side of the kit: how a running task reports and is steered."""

    def reached(self, run: RunContext, checkpoint: str) -> str:
        """A checkpoint was reached; returns a :class:`Fate`."""

    def side_effect(self, run: RunContext, action: str, key: str, detail: str, idempotency_key: str | None) -> bool:
        """Record a side effect; False when its idempotency key was already used."""


@dataclass(eq=False)
class WorkerRuntime:
    """One incarnation of a lab worker, as its task threads see it."""

    name: str
    hooks: TaskHooks
    killed: threading.Event = field(default_factory=threading.Event)


@dataclass(eq=False)
class RunContext:
    """One execution of a task body."""

    worker: WorkerRuntime
    task_id: str
    task: str
    run: int
    failure: BaseException | None = None
    dead: bool = False
    """Set once the worker or the child died under this run: Celery's own hooks that
    still fire while the stack unwinds must not be reported (the process is gone)."""
    tracing: bool = False
    """Celery's trace of this run is under way (its success and failure hooks fire inside it)."""
    outcome: Callable[[], object] | None = None
    """Reports the run's success or failure: Celery's trace has stored it, but the worker
    tells it only once the run is over (after ``task_finished``), as a real worker's main
    process sends ``task-succeeded`` once its pool child is done. A worker killed at
    ``task_finished`` never tells it."""

    def report_outcome(self) -> None:
        """Tell the outcome the trace stored, once."""
        outcome, self.outcome = self.outcome, None
        if outcome is not None:
            outcome()

    def die(self) -> SimulatedKill:
        """Mark this run dead and return the exception that unwinds it."""
        self.dead = True
        return SimulatedKill()

    def take_failure(self) -> BaseException | None:
        """The injected failure for this run, once."""
        failure, self.failure = self.failure, None
        return failure


class _Local(threading.local):
    worker: WorkerRuntime | None = None
    run: RunContext | None = None


_local = _Local()


def bind_worker(worker: WorkerRuntime | None) -> None:
    """Called by the lab pool on the thread that runs a task."""
    _local.worker = worker
    _local.run = None


def bound_worker() -> WorkerRuntime | None:
    """The worker whose pool thread this is, if any."""
    return _local.worker


def begin_run(run: RunContext) -> None:
    """Called when Celery starts a task body on this thread."""
    _local.run = run


def current_run() -> RunContext:
    """The run of the task executing on this thread."""
    run = _local.run
    if run is None:
        raise LabContextError("lab helpers (checkpoint, work, payments…) only work inside a task run by a lab worker")
    return run


def maybe_current_run() -> RunContext | None:
    """The current run, or None outside a lab task."""
    return _local.run


def is_dead_thread() -> bool:
    """True on a thread whose worker or pool child has died."""
    run = _local.run
    return run is not None and run.dead


def check_alive(run: RunContext) -> None:
    """Unwind at once if the worker died since the last look."""
    if run.worker.killed.is_set():
        raise run.die()


def checkpoint(name: str) -> None:
    """A named point in a task: the lab reports it and may kill the worker right here."""
    run = current_run()
    check_alive(run)
    failure = run.take_failure()
    if failure is not None:
        raise failure
    fate = run.worker.hooks.reached(run, name)
    if fate == Fate.KILL_WORKER:
        raise run.die()
    if fate == Fate.KILL_CHILD:
        run.dead = True
        raise SimulatedChildKill(name)
    check_alive(run)
