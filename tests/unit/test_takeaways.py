"""Each step has one line to remember for the lesson's end card: written in the lesson, or taken from its text."""

from __future__ import annotations

import pytest

from celery_tutor.course.lessons import load_course
from celery_tutor.course.loader import LessonError, parse_lesson
from celery_tutor.course.model import (
    MAX_TAKEAWAY,
    LabStep,
    PredictStep,
    QuizStep,
    ReadStep,
    first_sentence,
    takeaway_of,
)
from celery_tutor.paths import bundled_lessons

LESSON = """\
schema: 1
id: small
title: Small
summary: A small lesson.
minutes: 1
lab:
  tasks: [add]
steps:
  - id: intro
    read: |
      # A task is a message

      It waits in a queue. Then a worker takes it.
{takeaway}
  - id: guess
    predict:
      question: Where is it?
      choices:
        - {{text: In the queue, correct: true}}
        - {{text: Gone}}
      experiment:
        - send: {{task: add, args: [1, 2], as: sum}}
        - wait: {{until: {{task: sum, state: SUCCESS}}}}
      expect:
        - label: it ran
          state: {{task: sum, is: SUCCESS}}
      explain: |
        The worker *acked* it before it ran. That is early acknowledgement.
  - id: quiz
    quiz:
      - id: q
        true_false: Early acks are the default.
        answer: true
        explain: Yes.
"""


def parse(takeaway: str = "") -> list[str] | tuple[ReadStep, PredictStep, QuizStep]:
    try:
        lesson = parse_lesson(LESSON.format(takeaway=takeaway), "l.yaml")
    except LessonError as exc:
        return [f"{p.pos.line}:{p.pos.col}: {p.message}" for p in exc.problems]
    read, predict, quiz = lesson.steps
    assert isinstance(read, ReadStep) and isinstance(predict, PredictStep) and isinstance(quiz, QuizStep)
    return read, predict, quiz


def test_a_step_says_its_takeaway() -> None:
    steps = parse("    takeaway: Nothing runs until a worker takes the message.")
    assert not isinstance(steps, list)
    read = steps[0]
    assert read.takeaway == "Nothing runs until a worker takes the message."
    assert takeaway_of(read) == "Nothing runs until a worker takes the message."


def test_without_one_the_step_gives_its_heading_or_the_first_sentence_of_its_explain() -> None:
    steps = parse()
    assert not isinstance(steps, list)
    read, predict, quiz = steps
    assert takeaway_of(read) == "A task is a message"
    assert takeaway_of(predict) == "The worker *acked* it before it ran."
    assert takeaway_of(quiz) == ""  # a quiz shows its score instead


@pytest.mark.parametrize(
    ("takeaway", "problem"),
    [
        ("    takeaway: |\n      Two\n      lines.", "14:15: intro.takeaway: one line only"),
        (f"    takeaway: {'x' * (MAX_TAKEAWAY + 1)}", f"14:15: intro.takeaway: at most {MAX_TAKEAWAY} characters"),
        ("    takeaway: ''", "14:15: intro.takeaway: expected text"),
        ("    takeaway: [a, b]", "14:15: intro.takeaway: expected text"),
    ],
    ids=["two-lines", "too-long", "blank", "a-list"],
)
def test_a_takeaway_is_one_line_of_text(takeaway: str, problem: str) -> None:
    problems = parse(takeaway)
    assert isinstance(problems, list) and len(problems) == 1, problems
    assert problems[0].startswith(problem), problems


def test_a_folded_takeaway_is_one_line() -> None:
    steps = parse("    takeaway: >\n      Folded over\n      two source lines.")
    assert not isinstance(steps, list)
    assert steps[0].takeaway == "Folded over two source lines."


@pytest.mark.parametrize(
    ("markdown", "sentence"),
    [
        ("# Title\n\nFirst one. Second one.", "First one."),
        ("```python\nx = 1\n```\n\nAfter the code! More.", "After the code!"),
        ("- a bullet that\n  goes on. Then more.", "a bullet that goes on."),
        ("No end", "No end"),
        ("", ""),
        ("y" * 500, "y" * (MAX_TAKEAWAY - 1) + "…"),
    ],
)
def test_first_sentence(markdown: str, sentence: str) -> None:
    assert first_sentence(markdown) == sentence


def test_every_shipped_step_but_a_quiz_writes_its_own_takeaway() -> None:
    course = load_course([bundled_lessons()])
    missing = [
        f"{lesson.id}/{step.id}"
        for lesson in course.lessons
        for step in lesson.steps
        if isinstance(step, ReadStep | PredictStep | LabStep) and not step.takeaway
    ]
    assert missing == []
