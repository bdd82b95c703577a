"""The review asks the missed questions that are due, and moves each one's Leitner box by the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from celery_tutor.course.asking import Refusal
from celery_tutor.course.lessons import load_course
from celery_tutor.course.model import Lesson, MultipleChoice, Numeric, Ordering, QuizStep, SingleChoice, TrueFalse
from celery_tutor.course.phases import Move, Phase
from celery_tutor.course.review import DueQuestion, ReviewSession, due_questions
from celery_tutor.course.session import LessonSession
from celery_tutor.lab.state import LabState
from celery_tutor.paths import bundled_lessons
from celery_tutor.progress import Progress

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LESSONS = load_course([bundled_lessons()]).lessons


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def missed(progress: Progress, lesson: Lesson, *question_ids: str, at: datetime = T0) -> None:
    for question_id in question_ids:
        progress.lesson(lesson.id).question(question_id).answer(False, at)


def right_answer(review: ReviewSession) -> None:
    question = review.question
    if isinstance(question, SingleChoice):
        review.pick(next(i for i, c in enumerate(question.choices) if c.correct))
    elif isinstance(question, TrueFalse):
        review.pick(0 if question.answer else 1)
    elif isinstance(question, Ordering):
        for item in question.items:
            review.pick(review.answer.shuffled.index(item))
    elif isinstance(question, Numeric):
        review.give(question.answer)
    elif isinstance(question, MultipleChoice):
        for i, choice in enumerate(question.choices):
            if choice.correct:
                review.pick(i)
        review.pick(len(question.choices))


def test_due_questions_come_in_course_order_and_only_when_due() -> None:
    first, second = LESSONS[0], LESSONS[1]
    progress = Progress()
    missed(progress, second, "raise-late")
    missed(progress, first, "prefetched-back", "when-early-ack")
    progress.lesson(first.id).question("acked-is-gone").answer(True, T0)  # right: not in the review
    missed(progress, first, "not-a-question-any-more")
    due = due_questions(LESSONS, progress, T0)
    assert [(d.lesson.id, d.question.id) for d in due] == [
        ("acknowledgement", "when-early-ack"),
        ("acknowledgement", "prefetched-back"),
        ("early-vs-late-acks", "raise-late"),
    ]
    assert due_questions(LESSONS, progress, T0 - timedelta(seconds=1)) == []


def test_a_review_moves_a_right_answer_up_a_box_and_a_wrong_one_back_to_box_1() -> None:
    lesson = LESSONS[0]
    progress = Progress()
    missed(progress, lesson, "when-early-ack", "acked-is-gone", "lifecycle-order")
    clock = Clock()
    clock.now = T0 + timedelta(hours=1)
    saves: list[int] = []
    review = ReviewSession(due_questions(LESSONS, progress, clock.now), progress, lambda: saves.append(1), clock)
    assert not review.finished and review.phase is Phase.ASKING
    assert review.current.question.id == "when-early-ack" and review.box.box == 1
    right_answer(review)
    assert review.phase is Phase.ANSWERED and review.answer.grade is not None and review.answer.grade.correct
    assert review.pick(0) is None  # answered: no second try
    assert review.next() is Move.QUESTION
    grade = review.pick(0)  # "True": wrong (an acked message is gone)
    assert grade is not None and not isinstance(grade, Refusal) and not grade.correct
    assert review.next() is Move.QUESTION
    assert review.question.id == "lifecycle-order"  # skipped: it stays due, in its box
    assert review.next() is Move.END and review.finished
    assert review.next() is Move.END and review.pick(0) is None
    questions = progress.lessons[lesson.id].questions
    assert (questions["when-early-ack"].box, questions["when-early-ack"].due) == (2, clock.now + timedelta(days=1))
    assert (questions["acked-is-gone"].box, questions["acked-is-gone"].due) == (1, clock.now)
    assert (questions["lifecycle-order"].box, questions["lifecycle-order"].due) == (1, T0)
    assert all(q.correct is False for q in questions.values())  # the quiz score keeps the first answers
    assert review.results == [True, False, None]
    outcome = review.outcome()
    assert (outcome.right, outcome.wrong, outcome.skipped) == (1, 1, 1)
    assert outcome.next_right == clock.now + timedelta(days=1)  # the one answered right: box 2
    assert len(saves) == 2
    assert [d.question.id for d in due_questions(LESSONS, progress, clock.now)] == ["acked-is-gone", "lifecycle-order"]


def test_a_question_is_asked_as_in_the_lesson() -> None:
    lesson = LESSONS[0]
    quiz = lesson.steps[-1]
    assert isinstance(quiz, QuizStep)
    progress = Progress()
    missed(progress, lesson, "lifecycle-order")
    review = ReviewSession(due_questions(LESSONS, progress, T0), progress, lambda: None, Clock())
    assert isinstance(review.question, Ordering)
    in_lesson = LessonSession(lesson, LabState(), Progress(), lambda: None, start_at="quiz")
    in_lesson.enter()
    while in_lesson.question.id != "lifecycle-order":
        in_lesson.next()
    assert review.options() == in_lesson.options() and review.answer.shuffled == in_lesson.answer.shuffled
    # A multiple-choice answer with nothing ticked is refused here too.
    second, multiple = next(
        (lesson, q)
        for lesson in LESSONS
        for step in lesson.steps
        if isinstance(step, QuizStep)
        for q in step.questions
        if q.kind == "multiple"
    )
    review = ReviewSession([DueQuestion(second, multiple)], Progress(), lambda: None, Clock())
    assert isinstance(review.pick(len(review.options() or []) - 1), Refusal)


def test_right_five_times_a_question_is_learned_and_leaves_the_review() -> None:
    lesson = LESSONS[0]
    progress = Progress()
    missed(progress, lesson, "when-early-ack")
    clock = Clock()
    for box in (1, 2, 3, 4, 5):
        due = due_questions(LESSONS, progress, clock.now)
        assert [d.question.id for d in due] == ["when-early-ack"], box
        review = ReviewSession(due, progress, lambda: None, clock)
        assert review.box.box == box
        right_answer(review)
        question = progress.lessons[lesson.id].questions["when-early-ack"]
        if box < 5:
            assert (
                question.due is not None and due_questions(LESSONS, progress, question.due - timedelta(seconds=1)) == []
            )
            clock.now = question.due
    assert progress.lessons[lesson.id].questions["when-early-ack"].box == 0
    assert due_questions(LESSONS, progress, clock.now + timedelta(days=365)) == []


def test_an_empty_review_is_finished_at_once() -> None:
    review = ReviewSession([], Progress(), lambda: None, Clock())
    assert review.finished and review.next() is Move.END and review.pick(0) is None
