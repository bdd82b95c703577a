"""The base classes of every lab event: an order, a time and a stable kind name.

Every event class is a frozen, keyword-only, slotted dataclass, and names its kind (and
its template, if it has one) as class keywords: ``class TaskLost(RunEvent, kind="lost",
template=…)``. :class:`EventClass` makes it so once for all of them, so no event can
miss a part of it and none repeats it.

Most events say what happened in one fixed sentence over their own fields: they declare it
as ``template`` (``str.format`` over the event's attributes) instead of a ``describe``
method each. Events whose sentence depends on their values keep a ``describe`` of their own.
The bases below also hold the fields that whole families of events share, in the order
every member lists them first (``to_dict`` and ``lab run`` keep that order).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, cast, dataclass_transform


@dataclass_transform(kw_only_default=True, frozen_default=True)
class EventClass(type):
    """The metaclass of the events: each class it makes is a frozen, keyword-only, slotted dataclass.

    Frozen and plain so that any thread can keep an event; keyword-only so that a family's
    shared fields can come first and a member's own after them; slotted because a long
    session keeps many thousands. A bare ``super()`` in an event's method fails where the class
    is defined: a slotted dataclass is a new class, not the one the method was compiled in.
    """

    def __new__(
        mcs,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        *,
        kind: str | None = None,
        template: str | None = None,
    ) -> EventClass:
        if kind is not None:
            namespace["kind"] = kind
        if template is not None:
            namespace["template"] = template
        cls = super().__new__(mcs, name, bases, namespace)
        if "__dataclass_fields__" in namespace:  # the slotted copy that dataclass makes of a class
            return cls
        return cast(EventClass, dataclass(frozen=True, slots=True, kw_only=True)(cast(type, cls)))


class _EventRoot(metaclass=EventClass):
    """The root of the event classes, with no fields of its own.

    mypy does not apply a metaclass's dataclass rules to the class that names it, so
    :class:`LabEvent` derives from this one for its own fields to be frozen too.
    """


class LabEvent(_EventRoot):
    """Base of every lab event."""

    kind: ClassVar[str] = "event"
    template: ClassVar[str] = ""
    """What :meth:`describe` says, formatted with the event's attributes (empty: the kind)."""
    seq: int
    at: float

    def describe(self) -> str:
        """One line for a timeline or a report."""
        return self.template.format_map(_Attributes(self)) if self.template else self.kind

    @property
    def quiet(self) -> bool:
        """True for routine events a timeline leaves out (a restore scan that found nothing)."""
        return False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (``kind`` first)."""
        data: dict[str, Any] = {"kind": self.kind}
        for field in fields(self):  # instance fields only: not kind or template
            value = getattr(self, field.name)
            data[field.name] = value.to_dict() if hasattr(value, "to_dict") else value
        return data


class _Attributes:
    """An event's attributes (fields and properties) as ``str.format_map`` asks for them by name."""

    __slots__ = ("_event",)

    def __init__(self, event: LabEvent) -> None:
        self._event = event

    def __getitem__(self, name: str) -> Any:
        return getattr(self._event, name)


class TaskEvent(LabEvent):
    """An event about one task (one task id; retries keep the id)."""

    task_id: str
    task: str

    @property
    def ref(self) -> str:
        """The task as a timeline names it: its name and the start of its id, ``add[0123abcd]``."""
        return f"{self.task}[{short_id(self.task_id)}]"


class WorkerTaskEvent(TaskEvent):
    """An event about one task on one worker: the worker that holds its message or runs it."""

    worker: str


class RunEvent(WorkerTaskEvent):
    """An event inside one run of a task: ``run`` counts the executions of the task id."""

    run: int


class WorkerEvent(LabEvent):
    """An event about one worker."""

    worker: str


def at_checkpoint(checkpoint: str | None) -> str:
    """`` at 'NAME'`` for a fault that struck at a checkpoint; nothing for one that struck at once."""
    return f" at '{checkpoint}'" if checkpoint else ""


def short_id(task_id: str) -> str:
    """The first eight characters of a task id: enough to tell tasks apart on one screen."""
    return task_id[:8]
