"""Goal conditions are folded event by event, with no lab running."""

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
from celery_tutor.yaml_source import Pos

P = Pos(1, 1)
_seq = count(1)


def e(cls: type[ev.LabEvent], **fields: Any) -> ev.LabEvent:
    return cls(seq=next(_seq), at=0.0, **fields)


def published(task_id: str, task: str = "charge_card", alias: str | None = None) -> ev.LabEvent:
    return e(ev.TaskPublished, task_id=task_id, task=task, alias=alias)


def started(task_id: str, task: str = "charge_card", run: int = 1) -> ev.LabEvent:
    return e(ev.TaskStarted, task_id=task_id, task=task, worker="worker1", run=run, redelivered=run > 1, retries=0)


def test_event_counts_resolve_aliases_and_task_names() -> None:
    twice = EventCount("ran twice", P, EventMatch("started", "order"), Count(2, 2))
    any_charge = EventCount("a charge ran", P, EventMatch("started", "charge_card"))
    tracker = GoalTracker((twice, any_charge))
    assert [ok for _, ok in tracker.results()] == [False, False]
    tracker.observe(published("t1", alias="order"))
    tracker.observe(started("t1"))
    assert [ok for _, ok in tracker.results()] == [False, True]
    tracker.observe(started("t1", run=2))
    assert tracker.satisfied
    tracker.observe(started("t1", run=3))
    assert not tracker.holds(twice)  # exactly two


def test_where_filters_on_event_fields() -> None:
    requeued = EventCount("requeued", P, EventMatch("rejected", None, (("requeue", True),)))
    tracker = GoalTracker((requeued,))
    tracker.observe(e(ev.MessageRejected, task_id="t", task="add", worker="worker1", requeue=False))
    assert not tracker.satisfied
    tracker.observe(e(ev.MessageRejected, task_id="t", task="add", worker="worker1", requeue=True))
    assert tracker.satisfied


def test_a_sequence_needs_its_events_in_order() -> None:
    seq = Sequence("killed then redelivered", P, (EventMatch("worker_killed"), EventMatch("redelivered", "order")))
    tracker = GoalTracker((seq,))
    tracker.observe(published("t1", alias="order"))
    tracker.observe(e(ev.MessageRedelivered, task_id="t1", task="charge_card", worker="worker1", reason="rejected"))
    tracker.observe(e(ev.WorkerKilled, worker="worker1", requeued=0, lost=0))
    assert not tracker.satisfied  # wrong order
    tracker.observe(e(ev.MessageRedelivered, task_id="t1", task="charge_card", worker="worker1", reason="worker died"))
    assert tracker.satisfied


def test_task_state_ledger_setting_and_not() -> None:
    conditions = (
        TaskState("succeeded", P, "order", "SUCCESS"),
        LedgerCount("charged once", P, "charge", "order 42", Count(1, 1)),
        SettingIs("acks late", P, "task_acks_late", True),
        Not("never lost", P, EventCount("", P, EventMatch("lost"))),
    )
    tracker = GoalTracker(conditions, {"task_acks_late": False})
    tracker.observe(e(ev.WorkerStarted, worker="worker1", concurrency=1, prefetch_multiplier=4))
    assert [ok for _, ok in tracker.results()] == [False, False, False, True]
    tracker.observe(e(ev.ConfigChanged, changes={"task_acks_late": True}))
    tracker.observe(published("t1", alias="order"))
    tracker.observe(started("t1"))
    tracker.observe(
        e(ev.LedgerWritten, task_id="t1", task="charge_card", action="charge", key="order 42", detail="$1", count=1)
    )
    tracker.observe(e(ev.TaskSucceeded, task_id="t1", task="charge_card", worker="worker1", result="'ok'"))
    assert tracker.satisfied
    tracker.observe(e(ev.TaskLost, task_id="t2", task="add", worker="worker1", run=1))
    assert [ok for _, ok in tracker.results()] == [True, True, True, False]


def test_a_reset_starts_the_fold_again() -> None:
    ran = EventCount("ran", P, EventMatch("started", "add"))
    tracker = GoalTracker((ran, SettingIs("late", P, "task_acks_late", False)), {"task_acks_late": False})
    tracker.observe(e(ev.ConfigChanged, changes={"task_acks_late": True}))
    tracker.observe(started("t", task="add"))
    assert tracker.holds(ran) and not tracker.satisfied
    tracker.observe(e(ev.LabReset))
    assert not tracker.holds(ran)
    assert tracker.settings["task_acks_late"] is False
