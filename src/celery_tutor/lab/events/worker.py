"""Events of one worker's life: started, killed, stopping, stopped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from celery_tutor.lab.events.base import WorkerEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStarted(WorkerEvent):
    """A worker is consuming."""

    kind: ClassVar[str] = "worker_started"
    concurrency: int
    prefetch_multiplier: int

    def describe(self) -> str:
        return f"{self.worker} started (concurrency {self.concurrency}, prefetch multiplier {self.prefetch_multiplier})"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerKilled(WorkerEvent):
    """The whole worker died at once, like ``kill -9``: its connection to the broker dropped."""

    kind: ClassVar[str] = "worker_killed"
    requeued: int
    lost: int
    checkpoint: str | None = None
    kept: int = 0
    """Redis: unacked messages the broker keeps, invisible, until a restore scan finds them."""

    def describe(self) -> str:
        where = f" at '{self.checkpoint}'" if self.checkpoint else ""
        back = f"broker requeued {self.requeued} unacked message(s)"
        if self.kept:
            back = f"broker keeps {self.kept} unacked message(s) invisible until a restore scan"
        return f"{self.worker} KILLED{where}: {back}, {self.lost} running task(s) lost"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStopping(WorkerEvent):
    """A warm shutdown began: no new messages; running tasks finish."""

    kind: ClassVar[str] = "worker_stopping"

    def describe(self) -> str:
        return f"{self.worker} warm shutdown: finishing running tasks"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStopped(WorkerEvent):
    """The worker is gone (after a warm stop, or when a killed worker's threads ended)."""

    kind: ClassVar[str] = "worker_stopped"

    def describe(self) -> str:
        return f"{self.worker} stopped"
