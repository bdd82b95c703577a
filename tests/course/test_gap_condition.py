"""A ``gap`` condition: how many seconds passed from one event to the next of another kind.

The Redis lesson claims that a crashed worker's message comes back only after the
visibility timeout; ``verify`` proves such timings with this condition.
"""

from __future__ import annotations

from itertools import count
from typing import Any

import pytest

from celery_tutor.course.conditions import EventMatch, Gap, GoalTracker, Not
from celery_tutor.course.loader import LessonError, parse_lesson
from celery_tutor.course.model import PredictStep
from celery_tutor.lab import events as ev
from celery_tutor.lab.state import LabState
from celery_tutor.yaml_source import Pos

P = Pos(1, 1)
_seq = count(1)


def received(at: float, task_id: str = "t1") -> ev.LabEvent:
    return ev.TaskReceived(
        seq=next(_seq), at=at, task_id=task_id, task="add", worker="worker1", redelivered=False, retries=0
    )


def back(at: float, task_id: str = "t1") -> ev.LabEvent:
    return ev.MessageRedelivered(
        seq=next(_seq), at=at, task_id=task_id, task="add", worker="worker1", reason=ev.SCAN_RESTORE
    )


def tracker_of(*conditions: Any) -> GoalTracker:
    return GoalTracker(conditions, LabState())


def feed(tracker: GoalTracker, *events: ev.LabEvent) -> GoalTracker:
    for event in events:
        tracker.state.apply(event)
        tracker.observe(event)
    return tracker


def gap(low: float | None = None, high: float | None = None) -> Gap:
    return Gap("back after the timeout", P, EventMatch("received"), EventMatch("redelivered"), low, high)


def test_a_gap_holds_once_the_end_came_late_enough() -> None:
    tracker = feed(tracker_of(gap(2)), received(1.0))
    assert not tracker.satisfied, "no end event yet"
    feed(tracker, back(3.5))
    assert tracker.satisfied


def test_a_gap_too_short_does_not_hold_and_a_later_end_does_not_change_that() -> None:
    tracker = feed(tracker_of(gap(2)), received(1.0), back(1.5))
    assert not tracker.satisfied
    feed(tracker, back(9.0))
    assert not tracker.satisfied, "the first end event after the start is the one measured"


def test_a_gap_with_a_max_bounds_it_from_above() -> None:
    assert feed(tracker_of(gap(1, 3)), received(0.0), back(2.0)).satisfied
    assert not feed(tracker_of(gap(None, 3)), received(0.0), back(3.5)).satisfied


def test_the_clock_starts_at_the_first_start_event_and_ignores_ends_before_it() -> None:
    tracker = feed(tracker_of(gap(2)), back(0.5), received(1.0), received(2.5), back(3.2))
    assert tracker.satisfied, "from the first received (1.0) to the first redelivered after it (3.2)"


def test_a_gap_follows_its_task_and_a_reset_starts_it_over() -> None:
    only_t2 = Gap("t2 back late", P, EventMatch("received", "add"), EventMatch("redelivered", "add"), 2.0)
    tracker = feed(tracker_of(only_t2), received(0.0))
    feed(tracker, ev.LabReset(seq=next(_seq), at=1.0))
    feed(tracker, received(1.5), back(2.5))
    assert not tracker.satisfied, "1 s after the received that came after the reset"


def test_not_a_gap_holds_until_the_end_event_comes_in_range() -> None:
    tracker = feed(tracker_of(Not("not back within 2 s", P, gap(None, 2))), received(0.0))
    assert tracker.satisfied
    feed(tracker, back(1.0))
    assert not tracker.satisfied


LESSON = """\
schema: 1
id: demo
title: Demo
summary: A lesson.
minutes: 5
steps:
  - id: p
    predict:
      question: When?
      choices:
        - {text: Now, correct: true}
        - {text: Later}
      experiment:
        - send: {task: add, args: [1, 2], as: sum}
        - wait: {until: {task: sum, state: SUCCESS}}
      expect:
        - label: it ran within a second
          gap:
{gap}
      explain: Fast.
"""


def read_gap(body: str) -> Any:
    step = parse_lesson(LESSON.replace("{gap}", body), "l.yaml").steps[0]
    assert isinstance(step, PredictStep)
    return step.expect[0]


def problems(body: str) -> list[str]:
    with pytest.raises(LessonError) as caught:
        parse_lesson(LESSON.replace("{gap}", body), "l.yaml")
    return [f"{p.pos.line}:{p.pos.col}: {p.message}" for p in caught.value.problems]


def test_a_lesson_reads_a_gap() -> None:
    condition = read_gap(
        "            from: {event: published, task: sum}\n"
        "            to: {event: started, task: sum}\n"
        "            max: 1\n"
    )
    assert condition == Gap(
        "it ran within a second", Pos(17, 11), EventMatch("published", "sum"), EventMatch("started", "sum"), None, 1.0
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "            from: {event: published}\n            to: {event: started}\n",
            "19:13: p.predict.expect.gap: expected min or max (seconds), or both",
        ),
        (
            "            from: {event: published}\n            to: {event: started}\n            min: -1\n",
            "21:18: p.predict.expect.gap.min: expected a number ≥ 0, got -1",
        ),
        (
            "            from: {event: published}\n            to: {event: started}\n            min: 3\n"
            "            max: 1\n",
            "22:13: p.predict.expect.gap.max: 1 is below min 3",
        ),
        (
            "            from: {event: publish}\n            to: {event: started}\n            min: 1\n",
            "19:27: p.predict.expect.gap.from.event: unknown event 'publish'; valid: " + ", ".join(ev.EVENT_KINDS),
        ),
        (
            "            to: {event: started}\n            min: 1\n",
            "19:13: p.predict.expect.gap: missing required key 'from'",
        ),
        (
            "            from: {event: published, task: order}\n            to: {event: started}\n            min: 1\n",
            "19:44: p.predict.expect.gap.from.task: 'order' is neither an alias from this step's scripts (sum) nor a lab task",
        ),
    ],
)
def test_a_wrong_gap_is_one_problem_at_its_place(body: str, expected: str) -> None:
    assert problems(body) == [expected]
