"""The review: questions the learner missed come back, spaced by Leitner boxes, until learned.

A question answered wrong in a lesson's quiz goes to box 1 (see :mod:`celery_tutor.progress`).
A review asks every question due at its start, in course order, once each, the way the
lesson asked it (:class:`~celery_tutor.course.asking.Asking`). A right answer moves the
question up a box, so it comes back later; a wrong one sends it back to box 1. Like the
lesson's session, the review never touches a widget, and its times come from a clock it is
given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from celery_tutor.course.asking import Asking, AskingSession
from celery_tutor.course.grading import Grade
from celery_tutor.course.model import Lesson, Question, QuizStep
from celery_tutor.course.phases import Move, Phase
from celery_tutor.progress import Clock, Progress, QuestionProgress, wall_clock


@dataclass(frozen=True)
class DueQuestion:
    """A question the review asks, and the lesson it comes from."""

    lesson: Lesson
    question: Question


def due_questions(lessons: Iterable[Lesson], progress: Progress, now: datetime) -> list[DueQuestion]:
    """The questions due at ``now``, in course order (a question the lessons no longer have is left out)."""
    found = [
        DueQuestion(lesson, question)
        for lesson in lessons
        for step in lesson.steps
        if isinstance(step, QuizStep)
        for question in step.questions
    ]
    due = set(progress.due([(d.lesson.id, d.question.id) for d in found], now))
    return [d for d in found if (d.lesson.id, d.question.id) in due]


@dataclass(frozen=True)
class Outcome:
    """How a review went: how many answers were right, wrong, or not given."""

    right: int
    wrong: int
    skipped: int
    next_right: datetime | None = None
    """When the first of the questions answered right comes back (None: none does, all learned)."""


class ReviewSession(AskingSession):
    """One review: the due questions, asked once each; each verdict moves its question's box."""

    def __init__(
        self,
        due: list[DueQuestion],
        progress: Progress,
        save: Callable[[], None],
        clock: Clock = wall_clock,
    ) -> None:
        super().__init__(progress, save, clock)
        self.due = due
        self.index = 0
        self.results: list[bool | None] = [None] * len(due)
        """Each question's verdict in this review (None: skipped, or not asked yet)."""
        self.finished = not due
        """Has every question been asked (answered or skipped)?"""
        self._asking = self._ask() if due else None

    def _ask(self) -> Asking:
        return Asking(self.question, self.current.lesson.id)

    @property
    def current(self) -> DueQuestion:
        """The question being asked, with its lesson."""
        return self.due[self.index]

    @property
    def question(self) -> Question:
        """The question being asked."""
        return self.current.question

    @property
    def box(self) -> QuestionProgress:
        """The current question's progress: its box and when it is due."""
        current = self.current
        return self.progress.lesson(current.lesson.id).question(current.question.id)

    def _graded(self, grade: Grade) -> None:
        self.phase = Phase.ANSWERED
        self.results[self.index] = grade.correct
        self.box.review(grade.correct, self._now())
        self._save_progress()

    def next(self) -> Move:
        """The next question (one skipped stays where it was: due, in its box), or the end."""
        if self.finished:
            return Move.END
        if self.index + 1 < len(self.due):
            self.index += 1
            self.phase = Phase.ASKING
            self._asking = self._ask()
            return Move.QUESTION
        self.finished = True
        self._asking = None
        return Move.END

    def outcome(self) -> Outcome:
        """Right, wrong and skipped so far."""
        right = sum(1 for result in self.results if result is True)
        wrong = sum(1 for result in self.results if result is False)
        dues = [
            progress.due
            for asked, result in zip(self.due, self.results, strict=True)
            if result is True
            and (progress := self.progress.peek(asked.lesson.id).questions.get(asked.question.id)) is not None
            and progress.box > 0
            and progress.due is not None
        ]
        return Outcome(right, wrong, len(self.results) - right - wrong, min(dues, default=None))
