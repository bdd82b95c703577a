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
after each, which conditions hold, reading the lab state its caller folds, and which
events bore each condition out (:meth:`GoalTracker.evidence`): a result is believed when
it quotes the timeline and the ledger lines it rests on.
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
class StateCondition(Condition):
    """A condition on what the lab's state says now, whatever events led there."""

    def holds_in(self, lab: LabState) -> bool:
        """Does it hold in this state?"""
        raise NotImplementedError


@dataclass(frozen=True)
class TaskState(StateCondition):
    """A task is in a state now (as the lab observed it; LOST included)."""

    task: str
    state: str

    def holds_in(self, lab: LabState) -> bool:
        view = lab.find(self.task)
        return view is not None and view.state == self.state


@dataclass(frozen=True)
class LedgerCount(StateCondition):
    """A side effect happened a number of times."""

    action: str
    key: str | None
    count: Count

    def holds_in(self, lab: LabState) -> bool:
        return self.count.accepts(lab.ledger_count(self.action, self.key))

    def counts(self, event: ev.LabEvent) -> bool:
        """Is this event one of the side effects counted?"""
        return (
            isinstance(event, ev.LedgerWritten)
            and event.action == self.action
            and (self.key is None or event.key == self.key)
        )


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
class SettingIs(StateCondition):
    """A Celery setting has a value now."""

    name: str
    value: Any

    def holds_in(self, lab: LabState) -> bool:
        return lab.settings.get(self.name, _MISSING) == self.value


@dataclass(frozen=True)
class Not(Condition):
    """The inner condition does not hold."""

    inner: Condition


EVIDENCE_KEPT = 20
"""Per condition, the most events kept as its evidence (the first ones; the count goes on)."""


class GoalTracker:
    """Evaluates conditions as lab events arrive, against a lab state someone else folds.

    The state (settings, task states, aliases, the ledger) is the caller's
    :class:`~celery_tutor.lab.state.LabState`: fold each event into it first, then
    :meth:`observe` the event here. The tracker only keeps what a state cannot say:
    how many matching events happened, how far each sequence got, and the events that
    did it (the evidence a result card quotes).

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
        self._gaps: dict[int, list[ev.LabEvent]] = {}
        """Per gap condition: its start event, then its end event."""
        self._evidence: dict[int, list[ev.LabEvent]] = {}
        """Per condition: the events that matched it so far (at most EVIDENCE_KEPT)."""
        self._task_states: dict[int, tuple[str, ev.LabEvent]] = {}
        """Per task-state condition: its task's state, and the event after which it became that."""
        self._watched = self._all(conditions)

    def observe(self, event: ev.LabEvent) -> None:
        """Count one event (already folded into the state)."""
        if isinstance(event, ev.LabReset):
            self.armed = True
            self._counts.clear()
            self._progress.clear()
            self._gaps.clear()
            self._evidence.clear()
            self._task_states.clear()
        if not self.armed:
            return
        aliases = self.state.aliases
        for condition in self._watched:
            if isinstance(condition, EventCount) and condition.match.matches(event, aliases):
                self._counts[id(condition)] = self._counts.get(id(condition), 0) + 1
                self._quote(condition, event)
            elif isinstance(condition, Sequence):
                done = self._progress.get(id(condition), 0)
                if done < len(condition.steps) and condition.steps[done].matches(event, aliases):
                    self._progress[id(condition)] = done + 1
                    self._quote(condition, event)
            elif isinstance(condition, Gap):
                ends = self._gaps.setdefault(id(condition), [])
                step = condition.start if not ends else condition.end
                if len(ends) < 2 and step.matches(event, aliases):
                    ends.append(event)
                    self._quote(condition, event)
            elif isinstance(condition, LedgerCount):
                if condition.counts(event):
                    self._counts[id(condition)] = self._counts.get(id(condition), 0) + 1
                    self._quote(condition, event)
            elif isinstance(condition, TaskState):
                self._follow_task(condition, event)
            elif (
                isinstance(condition, SettingIs)
                and isinstance(event, ev.ConfigChanged)
                and condition.name in event.settings
            ):
                self._evidence[id(condition)] = [event]  # the latest change is what holds now

    def _quote(self, condition: Condition, event: ev.LabEvent) -> None:
        quoted = self._evidence.setdefault(id(condition), [])
        if len(quoted) < EVIDENCE_KEPT:
            quoted.append(event)

    def _follow_task(self, condition: TaskState, event: ev.LabEvent) -> None:
        """Remember the event after which the condition's task entered the state it is in."""
        task_id = getattr(event, "task_id", None)
        if task_id is None:
            return
        view = self.state.find(condition.task)
        if view is None or view.task_id != task_id:
            return
        known = self._task_states.get(id(condition))
        if known is None or known[0] != view.state:
            self._task_states[id(condition)] = (view.state, event)

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
        if isinstance(condition, StateCondition):
            return condition.holds_in(self.state)
        if isinstance(condition, Gap):
            ends = self._gaps.get(id(condition), [])
            return len(ends) == 2 and condition.accepts(ends[1].at - ends[0].at)
        if isinstance(condition, Not):
            return not self._holds(condition.inner)
        raise TypeError(f"unknown condition {condition!r}")

    def results(self) -> list[tuple[Condition, bool]]:
        """Every top-level condition with whether it holds."""
        return [(condition, self.holds(condition)) for condition in self.conditions]

    def evidence(self, condition: Condition) -> tuple[ev.LabEvent, ...]:
        """The events that matched a condition, in order: what a result quotes as its proof.

        The matching events of a count, the steps of a sequence, the two ends of a gap, the
        ledger entries counted, the event after which a task entered the state asked for,
        the change that set a setting. A ``not`` quotes what its inner condition matched
        (the one start that shows "it never ran twice"); nothing when nothing matched.
        At most :data:`EVIDENCE_KEPT` per condition; :meth:`matched` says how many in all.
        """
        if not self.armed:
            return ()
        if isinstance(condition, Not):
            return self.evidence(condition.inner)
        if isinstance(condition, TaskState):
            known = self._task_states.get(id(condition))
            return (known[1],) if known is not None and known[0] == condition.state else ()
        if isinstance(condition, SettingIs) and not self._holds(condition):
            return ()
        return tuple(self._evidence.get(id(condition), ()))

    def matched(self, condition: Condition) -> int:
        """How many events matched a condition in all (its evidence keeps only the first ones)."""
        if not self.armed:
            return 0
        if isinstance(condition, Not):
            return self.matched(condition.inner)
        if isinstance(condition, EventCount | LedgerCount):
            return self._counts.get(id(condition), 0)
        return len(self.evidence(condition))

    def results_with_evidence(self) -> list[tuple[Condition, bool, tuple[ev.LabEvent, ...]]]:
        """Every top-level condition, whether it holds, and its evidence."""
        return [(condition, self.holds(condition), self.evidence(condition)) for condition in self.conditions]

    @property
    def satisfied(self) -> bool:
        """All conditions hold."""
        return all(self.holds(condition) for condition in self.conditions)
