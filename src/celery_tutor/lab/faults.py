"""The lab's fault injector: crash and drop plans armed for a checkpoint, and failures queued per task.

A learner says what should go wrong before it happens ("kill the worker when the charge
is done", "make the next three runs raise ConnectionError"); the running tasks ask here
at each checkpoint and at each run's start. Everything is checked when it is armed, so
a plan that could never fire is an error at once, not a silent no-op.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from celery_tutor.lab import limits, settings
from celery_tutor.lab.library import LAB_TASKS, HasCheckpoints, all_checkpoints
from celery_tutor.lab.runtime import RunContext
from celery_tutor.lab.settings import LabConfigError


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


@dataclass(frozen=True)
class DropPlan:
    """Drop the broker connection of the worker running a task when it reaches a checkpoint."""

    checkpoint: str
    task: str | None
    outage: float = 0.0
    """Seconds the broker then stays out of reach for that worker."""

    def matches(self, run: RunContext, checkpoint: str) -> bool:
        """Does this plan fire for this run at this checkpoint?"""
        return self.checkpoint == checkpoint and (self.task is None or self.task == run.task)

    def describe(self) -> str:
        """For the timeline."""
        outage = f" (the broker out of reach for {self.outage:g}s)" if self.outage else ""
        task = self.task or "a task"
        return f"drop the broker connection of the worker when {task} reaches '{self.checkpoint}'{outage}"


Plan = CrashPlan | DropPlan
"""Something armed to happen when a task reaches a checkpoint."""


@dataclass
class _Failures:
    """``left`` more runs raise ``exc``: one entry, however many runs (nothing is expanded)."""

    exc: str
    left: int


def check_checkpoint(checkpoint: str, task: str | None, tasks: Mapping[str, HasCheckpoints] = LAB_TASKS) -> str:
    """A checkpoint some task (``task``, or any of ``tasks``) can reach, or :class:`LabConfigError`."""
    if task is not None:
        spec = settings.pick(tasks, task, "task")
        valid = (*spec.checkpoints, *all_checkpoints(universal_only=True))
    else:
        valid = all_checkpoints(tasks=tasks)
    if checkpoint not in valid:
        owner = f" of {task}" if task else ""
        raise LabConfigError(f"unknown checkpoint{owner} {checkpoint!r}; valid: {', '.join(valid)}")
    return checkpoint


class FaultInjector:
    """What is armed to go wrong in one lab. Thread-safe; never calls out while locked."""

    def __init__(self, tasks: Mapping[str, object] = LAB_TASKS) -> None:
        self._tasks = tasks
        self._lock = threading.Lock()
        self._failures: dict[str, deque[_Failures]] = {}
        self._plans: list[Plan] = []

    def fail_next(self, task: str, times: int, exc: str) -> str:
        """Queue ``times`` failures of ``task`` (checked first); returns the timeline's words."""
        settings.pick(self._tasks, task, "task")
        settings.exception_class(exc)
        settings.named("times", settings.whole, times, 1, limits.MAX_COUNT, "runs")
        with self._lock:
            self._failures.setdefault(task, deque()).append(_Failures(exc, times))
        return f"the next {times} run(s) of {task} raise {exc}"

    def take_failure(self, task: str) -> str | None:
        """The exception name the next run of ``task`` must raise, if one is queued."""
        with self._lock:
            pending = self._failures.get(task)
            if not pending:
                return None
            head = pending[0]
            head.left -= 1
            if head.left == 0:
                pending.popleft()
            return head.exc

    def arm(self, plan: Plan) -> None:
        """Add a crash plan; the first one matching a checkpoint fires, once."""
        with self._lock:
            self._plans.append(plan)

    def take_plan(self, run: RunContext, checkpoint: str) -> Plan | None:
        """The plan that fires for this run at this checkpoint (disarmed), if any."""
        with self._lock:
            plan = next((p for p in self._plans if p.matches(run, checkpoint)), None)
            if plan is not None:
                self._plans.remove(plan)
            return plan

    def clear(self) -> None:
        """Disarm everything (the lab is reset)."""
        with self._lock:
            self._failures.clear()
            self._plans.clear()
