"""Grade quiz answers: pure functions, so the app never decides correctness itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celery_tutor.course.model import Question


@dataclass(frozen=True)
class Grade:
    """The verdict on one answer: right or wrong, what to say, and the explanation."""

    correct: bool
    feedback: tuple[str, ...]
    explanation: str


class AnswerError(ValueError):
    """An answer of the wrong shape for its question (a bug in the caller, not the learner)."""


def grade(question: Question, answer: Any) -> Grade:
    """Grade an answer.

    single: a choice index; multiple: a set of choice indices; true_false: a bool;
    numeric: a number; ordering: the items in the learner's order.
    """
    grader = _GRADERS.get(question.kind)
    if grader is None:
        raise AnswerError(f"unknown question kind {question.kind!r}")
    correct, feedback = grader(question, answer)
    return Grade(correct, tuple(f for f in feedback if f), question.explain)


def _single(question: Question, answer: Any) -> tuple[bool, list[str]]:
    if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(question.choices):
        raise AnswerError(f"expected a choice index, got {answer!r}")
    choice = question.choices[answer]
    return choice.correct, [choice.feedback]


def _multiple(question: Question, answer: Any) -> tuple[bool, list[str]]:
    chosen = set(answer)
    if any(not isinstance(i, int) or not 0 <= i < len(question.choices) for i in chosen):
        raise AnswerError(f"expected choice indices, got {answer!r}")
    right = {i for i, choice in enumerate(question.choices) if choice.correct}
    feedback = [question.choices[i].feedback for i in sorted(chosen ^ right)]
    if chosen - right:
        feedback.insert(0, f"{len(chosen - right)} of your choices should not be there.")
    if right - chosen:
        feedback.insert(0, f"You missed {len(right - chosen)} correct choice(s).")
    return chosen == right, feedback


def _true_false(question: Question, answer: Any) -> tuple[bool, list[str]]:
    if not isinstance(answer, bool):
        raise AnswerError(f"expected true or false, got {answer!r}")
    return answer == question.answer, [question.feedback.get(answer, "")]


def _numeric(question: Question, answer: Any) -> tuple[bool, list[str]]:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise AnswerError(f"expected a number, got {answer!r}")
    correct = abs(answer - question.answer) <= question.tolerance + 1e-9
    feedback = [] if correct else [text for value, text in question.feedback.items() if abs(value - answer) < 1e-9]
    return correct, feedback


def _ordering(question: Question, answer: Any) -> tuple[bool, list[str]]:
    order = list(answer)
    if sorted(order) != sorted(question.items):
        raise AnswerError(f"expected the items {question.items!r} in some order, got {answer!r}")
    in_place = sum(1 for mine, right in zip(order, question.items, strict=True) if mine == right)
    if in_place == len(order):
        return True, []
    return False, [f"{in_place} of {len(order)} are in the right place."]


_GRADERS = {
    "single": _single,
    "multiple": _multiple,
    "true_false": _true_false,
    "numeric": _numeric,
    "ordering": _ordering,
}
