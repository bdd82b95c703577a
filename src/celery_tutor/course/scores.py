"""What a learner has to show for a lesson, and for the course: scores, goals, takeaways, time.

A lesson's summary needs the lesson itself (its steps' kinds and takeaways); the course's
totals need only the lesson list's entries, so the lesson list can show them without
reading a lesson file. Both read the progress and change nothing. A score counts first
answers: a prediction or a question answered wrong stays wrong here, and the review
(:mod:`celery_tutor.course.review`) is where a missed question is learned.

The lesson list imports this module as the app starts: the lesson model (and PyYAML
behind it) is imported only when a lesson's summary is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from celery_tutor.course.index import LessonEntry
from celery_tutor.progress import BOX_WAITS, LessonProgress, Progress, StepProgress
from celery_tutor.wording import count_of

if TYPE_CHECKING:
    from celery_tutor.course.model import Lesson


@dataclass(frozen=True)
class Tally:
    """``right`` of ``of``: predictions, answers or goals."""

    right: int
    of: int

    def __str__(self) -> str:
        return f"{self.right} of {self.of}"


@dataclass(frozen=True)
class QuizScore(Tally):
    """Questions whose first answer was right, of all of them, and how many have an answer at all."""

    answered: int

    @property
    def answered_note(self) -> str:
        """`` (3 answered)`` while some questions have no answer yet, else nothing."""
        return f" ({self.answered} answered)" if self.answered < self.of else ""


@dataclass(frozen=True)
class LessonSummary:
    """The end of one lesson: what is left, what went right, and what to remember (in the card's order)."""

    title: str
    missing: tuple[str, ...]
    """What keeps the lesson from ✓, in words (empty: it is done)."""
    predictions: Tally
    """Predict steps whose (first) prediction was right, of all predict steps."""
    goals: Tally
    """Lab and code steps whose goal was reached, of all of them."""
    quiz: QuizScore
    """The lesson's questions."""
    to_review: int
    """The lesson's questions waiting in a Leitner box."""
    takeaways: tuple[str, ...]
    """One line per step that has one, in step order."""

    @property
    def complete(self) -> bool:
        """Is the lesson ✓: every lab goal reached, every prediction made, the quiz answered?"""
        return not self.missing


def lesson_summary(lesson: Lesson, progress: LessonProgress) -> LessonSummary:
    """A lesson's summary from the learner's progress in it."""
    from celery_tutor.course.model import PredictStep, QuizStep, takeaway_of
    from celery_tutor.course.parts import GoalStep

    predictions = goals = predicted = reached = 0
    questions = right = answered = 0
    missing: list[str] = []
    for number, step in enumerate(lesson.steps, 1):
        done = progress.steps.get(step.id, StepProgress()).done
        if isinstance(step, PredictStep):
            predictions += 1
            predicted += progress.steps.get(step.id, StepProgress()).correct is True
            if not done:
                missing.append(f"the prediction of step {number}")
        elif isinstance(step, GoalStep):
            goals += 1
            reached += done
            if not done:
                missing.append(f"the {step.kind} goal of step {number}")
        elif isinstance(step, QuizStep):
            score = _quiz([question.id for question in step.questions], progress)
            questions += score.of
            right += score.right
            answered += score.answered
            if not done:
                left = score.of - score.answered
                missing.append(f"{count_of(left, 'unanswered questions')} in the quiz of step {number}")
        elif not done:
            missing.append(f"step {number}")
    lesson_questions = {q.id for step in lesson.steps if isinstance(step, QuizStep) for q in step.questions}
    return LessonSummary(
        title=lesson.title,
        missing=tuple(missing),
        predictions=Tally(predicted, predictions),
        goals=Tally(reached, goals),
        quiz=QuizScore(right, questions, answered),
        to_review=sum(1 for i, question in progress.questions.items() if i in lesson_questions and question.box > 0),
        takeaways=tuple(text for text in map(takeaway_of, lesson.steps) if text),
    )


def quiz_score(entry: LessonEntry, progress: LessonProgress) -> QuizScore:
    """A lesson's quiz score from its entry in the lesson list (the lesson itself is not read)."""
    return _quiz(entry.question_ids, progress)


def _quiz(question_ids: Sequence[str], progress: LessonProgress) -> QuizScore:
    shown = [progress.questions[i] for i in question_ids if i in progress.questions]
    right = sum(1 for question in shown if question.correct is True)
    return QuizScore(right, len(question_ids), sum(1 for question in shown if question.answered))


def review_pairs(entries: Iterable[LessonEntry]) -> list[tuple[str, str]]:
    """Every (lesson id, question id) of the course, in course order (broken lessons have none)."""
    return [(entry.id, question_id) for entry in entries if not entry.broken for question_id in entry.question_ids]


@dataclass(frozen=True)
class CourseTotals:
    """The whole course at a glance: lessons done, the quiz overall, time, and the review."""

    lessons_done: int
    lessons: int
    quiz: QuizScore
    seconds: float
    in_review: int
    """Questions waiting in a Leitner box, due or not."""
    due: int
    """Questions the review asks now."""
    next_due: datetime | None
    """When the next question not yet due comes back (None: none waits)."""

    @property
    def complete(self) -> bool:
        """Is every lesson of the course ✓?"""
        return self.lessons > 0 and self.lessons_done == self.lessons


def course_totals(entries: Iterable[LessonEntry], progress: Progress, now: datetime) -> CourseTotals:
    """The course's totals from the lesson list and the progress, at ``now`` (for what is due)."""
    lessons = [entry for entry in entries if not entry.broken]
    done = right = questions = answered = 0
    seconds = 0.0
    for entry in lessons:
        lesson = progress.peek(entry.id)
        done += lesson.status(list(entry.step_ids)) == "done"
        score = quiz_score(entry, lesson)
        right, questions, answered = right + score.right, questions + score.of, answered + score.answered
        seconds += lesson.seconds
    pairs = review_pairs(lessons)
    waiting = progress.in_review(pairs)
    due = progress.due(pairs, now)
    later = [question.due for question in waiting if question.due is not None and not question.is_due(now)]
    return CourseTotals(
        lessons_done=done,
        lessons=len(lessons),
        quiz=QuizScore(right, questions, answered),
        seconds=seconds,
        in_review=len(waiting),
        due=len(due),
        next_due=min(later, default=None),
    )


def time_spent(seconds: float) -> str:
    """A time a learner reads at a glance: "under a minute", "12 minutes", "1 h 5 min"."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return count_of(minutes, "minutes")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def time_until(moment: datetime, now: datetime) -> str:
    """How long until ``moment``, roughly: "in 5 minutes", "tomorrow", "in 3 days"."""
    seconds = (moment - now).total_seconds()
    if seconds <= 0:
        return "now"
    if seconds < 3600:
        return f"in {count_of(max(1, round(seconds / 60)), 'minutes')}"
    if seconds < 86_400:
        return f"in {count_of(round(seconds / 3600), 'hours')}"
    days = round(seconds / 86_400)
    return "tomorrow" if days == 1 else f"in {count_of(days, 'days')}"


def review_schedule() -> str:
    """When a question answered right in the review comes back, box after box, in words."""
    days = [wait.days for wait in BOX_WAITS[1:]]
    if not days:
        return "never"
    first = "tomorrow" if days[0] == 1 else f"in {count_of(days[0], 'days')}"
    if len(days) == 1:
        return first
    rest = ", ".join(map(str, days[1:-1]))
    return f"{first}, then in {rest + ' and ' if rest else ''}{days[-1]} days"
