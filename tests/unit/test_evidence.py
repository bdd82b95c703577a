"""A goal tracker says which events bore each condition out: the evidence a result card quotes."""

from __future__ import annotations

from itertools import count
from typing import Any

from celery_tutor.course.conditions import (
    EVIDENCE_KEPT,
    Count,
    EventCount,
    EventMatch,
    Gap,
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
W = "worker1"
_seq = count(1)


def e(cls: type[ev.LabEvent], at: float = 0.0, **fields: Any) -> ev.LabEvent:
    return cls(seq=next(_seq), at=at, **fields)


def published(task_id: str, alias: str | None = None, task: str = "charge_card") -> ev.LabEvent:
    return e(ev.TaskPublished, task_id=task_id, task=task, alias=alias)


def started(task_id: str, run: int = 1, at: float = 0.0, task: str = "charge_card") -> ev.LabEvent:
    return e(ev.TaskStarted, at, task_id=task_id, task=task, worker=W, run=run, redelivered=run > 1, retries=0)


def charged(task_id: str, times: int, key: str = "order 42") -> ev.LabEvent:
    return e(ev.LedgerWritten, task_id=task_id, task="charge_card", action="charge", key=key, detail="$1", count=times)


def redelivered(task_id: str, at: float = 0.0) -> ev.LabEvent:
    return e(ev.MessageRedelivered, at, task_id=task_id, task="charge_card", worker=W, reason="worker died")


class Fold:
    """A state and a tracker fed together, as the lesson screen feeds them."""

    def __init__(self, *conditions: Any, from_reset: bool = False) -> None:
        self.state = LabState()
        self.tracker = GoalTracker(conditions, self.state, from_reset=from_reset)

    def feed(self, *events: ev.LabEvent) -> Fold:
        for event in events:
            self.state.apply(event)
            self.tracker.observe(event)
        return self


def test_an_event_count_quotes_the_events_it_counted_and_only_those() -> None:
    twice = EventCount("it ran twice", P, EventMatch("started", "order"), Count(2, 2))
    other = started("t2")
    first, second = started("t1"), started("t1", run=2)
    fold = Fold(twice).feed(published("t1", alias="order"), published("t2"), first, other, second)
    assert fold.tracker.evidence(twice) == (first, second)
    assert fold.tracker.matched(twice) == 2


def test_a_ledger_count_quotes_its_ledger_lines_and_a_duplicate_is_among_them() -> None:
    double = LedgerCount("charged twice", P, "charge", "order 42", Count(2, 2))
    once, again = charged("t1", 1), charged("t1", 2)
    fold = Fold(double).feed(published("t1", alias="order"), once, charged("t9", 1, key="order 7"), again)
    assert fold.tracker.holds(double)
    assert fold.tracker.evidence(double) == (once, again)
    assert fold.tracker.matched(double) == 2


def test_a_sequence_quotes_the_events_that_moved_it_on_and_not_the_ones_out_of_order() -> None:
    seq = Sequence("killed, then back", P, (EventMatch("worker_killed"), EventMatch("redelivered", "order")))
    early = redelivered("t1")
    killed = e(ev.WorkerKilled, worker=W, requeued=1, lost=0)
    back = redelivered("t1")
    fold = Fold(seq).feed(published("t1", alias="order"), early, killed, back)
    assert fold.tracker.evidence(seq) == (killed, back)


def test_a_gap_quotes_its_two_ends() -> None:
    gap = Gap("back after 2 s", P, EventMatch("started"), EventMatch("redelivered"), 2.0)
    start, end = started("t1", at=1.0), redelivered("t1", at=3.5)
    fold = Fold(gap).feed(published("t1"), redelivered("t1", at=0.5), start, end)  # one before the start: not an end
    assert fold.tracker.holds(gap)
    assert fold.tracker.evidence(gap) == (start, end)


def test_a_task_state_quotes_the_event_after_which_the_task_was_in_that_state() -> None:
    done = TaskState("Celery stored SUCCESS", P, "order", "SUCCESS")
    succeeded = e(ev.TaskSucceeded, task_id="t1", task="charge_card", worker=W, result="'ok'")
    acked = e(ev.MessageAcked, task_id="t1", task="charge_card", worker=W)
    fold = Fold(done).feed(published("t1", alias="order"), started("t1"))
    assert fold.tracker.evidence(done) == ()  # STARTED is not what it asks
    fold.feed(succeeded, acked)
    assert fold.tracker.evidence(done) == (succeeded,)  # the ack after it changed nothing


def test_a_setting_quotes_the_change_that_set_it_while_it_holds() -> None:
    late = SettingIs("acks_late is on", P, "task_acks_late", True)
    fold = Fold(late).feed(e(ev.ConfigChanged, settings={"task_acks_late": False}, complete=True))
    assert fold.tracker.evidence(late) == ()
    on = e(ev.ConfigChanged, settings={"task_acks_late": True})
    fold.feed(on, e(ev.ConfigChanged, settings={"worker_prefetch_multiplier": 1}))
    assert fold.tracker.evidence(late) == (on,)


def test_a_not_quotes_what_its_inner_condition_matched() -> None:
    never_twice = Not("it never ran twice", P, EventCount("", P, EventMatch("started", "order"), Count(2)))
    once = started("t1")
    fold = Fold(never_twice).feed(published("t1", alias="order"), once)
    assert fold.tracker.holds(never_twice)
    assert fold.tracker.evidence(never_twice) == (once,)  # the one start there was
    assert Fold(never_twice).tracker.evidence(never_twice) == ()


def test_evidence_is_bounded_but_the_count_goes_on() -> None:
    many = EventCount("many", P, EventMatch("started"))
    fold = Fold(many).feed(published("t1"), *(started("t1", run=n) for n in range(1, EVIDENCE_KEPT + 6)))
    assert len(fold.tracker.evidence(many)) == EVIDENCE_KEPT
    assert fold.tracker.matched(many) == EVIDENCE_KEPT + 5
    assert fold.tracker.evidence(many)[0].run == 1  # type: ignore[attr-defined]


def test_a_reset_forgets_the_evidence_and_nothing_before_the_awaited_reset_counts() -> None:
    ran = EventCount("ran", P, EventMatch("started"))
    lost = TaskState("lost", P, "order", "LOST")
    fold = Fold(ran, lost, from_reset=True).feed(published("t0", alias="order"), started("t0"))
    assert fold.tracker.evidence(ran) == () and fold.tracker.matched(ran) == 0
    fold.feed(e(ev.LabReset))
    after = started("t1")
    gone = e(ev.TaskLost, task_id="t1", task="charge_card", worker=W, run=1)
    fold.feed(published("t1", alias="order"), after, gone)
    assert fold.tracker.results_with_evidence() == [(ran, True, (after,)), (lost, True, (gone,))]
