"""A predict result's card: each expectation, then the timeline and ledger lines that bear it out."""

from __future__ import annotations

from itertools import count
from typing import Any

from celery_tutor.course.conditions import Count, EventCount, EventMatch, GoalTracker, LedgerCount, Not
from celery_tutor.lab import events as ev
from celery_tutor.lab.state import LabState
from celery_tutor.ui.widgets.answers import QUOTED, EvidenceCard
from celery_tutor.yaml_source import Pos

P = Pos(1, 1)
_seq = count(1)


def e(cls: type[ev.LabEvent], at: float, **fields: Any) -> ev.LabEvent:
    return cls(seq=next(_seq), at=at, **fields)


def card_after(conditions: tuple[Any, ...], events: list[ev.LabEvent]) -> EvidenceCard:
    state = LabState()
    tracker = GoalTracker(conditions, state)
    for event in events:
        state.apply(event)
        tracker.observe(event)
    return EvidenceCard(tracker.results(), tracker, "What happened in the lab:")


def test_each_expectation_is_followed_by_its_quotes_and_the_rest_are_counted() -> None:
    charged = LedgerCount("charged more than once", P, "charge", "order 42", Count(2))
    events = [
        e(
            ev.LedgerWritten,
            0.5 * n,
            task_id="t1",
            task="charge_card",
            action="charge",
            key="order 42",
            detail="$1",
            count=n,
        )
        for n in range(1, QUOTED + 3)
    ]
    words = card_after((charged,), events).words.splitlines()
    assert words[:3] == [
        "What happened in the lab:",
        "  ✓ charged more than once",
        "        0.50s ledger: charge order 42 $1",
    ]
    assert words[3] == "        1.00s ledger: charge order 42 $1  ×2 DUPLICATE"
    assert words[-1] == "      …and 2 more like it"


def test_an_expectation_nothing_matched_says_so_and_so_does_a_not_that_holds() -> None:
    redelivered = EventCount("the message came back", P, EventMatch("redelivered"))
    never = Not("nothing came back", P, EventCount("", P, EventMatch("redelivered")))
    words = card_after((redelivered, never), [e(ev.FaultArmed, 0.1, description="x")]).words.splitlines()
    assert words[1:] == [
        "  ✗ the message came back",
        "      (nothing in the timeline matched)",
        "  ✓ nothing came back",
        "      (nothing of the kind happened)",
    ]
