"""Quiz answers are graded by pure functions, with per-answer feedback."""

from __future__ import annotations

import pytest

from celery_tutor.course.grading import AnswerError, grade
from celery_tutor.course.model import Choice, Question
from celery_tutor.yaml_source import Pos

P = Pos(1, 1)
CHOICES = (
    Choice("before the body", True, "Right."),
    Choice("after the body", False, "That is late acks."),
    Choice("when stored", False, "Results are separate."),
)


def test_single_choice_gives_the_chosen_feedback() -> None:
    q = Question("q", P, "single", "When?", "Because.", choices=CHOICES)
    assert grade(q, 0).correct and grade(q, 0).feedback == ("Right.",)
    wrong = grade(q, 1)
    assert not wrong.correct and wrong.feedback == ("That is late acks.",) and wrong.explanation == "Because."


def test_multiple_choice_must_match_exactly_and_says_what_is_off() -> None:
    choices = (Choice("a", True, "a!"), Choice("b", True, "b!"), Choice("c", False, "not c"))
    q = Question("q", P, "multiple", "Which?", "", choices=choices)
    assert grade(q, {0, 1}).correct
    partial = grade(q, {0, 2})
    assert not partial.correct
    assert partial.feedback == (
        "You missed 1 correct choice(s).",
        "1 of your choices should not be there.",
        "b!",
        "not c",
    )


def test_true_false_feedback_per_answer() -> None:
    q = Question("q", P, "true_false", "acks_late retries?", "No.", answer=False, feedback={True: "It does not."})
    assert grade(q, False).correct
    assert grade(q, True).feedback == ("It does not.",)


def test_numeric_tolerance_and_known_wrong_answers() -> None:
    q = Question("q", P, "numeric", "Runs?", "", answer=4.0, tolerance=0.0, feedback={3.0: "Retries, not runs."})
    assert grade(q, 4).correct
    assert grade(q, 3).feedback == ("Retries, not runs.",)
    assert grade(q, 7).feedback == ()
    loose = Question("q", P, "numeric", "Gap?", "", answer=1.0, tolerance=0.5)
    assert grade(loose, 1.4).correct and not grade(loose, 1.6).correct


def test_ordering_counts_items_in_place() -> None:
    q = Question("q", P, "ordering", "Order", "", items=("a", "b", "c"))
    assert grade(q, ["a", "b", "c"]).correct
    assert grade(q, ["b", "a", "c"]).feedback == ("1 of 3 are in the right place.",)


@pytest.mark.parametrize(
    ("kind", "answer"),
    [("single", 5), ("single", True), ("true_false", 1), ("numeric", "4"), ("ordering", ["a"]), ("multiple", {9})],
)
def test_answers_of_the_wrong_shape_are_caller_errors(kind: str, answer: object) -> None:
    q = Question("q", P, kind, "?", "", choices=CHOICES, answer=True if kind == "true_false" else 1.0, items=("a", "b"))
    with pytest.raises(AnswerError):
        grade(q, answer)
