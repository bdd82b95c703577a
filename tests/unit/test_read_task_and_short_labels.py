"""A read step may name the task its text discusses; a control may give a short label for its row."""

from __future__ import annotations

import pytest

from celery_tutor.course.loader import LessonError, parse_lesson
from celery_tutor.course.model import MAX_SHORT_LABEL, ReadStep
from celery_tutor.wording import count_of, singular

LESSON = """\
schema: 1
id: small
title: Small
summary: A small lesson.
minutes: 1
lab:
  tasks: [add]
controls:
  - key: s
    label: send add(2, 3) and watch it go
    short: {short}
    send: {{task: add, args: [2, 3]}}
  - key: a
    toggle: task_acks_late
    short: {toggle_short}
steps:
  - id: intro
    read: Text.
    task: {task}
  - id: quiz
    quiz:
      - id: q
        true_false: Early acks are the default.
        answer: true
        explain: Yes.
"""


def lesson_text(short: str = "send add", toggle_short: str = "acks_late", task: str = "charge_card") -> str:
    return LESSON.format(short=short, toggle_short=toggle_short, task=task)


def problems_of(text: str) -> list[str]:
    try:
        parse_lesson(text, "l.yaml")
    except LessonError as exc:
        return [f"{p.pos.line}:{p.pos.col}: {p.message}" for p in exc.problems]
    return []


def test_a_read_step_names_a_task_and_controls_have_short_labels() -> None:
    lesson = parse_lesson(lesson_text(), "l.yaml")
    step = lesson.steps[0]
    assert isinstance(step, ReadStep) and step.task == "charge_card"
    send, toggle = lesson.controls
    assert (send.short_label, send.label) == ("send add", "send add(2, 3) and watch it go")
    assert (toggle.short_label, toggle.label) == ("acks_late", "toggle task_acks_late")


def test_without_a_short_label_the_row_shows_the_setting_or_the_label() -> None:
    text = lesson_text().replace("    short: send add\n", "").replace("    short: acks_late\n", "")
    send, toggle = parse_lesson(text, "l.yaml").controls
    assert (send.short_label, toggle.short_label) == ("send add(2, 3) and watch it go", "task_acks_late")


def test_an_unknown_task_on_a_read_step_is_reported() -> None:
    [problem] = problems_of(lesson_text(task="charge"))
    assert problem.startswith("19:11: intro.read.task: unknown task 'charge'; valid: add, charge_card")


def test_only_a_read_step_names_a_task() -> None:
    text = lesson_text().replace("  - id: quiz\n    quiz:", "  - id: quiz\n    task: add\n    quiz:")
    [problem] = problems_of(text)
    assert problem == "21:5: quiz.quiz: only a read step names a task (the others show what they send)"


@pytest.mark.parametrize(
    ("short", "toggle_short", "expected"),
    [
        ("x" * MAX_SHORT_LABEL, "y" * (MAX_SHORT_LABEL - 5), None),
        (
            "x" * (MAX_SHORT_LABEL + 1),
            "acks_late",
            f"11:12: control.short: 22 characters; the control row has room for {MAX_SHORT_LABEL}",
        ),
        ("send", "y" * (MAX_SHORT_LABEL - 4), "15:12: control.short: 17 characters; the control row has room for 16"),
    ],
)
def test_a_short_label_must_fit_its_row(short: str, toggle_short: str, expected: str | None) -> None:
    problems = problems_of(lesson_text(short=short, toggle_short=toggle_short))
    assert problems == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("number", "noun", "said"),
    [
        (1, "runs", "1 run"),
        (1.0, "seconds", "1 second"),
        (2, "runs", "2 runs"),
        (0, "charges", "0 charges"),
        (0.5, "seconds", "0.5 seconds"),
        (1, "retries", "1 retry"),
        (1, "", "1"),
        (1024, "seconds", "1024 seconds"),
    ],
)
def test_counted_words_agree(number: float, noun: str, said: str) -> None:
    assert count_of(number, noun) == said


def test_singulars_of_the_units_lessons_use() -> None:
    assert [singular(word) for word in ("runs", "messages", "charges", "boxes", "minutes", "class")] == [
        "run",
        "message",
        "charge",
        "box",
        "minute",
        "class",
    ]


def test_a_toggle_starts_from_celerys_default_until_the_lab_reports_the_setting() -> None:
    from celery_tutor.lab.settings import flag_value

    assert flag_value("task_acks_on_failure_or_timeout", {}) is True  # Celery's default is on
    assert flag_value("task_acks_late", {}) is False
    assert flag_value("task_acks_on_failure_or_timeout", {"task_acks_on_failure_or_timeout": False}) is False
