"""``verify`` fails a lesson whose claims the lab does not bear out."""

from __future__ import annotations

import pytest

from celery_tutor.course.loader import parse_lesson
from celery_tutor.paths import bundled_lessons
from celery_tutor.verification import verify

pytestmark = pytest.mark.lab

LESSON_1 = (bundled_lessons() / "01-acknowledgement.yaml").read_text()


def checks_of(text: str) -> dict[str, tuple[bool, str]]:
    lesson = parse_lesson(text, "probe.yaml")
    return {f"{c.step}: {c.what}": (c.ok, c.detail) for c in verify([lesson], jobs=4)}


def test_a_wrong_numeric_answer_and_a_wrong_observation_fail() -> None:
    text = LESSON_1.replace("        answer: 4\n", "        answer: 5\n")
    text = text.replace(
        "            - {event: acked, task: report2}\n",
        "            - {event: acked, task: report3}\n            - {event: started, task: report1}\n",
    )
    checks = checks_of(text)
    numeric = checks["quiz/prefetched-back: the numeric answer matches the lab"]
    assert numeric == (False, "the lab measured 4, the lesson says 5 ± 0")
    predict = checks["predict-prefetch: the experiment shows what the lesson says"]
    assert predict == (False, "not observed: report 2 was acked only when its turn came, long after it was received")
    assert checks["send-one: the solution reaches the goal"] == (True, "")


def test_a_goal_that_holds_before_the_learner_acts_fails() -> None:
    text = LESSON_1.replace(
        "      goal:\n        - label: a message was published\n",
        "      goal:\n        - label: nothing was lost\n          not: {event: lost}\n        - label: a message was published\n",
    )
    text = text.replace(
        "        - label: a message was published\n          event: published\n          task: add\n"
        "        - label: the worker acked it\n          event: acked\n          task: add\n"
        "        - label: the task succeeded\n          state: {task: add, is: SUCCESS}\n",
        "",
    )
    checks = checks_of(text)
    assert checks["send-one: the goal does not hold at the start"] == (
        False,
        "the goal already holds before the learner did anything",
    )


def test_a_wrong_solution_that_reaches_the_goal_fails() -> None:
    text = LESSON_1.replace(
        "      explain: |\n        Look at the order",
        "      wrong_solutions:\n"
        "        - why: not wrong at all\n"
        "          script:\n"
        "            - send: {task: add, args: [2, 3]}\n"
        "            - wait: {until: {event: succeeded}}\n"
        "      explain: |\n        Look at the order",
    )
    checks = checks_of(text)
    assert checks["send-one: a wrong solution does not reach the goal (not wrong at all)"] == (
        False,
        "it reaches the goal after all",
    )
