"""A typed number is graded the same way in a lesson's quiz and in the review."""

from __future__ import annotations

from typing import Any

from celery_tutor.course.grading import Grade
from celery_tutor.course.phases import Phase
from celery_tutor.ui.widgets.answers import give_number


class FakeAsking:
    """Records what it was given; grades nothing itself."""

    def __init__(self, phase: Phase) -> None:
        self.phase = phase
        self.given: list[Any] = []

    def give(self, answer: Any) -> Grade | None:
        self.given.append(answer)
        return None


def test_a_number_is_given_as_a_float() -> None:
    asking, said = FakeAsking(Phase.ASKING), []
    give_number(asking, " 2.5", lambda *a, **k: said.append(a))
    assert asking.given == [2.5] and said == []


def test_text_that_is_no_number_is_refused_with_a_word() -> None:
    asking, said = FakeAsking(Phase.ASKING), []
    assert give_number(asking, "many", lambda *a, **k: said.append((a, k))) is None
    assert asking.given == [] and said == [(("Type a number.",), {"severity": "warning"})]


def test_nothing_is_given_once_the_question_is_answered() -> None:
    asking, said = FakeAsking(Phase.ANSWERED), []
    assert give_number(asking, "3", lambda *a, **k: said.append(a)) is None
    assert asking.given == [] and said == []
