"""The built-in lab tasks, by name: what lessons and scripts may send and crash."""

from __future__ import annotations

from celery_tutor.lab import tasks as _tasks  # noqa: F401  (defining them registers them)
from celery_tutor.lab.kit import FINISHED_CHECKPOINT, TaskSpec
from celery_tutor.lab.kit import app as _book

LAB_TASKS: dict[str, TaskSpec] = dict(_book.specs)
"""Every lab task, in the order ``tasks.py`` defines them."""

UNIVERSAL_CHECKPOINTS: tuple[str, ...] = (FINISHED_CHECKPOINT,)
"""Checkpoints every task reaches, whatever its code."""


def all_checkpoints(universal_only: bool = False) -> tuple[str, ...]:
    """Every checkpoint name some task can reach."""
    if universal_only:
        return UNIVERSAL_CHECKPOINTS
    names: list[str] = []
    for spec in LAB_TASKS.values():
        names.extend(name for name in spec.checkpoints if name not in names)
    return (*names, *UNIVERSAL_CHECKPOINTS)


def task_source(name: str) -> str:
    """The source of a lab task, exactly as it runs."""
    return LAB_TASKS[name].source
