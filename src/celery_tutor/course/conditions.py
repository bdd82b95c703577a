"""Labelled conditions over what happened in the lab, evaluated event by event.

A lesson states its goals and expected observations as a list of conditions, each with
a label the learner reads next to a live ✓/✗::

    - label: the message came back after the crash
      event: redelivered
      task: order                  # an alias from a script, or a task name
    - label: the card was charged twice
      ledger: {action: charge, key: order 42, count: 2}
    - label: Celery stored SUCCESS in the end
      state: {task: order, is: SUCCESS}
    - label: killed first, then redelivered
      sequence: [{event: worker_killed}, {event: redelivered, task: order}]
    - label: acks_late is on
      setting: {task_acks_late: true}
    - label: it never ran a second time
      not: {event: started, task: order, count: {min: 2}}
    - label: it came back 2 s or more after the worker received it
      gap: {from: {event: received, task: order}, to: {event: redelivered, task: order}, min: 2}

:class:`GoalTracker` takes events in one at a time (no Celery, no threads) and answers,
after each, which conditions hold, reading the lab state its caller folds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from celery_tutor.lab import events as ev
from celery_tutor.lab.state import LabState
from celery_tutor.yaml_source import Pos


@dataclass(frozen=True)
class Count:
    """How many: at least ``min``, at most ``max`` (None: no bound)."""

    min: int = 1
    max: int | None = None

    def accepts(self, n: int) -> bool:
        """Is ``n`` in range?"""
        return n >= self.min and (self.max is None or n <= self.max)

    def describe(self) -> str:
        """For messages."""
        if self.max == self.min:
            return f"exactly {self.min}"
        if self.max is None:
            return f"at least {self.min}"
        return f"{self.min} to {self.max}"


@dataclass(frozen=True)
class EventMatch:
    """Which events count: a kind, optionally about one task, with some field values."""

    kind: str
    task: str | None = None
    where: tuple[tuple[str, Any], ...] = ()

    def matches(self, event: ev.LabEvent, aliases: dict[str, str]) -> bool:
        """Does this event match (aliases map script names to task ids)?"""
        if event.kind != self.kind:
            return False
        if self.task is not None:
            task_id = aliases.get(self.task)
            if task_id is not None:
                if getattr(event, "task_id", None) != task_id:
                    return False
            elif getattr(event, "task", None) != self.task:
                return False
        return all(getattr(event, name, _MISSING) == value for name, value in self.where)


_MISSING = object()


@dataclass(frozen=True)
class Condition:
    """Base of all conditions: what the learner reads, and where it was written."""

    label: str
    pos: Pos


@dataclass(frozen=True)
class EventCount(Condition):
    """A number of matching events happened."""

    match: EventMatch
    count: Count = field(default_factory=Count)


@dataclass(frozen=True)
class TaskState(Condition):
    """A task is in a state now (as the lab observed it; LOST included)."""

    task: str
    state: str


@dataclass(frozen=True)
class LedgerCount(Condition):
    """A side effect happened a number of times."""

    action: str
    key: str | None
    count: Count


@dataclass(frozen=True)
class Sequence(Condition):
    """Events happened in this order (others may come in between)."""

    steps: tuple[EventMatch, ...]


@dataclass(frozen=True)
class Gap(Condition):
    """Seconds from the first ``start`` event to the first ``end`` event after it, within bounds.

    How long something took is what a timeout is about ("it came back only after the
    visibility timeout"), and counts and orders cannot say it.
    """

    start: EventMatch
    end: EventMatch
    min: float | None = None
    max: float | None = None

    def accepts(self, seconds: float) -> bool:
        """Is a gap of ``seconds`` within the bounds?"""
        return (self.min is None or seconds >= self.min) and (self.max is None or seconds <= self.max)


@dataclass(frozen=True)
class SettingIs(Condition):
    """A Celery setting has a value now."""

    name: str
    value: Any


@dataclass(frozen=True)
class Not(Condition):
    """The inner condition does not hold."""

    inner: Condition


class GoalTracker:
    """Evaluates conditions as lab events arrive, against a lab state someone else folds.

    The state (settings, task states, aliases, the ledger) is the caller's
    :class:`~celery_tutor.lab.state.LabState`: fold each event into it first, then
    :meth:`observe` the event here. The tracker only keeps what a state cannot say:
    how many matching events happened, and how far each sequence got.

    A tracker made with ``from_reset=True`` counts nothing, and holds nothing, until
    the lab reports a reset: its goal is about what happens after the step's script
    reset the lab, not about what the lab did before.
    """

    def __init__(self, conditions: tuple[Condition, ...], state: LabState, *, from_reset: bool = False) -> None:
        self.conditions = conditions
        self.state = state
        self.armed = not from_reset
        """False while waiting for the reset the goal starts from."""
        self._counts: dict[int, int] = {}
        self._progress: dict[int, int] = {}
        self._gaps: dict[int, list[float]] = {}
        """Per gap condition: the time of its start event, then of its end event."""
        self._watched = self._all(conditions)

    def observe(self, event: ev.LabEvent) -> None:
        """Count one event (already folded into the state)."""
        if isinstance(event, ev.LabReset):
            self.armed = True
            self._counts.clear()
            self._progress.clear()
            self._gaps.clear()
        if not self.armed:
            return
        aliases = self.state.aliases
        for condition in self._watched:
            if isinstance(condition, EventCount) and condition.match.matches(event, aliases):
                self._counts[id(condition)] = self._counts.get(id(condition), 0) + 1
            elif isinstance(condition, Sequence):
                done = self._progress.get(id(condition), 0)
                if done < len(condition.steps) and condition.steps[done].matches(event, aliases):
                    self._progress[id(condition)] = done + 1
            elif isinstance(condition, Gap):
                times = self._gaps.setdefault(id(condition), [])
                step = condition.start if not times else condition.end
                if len(times) < 2 and step.matches(event, aliases):
                    times.append(event.at)

    def _all(self, conditions: tuple[Condition, ...]) -> list[Condition]:
        found: list[Condition] = []
        for condition in conditions:
            found.append(condition)
            if isinstance(condition, Not):
                found.extend(self._all((condition.inner,)))
        return found

    def holds(self, condition: Condition) -> bool:
        """Does one condition hold now? (Nothing holds before the awaited reset.)"""
        return self.armed and self._holds(condition)

    def _holds(self, condition: Condition) -> bool:
        if isinstance(condition, EventCount):
            return condition.count.accepts(self._counts.get(id(condition), 0))
        if isinstance(condition, Sequence):
            return self._progress.get(id(condition), 0) == len(condition.steps)
        if isinstance(condition, TaskState):
            view = self.state.find(condition.task)
            return view is not None and view.state == condition.state
        if isinstance(condition, LedgerCount):
            return condition.count.accepts(self.state.ledger_count(condition.action, condition.key))
        if isinstance(condition, Gap):
            times = self._gaps.get(id(condition), [])
            return len(times) == 2 and condition.accepts(times[1] - times[0])
        if isinstance(condition, SettingIs):
            return self.state.settings.get(condition.name, _MISSING) == condition.value
        if isinstance(condition, Not):
            return not self._holds(condition.inner)
        raise TypeError(f"unknown condition {condition!r}")

    def results(self) -> list[tuple[Condition, bool]]:
        """Every top-level condition with whether it holds."""
        return [(condition, self.holds(condition)) for condition in self.conditions]

    @property
    def satisfied(self) -> bool:
        """All conditions hold."""
        return all(self.holds(condition) for condition in self.conditions)
