"""Goal conditions are evaluated event by event over a lab state folded from the same events."""

from __future__ import annotations

from itertools import count
from typing import Any

from celery_tutor.course.conditions import (
    Count,
    EventCount,
    EventMatch,
    GoalTracker,
    LedgerCount,
    Not,
    Sequence,
    SettingIs,
    TaskState,
)
from celery_tutor.lab import events as ev
from celery_tutor.lab.state import LabState
from celery_tutor.yaml_source import Pos

P = Pos(1, 1)
_seq = count(1)


def e(cls: type[ev.LabEvent], **fields: Any) -> ev.LabEvent:
    return cls(seq=next(_seq), at=0.0, **fields)


def published(task_id: str, task: str = "charge_card", alias: str | None = None) -> ev.LabEvent:
    return e(ev.TaskPublished, task_id=task_id, task=task, alias=alias)


class Fold:
    """One state and a tracker reading it, fed together (the way the UI and verify do)."""

    def __init__(self, conditions: tuple[Any, ...], settings: dict[str, Any] | None = None, **kw: Any) -> None:
        self.state = LabState()
        self.tracker = GoalTracker(conditions, self.state, **kw)
        if settings is not None:
            self.observe(e(ev.ConfigChanged, settings=settings, complete=True))

    def observe(self, event: ev.LabEvent) -> None:
        self.state.apply(event)
        self.tracker.observe(event)


def started(task_id: str, task: str = "charge_card", run: int = 1) -> ev.LabEvent:
    return e(ev.TaskStarted, task_id=task_id, task=task, worker="worker1", run=run, redelivered=run > 1, retries=0)


def test_event_counts_resolve_aliases_and_task_names() -> None:
    twice = EventCount("ran twice", P, EventMatch("started", "order"), Count(2, 2))
    any_charge = EventCount("a charge ran", P, EventMatch("started", "charge_card"))
    fold = Fold((twice, any_charge))
    tracker = fold.tracker
    assert [ok for _, ok in tracker.results()] == [False, False]
    fold.observe(published("t1", alias="order"))
    fold.observe(started("t1"))
    assert [ok for _, ok in tracker.results()] == [False, True]
    fold.observe(started("t1", run=2))
    assert tracker.satisfied
    fold.observe(started("t1", run=3))
    assert not tracker.holds(twice)  # exactly two


def test_where_filters_on_event_fields() -> None:
    requeued = EventCount("requeued", P, EventMatch("rejected", None, (("requeue", True),)))
    fold = Fold((requeued,))
    tracker = fold.tracker
    fold.observe(e(ev.MessageRejected, task_id="t", task="add", worker="worker1", requeue=False))
    assert not tracker.satisfied
    fold.observe(e(ev.MessageRejected, task_id="t", task="add", worker="worker1", requeue=True))
    assert tracker.satisfied


def test_a_sequence_needs_its_events_in_order() -> None:
    seq = Sequence("killed then redelivered", P, (EventMatch("worker_killed"), EventMatch("redelivered", "order")))
    fold = Fold((seq,))
    tracker = fold.tracker
    fold.observe(published("t1", alias="order"))
    fold.observe(e(ev.MessageRedelivered, task_id="t1", task="charge_card", worker="worker1", reason="rejected"))
    fold.observe(e(ev.WorkerKilled, worker="worker1", requeued=0, lost=0))
    assert not tracker.satisfied  # wrong order
    fold.observe(e(ev.MessageRedelivered, task_id="t1", task="charge_card", worker="worker1", reason="worker died"))
    assert tracker.satisfied


def test_task_state_ledger_setting_and_not() -> None:
    conditions = (
        TaskState("succeeded", P, "order", "SUCCESS"),
        LedgerCount("charged once", P, "charge", "order 42", Count(1, 1)),
        SettingIs("acks late", P, "task_acks_late", True),
        Not("never lost", P, EventCount("", P, EventMatch("lost"))),
    )
    fold = Fold(conditions, {"task_acks_late": False})
    tracker = fold.tracker
    fold.observe(e(ev.WorkerStarted, worker="worker1", concurrency=1, prefetch_multiplier=4))
    assert [ok for _, ok in tracker.results()] == [False, False, False, True]
    fold.observe(e(ev.ConfigChanged, settings={"task_acks_late": True}))
    fold.observe(published("t1", alias="order"))
    fold.observe(started("t1"))
    fold.observe(
        e(ev.LedgerWritten, task_id="t1", task="charge_card", action="charge", key="order 42", detail="$1", count=1)
    )
    fold.observe(e(ev.TaskSucceeded, task_id="t1", task="charge_card", worker="worker1", result="'ok'"))
    assert tracker.satisfied
    fold.observe(e(ev.TaskLost, task_id="t2", task="add", worker="worker1", run=1))
    assert [ok for _, ok in tracker.results()] == [True, True, True, False]


def test_a_reset_starts_the_fold_again() -> None:
    ran = EventCount("ran", P, EventMatch("started", "add"))
    fold = Fold((ran, SettingIs("late", P, "task_acks_late", False)), {"task_acks_late": False})
    tracker = fold.tracker
    fold.observe(e(ev.ConfigChanged, settings={"task_acks_late": True}))
    fold.observe(started("t", task="add"))
    assert tracker.holds(ran) and not tracker.satisfied
    fold.observe(e(ev.LabReset))
    fold.observe(e(ev.ConfigChanged, settings={"task_acks_late": False}, complete=True))
    assert not tracker.holds(ran)
    assert fold.state.settings["task_acks_late"] is False
    assert [ok for _, ok in tracker.results()] == [False, True]


def test_the_tracker_reads_the_state_it_is_given_and_folds_nothing_itself() -> None:
    state = LabState()
    tracker = GoalTracker((TaskState("succeeded", P, "order", "SUCCESS"),), state)
    for event in (published("t1", alias="order"), started("t1")):
        state.apply(event)
        tracker.observe(event)
    succeeded = e(ev.TaskSucceeded, task_id="t1", task="charge_card", worker="worker1", result="1")
    tracker.observe(succeeded)
    assert not tracker.satisfied  # the tracker was told, the state was not: the state decides
    state.apply(succeeded)
    assert tracker.satisfied


def test_a_tracker_from_a_reset_ignores_what_happened_before_it() -> None:
    goal = (
        EventCount("ran", P, EventMatch("started", "add")),
        TaskState("added", P, "add", "SUCCESS"),
        Not("never lost", P, EventCount("", P, EventMatch("lost"))),
    )
    fold = Fold(goal, from_reset=True)
    fold.observe(started("old", task="add"))  # the previous step's lab, still in the pipe
    fold.observe(e(ev.TaskSucceeded, task_id="old", task="add", worker="worker1", result="3"))
    assert [ok for _, ok in fold.tracker.results()] == [False, False, False] and not fold.tracker.satisfied
    fold.observe(e(ev.LabReset))  # the step's setup reset the lab: the goal starts here
    assert [ok for _, ok in fold.tracker.results()] == [False, False, True]
    fold.observe(started("new", task="add"))
    fold.observe(e(ev.TaskSucceeded, task_id="new", task="add", worker="worker1", result="3"))
    assert fold.tracker.satisfied
