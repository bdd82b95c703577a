"""The verdict on a quiz answer.

Each question kind grades its own answers (:meth:`celery_tutor.course.model.Question.grade`);
these are the types of what it says, kept apart so the model and the UI share them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Grade:
    """The verdict on one answer: right or wrong, what to say, and the explanation."""

    correct: bool
    feedback: tuple[str, ...]
    explanation: str


class AnswerError(ValueError):
    """An answer of the wrong shape for its question (a bug in the caller, not the learner)."""
