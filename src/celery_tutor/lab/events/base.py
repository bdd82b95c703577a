"""The base classes of every lab event: an order, a time and a stable kind name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True, kw_only=True)
class LabEvent:
    """Base of every lab event."""

    kind: ClassVar[str] = "event"
    seq: int
    at: float

    def describe(self) -> str:
        """One line for a timeline or a report."""
        return self.kind

    @property
    def quiet(self) -> bool:
        """True for routine events a timeline leaves out (a restore scan that found nothing)."""
        return False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (``kind`` first)."""
        data: dict[str, Any] = {"kind": self.kind}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            data[name] = value.to_dict() if hasattr(value, "to_dict") else value
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskEvent(LabEvent):
    """An event about one task (one task id; retries keep the id)."""

    task_id: str
    task: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerEvent(LabEvent):
    """An event about one worker."""

    worker: str


def short_id(task_id: str) -> str:
    """The first eight characters of a task id: enough to tell tasks apart on one screen."""
    return task_id[:8]
