"""The course's totals come from the lesson list and the progress alone; times read at a glance."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from celery_tutor.course.index import LessonEntry
from celery_tutor.course.lessons import load_course
from celery_tutor.course.scores import (
    QuizScore,
    course_totals,
    quiz_score,
    review_pairs,
    review_schedule,
    time_spent,
    time_until,
)
from celery_tutor.paths import bundled_lessons
from celery_tutor.progress import Progress, StepProgress

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def entry(lesson_id: str, steps: tuple[str, ...], questions: tuple[str, ...]) -> LessonEntry:
    return LessonEntry(f"{lesson_id}.yaml", lesson_id, lesson_id.title(), "", 5, (), steps, (), questions)


ENTRIES = [
    entry("a", ("intro", "quiz"), ("a1", "a2")),
    entry("b", ("intro", "quiz"), ("b1", "b2", "b3")),
    LessonEntry("broken.yaml", "", "broken.yaml", "", 0, (), (), ("1:1: bad",)),
]


def test_the_course_is_complete_when_every_lesson_is_done() -> None:
    progress = Progress()
    totals = course_totals(ENTRIES, progress, NOW)
    assert (totals.lessons_done, totals.lessons, totals.complete) == (0, 2, False)
    assert (totals.quiz, totals.seconds, totals.due, totals.next_due) == (QuizScore(0, 5, 0), 0, 0, None)
    for lesson_id in ("a", "b"):
        lesson = progress.lesson(lesson_id)
        lesson.steps = {"intro": StepProgress(done=True), "quiz": StepProgress(done=True)}
        lesson.seconds = 600
    a, b = progress.lessons["a"], progress.lessons["b"]
    a.question("a1").answer(True, NOW)
    a.question("a2").answer(False, NOW)  # box 1: due now
    b.question("b1").answer(False, NOW - timedelta(days=2))
    b.question("b1").review(True, NOW - timedelta(hours=1))  # box 2: due in 23 hours
    b.question("b2").answer(True, NOW)
    b.question("b3").answer(True, NOW)
    b.question("gone").answer(False, NOW)  # a question the lesson no longer has
    totals = course_totals(ENTRIES, progress, NOW)
    assert totals.complete and (totals.lessons_done, totals.lessons) == (2, 2)
    assert totals.quiz == QuizScore(3, 5, 5)
    assert time_spent(totals.seconds) == "20 minutes"
    assert (totals.in_review, totals.due) == (2, 1)
    assert totals.next_due == NOW + timedelta(hours=23)
    assert quiz_score(ENTRIES[1], b) == QuizScore(2, 3, 3)


def test_review_pairs_follow_the_course_order() -> None:
    assert review_pairs(ENTRIES) == [("a", "a1"), ("a", "a2"), ("b", "b1"), ("b", "b2"), ("b", "b3")]


def test_the_shipped_lessons_list_their_questions() -> None:
    entries = load_course([bundled_lessons()]).entries()
    assert entries[0].question_ids == ("when-early-ack", "acked-is-gone", "lifecycle-order", "prefetched-back")
    assert all(entry.question_ids for entry in entries)


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "under a minute"),
        (29, "under a minute"),
        (60, "1 minute"),
        (45 * 60, "45 minutes"),
        (3600, "1 h"),
        (
            3900,
            "1 h 5 min",
        ),
    ],
)
def test_time_spent(seconds: float, said: str) -> None:
    assert time_spent(seconds) == said


@pytest.mark.parametrize(
    ("delta", "said"),
    [
        (timedelta(0), "now"),
        (timedelta(seconds=20), "in 1 minute"),
        (timedelta(minutes=30), "in 30 minutes"),
        (timedelta(hours=23), "in 23 hours"),
        (timedelta(days=1), "tomorrow"),
        (timedelta(days=3), "in 3 days"),
    ],
)
def test_time_until(delta: timedelta, said: str) -> None:
    assert time_until(NOW + delta, NOW) == said


def test_the_scores_module_leaves_the_lesson_model_and_yaml_out_of_start_up() -> None:
    code = "import sys, celery_tutor.course.scores; print(' '.join(m for m in ('yaml', 'celery_tutor.course.model') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_the_review_schedule_in_words_follows_the_boxes() -> None:
    assert review_schedule() == "tomorrow, then in 3, 7 and 14 days"


def test_a_code_step_counts_as_a_goal_on_the_end_card() -> None:
    from celery_tutor.course.code_step import CodeStep
    from celery_tutor.course.scores import lesson_summary

    lesson = next(lesson for lesson in load_course([bundled_lessons()]).lessons if lesson.id == "retry-with-self-retry")
    code_steps = [number for number, step in enumerate(lesson.steps, 1) if isinstance(step, CodeStep)]
    labs = sum(1 for step in lesson.steps if step.kind in ("lab", "code"))
    progress = Progress()
    before = lesson_summary(lesson, progress.lesson(lesson.id))
    assert before.goals.of == labs and code_steps
    assert f"the code goal of step {code_steps[0]}" in before.missing
    progress.lesson(lesson.id).steps[lesson.steps[code_steps[0] - 1].id] = StepProgress(done=True)
    after = lesson_summary(lesson, progress.lesson(lesson.id))
    assert after.goals.right == before.goals.right + 1
    assert f"the code goal of step {code_steps[0]}" not in after.missing
