"""Who a lab worker process is: set once before the pool forks, read by every part of the worker side.

The worker side (:mod:`.worker_side`) is several modules that run in one process: Celery's
signal receivers, the patched report points, the remote-control commands. They share this
one record instead of passing it through Celery, which calls them with its own arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from celery_tutor.lab.real.plans import PlanStore


@dataclass
class WorkerIdentity:
    """Who this worker process is; set before the pool forks, so every child knows it too."""

    name: str
    main_pid: int
    store: PlanStore
    key_prefix: str
    concurrency: int
    prefetch: int
    directory: Path
    hostname: str = ""
    """Its Celery node name: a pool child asks its own main process by remote control."""


_identity: WorkerIdentity | None = None


def become(who: WorkerIdentity) -> None:
    """Make this process the lab worker ``who`` from now on."""
    global _identity
    _identity = who


def current() -> WorkerIdentity | None:
    """Who this lab worker process is, or None in any other process (Celery's hooks then do nothing)."""
    return _identity


def identity() -> WorkerIdentity:
    """Who this lab worker process is (RuntimeError in any other process)."""
    if _identity is None:
        raise RuntimeError("not a lab worker process")
    return _identity
