"""Each question kind grades, describes and states its answers, with per-answer feedback."""

from __future__ import annotations

import pytest

from celery_tutor.course.grading import AnswerError
from celery_tutor.course.loader import QUESTION_KINDS
from celery_tutor.course.model import (
    QUESTION_TYPES,
    Choice,
    MultipleChoice,
    Numeric,
    Ordering,
    Question,
    SingleChoice,
    TrueFalse,
)
from celery_tutor.yaml_source import Pos

P = Pos(1, 1)
CHOICES = (
    Choice("before the body", True, "Right."),
    Choice("after the body", False, "That is late acks."),
    Choice("when stored", False, "Results are separate."),
)


def test_single_choice_gives_the_chosen_feedback() -> None:
    q = SingleChoice("q", P, "When?", "Because.", choices=CHOICES)
    assert q.grade(0).correct and q.grade(0).feedback == ("Right.",)
    wrong = q.grade(1)
    assert not wrong.correct and wrong.feedback == ("That is late acks.",) and wrong.explanation == "Because."
    assert q.describe(1) == "after the body"
    assert q.right_answer() == "before the body"


def test_multiple_choice_must_match_exactly_and_says_what_is_off() -> None:
    choices = (Choice("a", True, "a!"), Choice("b", True, "b!"), Choice("c", False, "not c"))
    q = MultipleChoice("q", P, "Which?", "", choices=choices)
    assert q.grade({0, 1}).correct
    partial = q.grade({0, 2})
    assert not partial.correct
    assert partial.feedback == (
        "You missed 1 correct choice.",
        "1 of your choices should not be there.",
        "b!",
        "not c",
    )
    assert q.describe({2, 0}) == "a\nc"  # one choice per line: choices are often sentences
    assert q.describe(set()) == "(nothing ticked)"
    assert q.right_answer() == "a\nb"
    assert q.grade({2}).feedback[:2] == ("You missed 2 correct choices.", "1 of your choices should not be there.")


def test_true_false_feedback_per_answer() -> None:
    q = TrueFalse("q", P, "acks_late retries?", "No.", answer=False, feedback={True: "It does not."})
    assert q.grade(False).correct
    assert q.grade(True).feedback == ("It does not.",)
    assert (q.describe(True), q.right_answer()) == ("true", "false")


def test_numeric_tolerance_and_known_wrong_answers() -> None:
    q = Numeric("q", P, "Runs?", "", answer=4.0, tolerance=0.0, unit="runs", feedback={3.0: "Retries, not runs."})
    assert q.grade(4).correct
    assert q.grade(3).feedback == ("Retries, not runs.",)
    assert q.grade(7).feedback == ()
    assert (q.describe(3.5), q.right_answer()) == ("3.5 runs", "4 runs")
    one = Numeric("q", P, "Runs?", "", answer=1.0, unit="runs")
    assert (one.describe(1), one.right_answer(), one.describe(2)) == ("1 run", "1 run", "2 runs")
    loose = Numeric("q", P, "Gap?", "", answer=1.0, tolerance=0.5)
    assert loose.grade(1.4).correct and not loose.grade(1.6).correct
    assert loose.right_answer() == "1"


def test_ordering_counts_items_in_place() -> None:
    q = Ordering("q", P, "Order", "", items=("a", "b", "c"))
    assert q.grade(["a", "b", "c"]).correct
    assert q.grade(["b", "a", "c"]).feedback == ("1 of 3 is in the right place.",)
    assert q.grade(["c", "b", "a"]).feedback == ("1 of 3 is in the right place.",)
    assert q.grade(["b", "c", "a"]).feedback == ("0 of 3 are in the right place.",)
    assert q.describe(["b", "a", "c"]) == "b → a → c"
    assert q.right_answer() == "a → b → c"


ANSWERS_OF_THE_WRONG_SHAPE: list[tuple[Question, object]] = [
    (SingleChoice("q", P, "?", "", choices=CHOICES), 5),
    (SingleChoice("q", P, "?", "", choices=CHOICES), True),
    (TrueFalse("q", P, "?", "", answer=True), 1),
    (Numeric("q", P, "?", "", answer=1.0), "4"),
    (Numeric("q", P, "?", "", answer=1.0), True),
    (Ordering("q", P, "?", "", items=("a", "b")), ["a"]),
    (Ordering("q", P, "?", "", items=("a", "b")), "ab"),
    (MultipleChoice("q", P, "?", "", choices=CHOICES), {9}),
    (MultipleChoice("q", P, "?", "", choices=CHOICES), 3),
]


@pytest.mark.parametrize(("question", "answer"), ANSWERS_OF_THE_WRONG_SHAPE)
def test_answers_of_the_wrong_shape_are_caller_errors(question: Question, answer: object) -> None:
    with pytest.raises(AnswerError):
        question.grade(answer)
    with pytest.raises(AnswerError):
        question.describe(answer)


def test_every_kind_a_lesson_may_use_has_its_type() -> None:
    assert tuple(QUESTION_TYPES) == QUESTION_KINDS
    assert all(cls.kind == kind for kind, cls in QUESTION_TYPES.items())
