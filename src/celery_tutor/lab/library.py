"""The built-in lab tasks, by name: what lessons and scripts may send and crash."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from celery_tutor.lab import tasks as _tasks  # noqa: F401  (defining them registers them)
from celery_tutor.lab.kit import FINISHED_CHECKPOINT, TaskSpec
from celery_tutor.lab.kit import app as _book

LAB_TASKS: dict[str, TaskSpec] = dict(_book.specs)
"""Every lab task, in the order ``tasks.py`` defines them."""

UNIVERSAL_CHECKPOINTS: tuple[str, ...] = (FINISHED_CHECKPOINT,)
"""Checkpoints every task reaches, whatever its code."""


class HasCheckpoints(Protocol):
    """A task as far as checkpoints go: a library task, or a learner's (run, or only declared)."""

    @property
    def checkpoints(self) -> tuple[str, ...]:
        """The checkpoints its code names."""


def all_checkpoints(universal_only: bool = False, tasks: Mapping[str, HasCheckpoints] | None = None) -> tuple[str, ...]:
    """Every checkpoint name some task can reach (of ``tasks``: the library's by default)."""
    if universal_only:
        return UNIVERSAL_CHECKPOINTS
    names: list[str] = []
    for spec in (LAB_TASKS if tasks is None else tasks).values():
        names.extend(name for name in spec.checkpoints if name not in names)
    return (*names, *UNIVERSAL_CHECKPOINTS)


def task_source(name: str) -> str:
    """The source of a lab task, exactly as it runs."""
    return LAB_TASKS[name].source


def task_table(extra: Mapping[str, TaskSpec] | None = None) -> dict[str, TaskSpec]:
    """The tasks of one lab: the library's, with ``extra`` (a learner's) replacing or added.

    A replaced task keeps its place in the order; new ones come after the library's.
    """
    return {**LAB_TASKS, **(extra or {})}
