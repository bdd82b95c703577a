"""Asking one question: what is offered, what the learner ticked or ordered, and the verdict.

The lesson's quiz (:mod:`.session`) and the review (:mod:`.review`) share an
:class:`Asking`, so a question is offered and graded the same way in both, and take the
learner's answers through one :class:`AskingSession`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery_tutor.course.grading import Grade
from celery_tutor.course.model import MultipleChoice, Ordering, Question, SingleChoice, TrueFalse
from celery_tutor.course.phases import Phase
from celery_tutor.progress import Clock, Progress


@dataclass
class QuizAnswer:
    """What the learner did with the current question so far: data, not glyphs."""

    ticked: set[int] = field(default_factory=set)
    """Multiple choice: the indices of the ticked choices."""
    ordered: list[int] = field(default_factory=list)
    """Ordering: positions in ``shuffled``, in the order the learner picked them."""
    shuffled: tuple[str, ...] = ()
    """Ordering: the items as offered (never already in the right order)."""
    given: Any = None
    """The answer that was graded (None before)."""
    grade: Grade | None = None


CHECK_MY_ANSWER = "check my answer"
"""The last option of a multiple-choice question: grade the ticked choices."""


@dataclass(frozen=True)
class Refusal:
    """An answer that is not complete enough to grade, and what the learner should do."""

    reason: str


NOTHING_TICKED = Refusal(f"Nothing is ticked yet: Enter ticks ☑ a choice, then pick '{CHECK_MY_ANSWER}'.")


class Asking:
    """One question of a lesson being answered: what is offered, what the learner did so far, the verdict.

    The lesson's id and the question's seed how an ordering question's items are shuffled,
    so the same question is offered the same way every time it is asked, in the quiz or
    in the review.
    """

    def __init__(self, question: Question, lesson_id: str) -> None:
        self.question = question
        self.answer = QuizAnswer()
        if isinstance(question, Ordering):
            rng = random.Random(f"{lesson_id}/{question.id}")
            shuffled = list(question.items)
            while shuffled == list(question.items):
                rng.shuffle(shuffled)
            self.answer.shuffled = tuple(shuffled)

    @property
    def graded(self) -> bool:
        """Has an answer been graded? (Then nothing more is taken.)"""
        return self.answer.grade is not None

    def options(self) -> list[str] | None:
        """What a choice list offers (None: a number is typed)."""
        question = self.question
        if isinstance(question, SingleChoice):
            return [c.text for c in question.choices]
        if isinstance(question, MultipleChoice):
            return [*(c.text for c in question.choices), CHECK_MY_ANSWER]
        if isinstance(question, TrueFalse):
            return ["True", "False"]
        if isinstance(question, Ordering):
            return list(self.answer.shuffled)
        return None

    def pick(self, index: int) -> Grade | Refusal | None:
        """The learner picked option ``index``; the grade once the answer is complete.

        Checking a multiple-choice answer with nothing ticked is refused, not graded: an
        empty answer is almost always a learner who has not found how to tick yet.
        """
        if self.graded:
            return None
        question = self.question
        if isinstance(question, SingleChoice):
            return self.give(index)
        if isinstance(question, TrueFalse):
            return self.give(index == 0)
        if isinstance(question, MultipleChoice):
            if index == len(question.choices):
                return self.give(set(self.answer.ticked)) if self.answer.ticked else NOTHING_TICKED
            self.answer.ticked ^= {index}
            return None
        if isinstance(question, Ordering):
            if index not in self.answer.ordered:
                self.answer.ordered.append(index)
            if len(self.answer.ordered) == len(self.answer.shuffled):
                return self.give([self.answer.shuffled[i] for i in self.answer.ordered])
        return None

    def give(self, answer: Any) -> Grade | None:
        """Grade a complete answer (None when one was graded already)."""
        if self.graded:
            return None
        grade = self.question.grade(answer)
        self.answer.given = answer
        self.answer.grade = grade
        return grade


class AskingSession:
    """What a lesson's quiz and the review share: the question asked now, and the answers taken for it.

    An answer is taken while the phase is :attr:`Phase.ASKING` and a question is asked;
    a subclass keeps the verdict (:meth:`_graded`).
    """

    def __init__(self, progress: Progress, save: Callable[[], None], clock: Clock) -> None:
        self.progress = progress
        self._save_progress = save
        self._now = clock
        self.phase = Phase.ASKING
        self._asking: Asking | None = None

    @property
    def answer(self) -> QuizAnswer:
        """What the learner did with the current question so far (empty when none is asked)."""
        return self._asking.answer if self._asking is not None else QuizAnswer()

    def options(self) -> list[str] | None:
        """What a choice list offers for the current question (None: a number is typed)."""
        assert self._asking is not None
        return self._asking.options()

    def pick(self, index: int) -> Grade | Refusal | None:
        """The learner picked option ``index`` of the list; the grade once the answer is complete.

        Checking a multiple-choice answer with nothing ticked is refused (see :meth:`Asking.pick`).
        """
        asking = self._taking()
        result = asking.pick(index) if asking is not None else None
        if isinstance(result, Grade):
            self._graded(result)
        return result

    def give(self, answer: Any) -> Grade | None:
        """Grade a complete answer to the current question (None when not asking)."""
        asking = self._taking()
        grade = asking.give(answer) if asking is not None else None
        if grade is not None:
            self._graded(grade)
        return grade

    def _taking(self) -> Asking | None:
        """The question an answer goes to now (None: nothing is being asked)."""
        return self._asking if self.phase is Phase.ASKING else None

    def _graded(self, grade: Grade) -> None:
        """Keep the verdict of the current question."""
        raise NotImplementedError
