"""A lesson is walked through without Textual and without Celery: shipped lessons, hand-made events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest

from celery_tutor.course.asking import CHECK_MY_ANSWER, Refusal
from celery_tutor.course.loader import load_lesson
from celery_tutor.course.model import (
    Lesson,
    MultipleChoice,
    Numeric,
    Ordering,
    QuizStep,
    SingleChoice,
    TrueFalse,
    takeaway_of,
)
from celery_tutor.course.phases import LabScript, Move, Phase
from celery_tutor.course.scores import QuizScore, Tally
from celery_tutor.course.session import IDLE_CAP, LessonSession
from celery_tutor.lab import events as ev
from celery_tutor.lab.state import LabState
from celery_tutor.paths import bundled_lessons
from celery_tutor.progress import Clock as SessionClock
from celery_tutor.progress import Progress, wall_clock

_seq = count(1)


def e(cls: type[ev.LabEvent], **fields: Any) -> ev.LabEvent:
    return cls(seq=next(_seq), at=0.0, **fields)


def lesson(name: str) -> Lesson:
    return load_lesson(bundled_lessons() / name)


class Walk:
    """A session over a shipped lesson, with the fold and the saves a screen would do."""

    def __init__(self, name: str, start_at: str | None = None, clock: SessionClock = wall_clock) -> None:
        self.progress = Progress()
        self.saves = 0
        self.state = LabState()
        self.session = LessonSession(lesson(name), self.state, self.progress, self.save, start_at, clock)

    def save(self) -> None:
        self.saves += 1

    def feed(self, *events: ev.LabEvent) -> bool:
        for event in events:
            self.state.apply(event)
        return self.session.observe(events)

    def step_progress(self, step_id: str) -> Any:
        return self.progress.lessons[self.session.lesson.id].steps[step_id]


def fresh_lab() -> list[ev.LabEvent]:
    """What a script's reset looks like on the lab's event stream."""
    return [
        e(ev.LabReset),
        e(ev.ConfigChanged, settings={"task_acks_late": False}, complete=True),
        e(ev.WorkerStarted, worker="worker1", concurrency=1, prefetch_multiplier=4),
    ]


def add_runs(task_id: str = "t1") -> list[ev.LabEvent]:
    """One add task, published to succeeded, with early acks."""
    w = "worker1"
    return [
        e(ev.TaskPublished, task_id=task_id, task="add"),
        e(ev.TaskReceived, task_id=task_id, task="add", worker=w, redelivered=False, retries=0),
        e(ev.MessageAcked, task_id=task_id, task="add", worker=w),
        e(ev.TaskStarted, task_id=task_id, task="add", worker=w, run=1, redelivered=False, retries=0),
        e(ev.TaskSucceeded, task_id=task_id, task="add", worker=w, result="5"),
    ]


def test_walk_the_first_lesson_from_reading_to_the_quiz() -> None:
    walk = Walk("01-acknowledgement.yaml")
    session = walk.session
    assert session.enter() is None
    assert (session.step.id, session.step.kind, session.phase) == ("lifecycle", "read", Phase.READING)
    assert walk.step_progress("lifecycle").done and walk.saves == 1
    assert not session.done_before  # done now, by reading it; not before
    session.enter()
    assert session.done_before
    assert walk.progress.lessons["acknowledgement"].current == "lifecycle"
    assert walk.progress.last_lesson == "acknowledgement"

    assert session.next() is Move.STEP
    setup = session.enter()
    assert setup == LabScript("setup", ())
    assert not session.done_before
    assert (session.step.kind, session.phase) == ("lab", Phase.WORKING)
    assert [ok for _, ok in session.goal()] == [False, False, False]

    assert session.next() is Move.STEP and session.enter() is None
    assert session.phase is Phase.ASKING and session.step.kind == "predict"
    assert session.next() is Move.STEP and session.enter() is None
    assert session.step.kind == "quiz" and session.phase is Phase.ASKING
    assert isinstance(session.question, SingleChoice)
    assert session.previous() and session.step.kind == "predict"


def test_a_lab_step_is_done_when_its_goal_holds_from_the_events() -> None:
    walk = Walk("01-acknowledgement.yaml", start_at="send-one")
    session = walk.session
    assert session.enter() == LabScript("setup", ())
    # What the previous step left in the pipe does not count: the goal starts at the reset.
    assert not walk.feed(*add_runs("old"))
    assert session.phase is Phase.WORKING
    assert session.tracker is not None and not session.tracker.armed
    assert not walk.feed(*fresh_lab())  # the reset: the goal starts here, still all ✗
    assert session.tracker.armed
    saves = walk.saves
    published, received, acked, started, succeeded = add_runs()
    assert walk.feed(published)
    assert [ok for _, ok in session.goal()] == [True, False, False]
    assert not walk.feed(received)  # nothing changed on the checklist
    assert walk.feed(acked, started)
    assert session.phase is Phase.WORKING
    assert walk.feed(succeeded)
    assert session.phase is Phase.DONE and session.tracker is not None and session.tracker.satisfied
    assert walk.step_progress("send-one").done and walk.saves == saves + 1
    assert session.next() is Move.STEP


def test_hints_solution_and_restart_of_a_lab_step() -> None:
    walk = Walk("01-acknowledgement.yaml", start_at="send-one")
    session = walk.session
    session.enter()
    assert session.hint() and session.hints() == ("Use the send control listed under the lab panel.",)
    assert session.hint() and len(session.hints()) == 2
    assert not session.hint()  # two hints, no more
    assert walk.step_progress("send-one").hints == 2
    solution = session.solution()
    assert solution is not None and solution.purpose == "solution"
    assert [action.control for action in solution.actions] == ["send", "wait"]
    assert walk.step_progress("send-one").solution_used
    walk.feed(*fresh_lab(), *add_runs())
    assert session.phase is Phase.DONE
    again = session.restart()
    assert again == LabScript("setup", ())
    assert session.phase is Phase.DONE  # reached once, reached for good
    assert [ok for _, ok in session.goal()] == [False, False, False]  # ...but the checklist starts over


def test_a_prediction_is_locked_then_compared_with_what_the_lab_did() -> None:
    walk = Walk("01-acknowledgement.yaml", start_at="predict-prefetch")
    session = walk.session
    session.enter()
    experiment = session.predict(1)  # the right one: prefetched, unacked
    assert experiment is not None and experiment.purpose == "experiment"
    assert [action.control for action in experiment.actions][:3] == ["send", "send", "send"]
    assert session.phase is Phase.RUNNING and session.predict(0) is None  # locked
    w = "worker1"
    reports = []
    for n in (1, 2, 3):
        reports.append(e(ev.TaskPublished, task_id=f"r{n}", task="generate_report", alias=f"report{n}"))
    walk.feed(*fresh_lab(), *reports)
    walk.feed(
        e(ev.TaskReceived, task_id="r1", task="generate_report", worker=w, redelivered=False, retries=0),
        e(ev.TaskStarted, task_id="r1", task="generate_report", worker=w, run=1, redelivered=False, retries=0),
        e(ev.TaskReceived, task_id="r2", task="generate_report", worker=w, redelivered=False, retries=0),
        e(ev.TaskReceived, task_id="r3", task="generate_report", worker=w, redelivered=False, retries=0),
        e(ev.TaskSucceeded, task_id="r1", task="generate_report", worker=w, result="1"),
        e(ev.MessageAcked, task_id="r2", task="generate_report", worker=w),
        e(ev.TaskStarted, task_id="r2", task="generate_report", worker=w, run=1, redelivered=False, retries=0),
    )
    assert session.experiment_done()
    assert session.phase is Phase.RESULT
    assert session.prediction is not None and session.prediction.correct
    assert [ok for _, ok in session.goal()] == [True, True]
    assert walk.step_progress("predict-prefetch").correct is True
    assert not session.experiment_done()  # only once


def test_a_wrong_prediction_is_kept_as_the_first_answer() -> None:
    walk = Walk("01-acknowledgement.yaml", start_at="predict-prefetch")
    session = walk.session
    session.enter()
    session.predict(0)
    session.experiment_done()
    assert session.prediction is not None and not session.prediction.correct
    assert walk.step_progress("predict-prefetch").correct is False
    session.enter()  # again, right this time: the first answer stands
    session.predict(1)
    session.experiment_done()
    assert walk.step_progress("predict-prefetch").correct is False


def answer_right(session: LessonSession) -> None:
    question = session.question
    if isinstance(question, SingleChoice):
        session.pick(next(i for i, c in enumerate(question.choices) if c.correct))
    elif isinstance(question, TrueFalse):
        session.pick(0 if question.answer else 1)
    elif isinstance(question, Ordering):
        for item in question.items:
            session.pick(session.answer.shuffled.index(item))
    elif isinstance(question, Numeric):
        session.give(question.answer)
    elif isinstance(question, MultipleChoice):
        for i, choice in enumerate(question.choices):
            if choice.correct:
                session.pick(i)
        session.pick(len(question.choices))


def test_a_quiz_answered_right_after_one_wrong_answer_is_done_but_not_correct() -> None:
    walk = Walk("01-acknowledgement.yaml", start_at="quiz")
    session = walk.session
    session.enter()
    step = session.step
    assert isinstance(step, QuizStep)
    grade = session.pick(0)  # "when it receives the message": wrong
    assert grade is not None and not grade.correct
    assert grade.feedback == ("Received messages stay unacked; prefetched ones wait unacked too.",)
    assert session.phase is Phase.ANSWERED and session.answer.given == 0
    assert session.question.describe(0) == "When it receives the message from the broker."
    assert session.pick(1) is None  # answered: no second try on this visit
    kinds = []
    while True:
        move = session.next()
        if move is not Move.QUESTION:
            break
        kinds.append(session.question.kind)
        assert session.phase is Phase.ASKING
        answer_right(session)
        assert session.answer.grade is not None and session.answer.grade.correct, session.question.id
    assert move is Move.STEP or move is Move.END
    assert kinds == ["true_false", "ordering", "numeric"]
    progress = walk.step_progress("quiz")
    assert progress.done and progress.correct is False
    assert session.quiz_results == {
        "when-early-ack": False,
        "acked-is-gone": True,
        "lifecycle-order": True,
        "prefetched-back": True,
    }


def test_every_question_right_makes_the_quiz_correct() -> None:
    walk = Walk("01-acknowledgement.yaml", start_at="quiz")
    session = walk.session
    session.enter()
    answer_right(session)
    while session.next() is Move.QUESTION:
        answer_right(session)
    assert walk.step_progress("quiz").correct is True


def test_ordering_is_picked_first_to_last_from_a_shuffled_list() -> None:
    walk = Walk("01-acknowledgement.yaml", start_at="quiz")
    session = walk.session
    session.enter()
    for _ in range(2):
        answer_right(session)
        session.next()
    question = session.question
    assert isinstance(question, Ordering)
    shuffled = session.answer.shuffled
    assert sorted(shuffled) == sorted(question.items) and list(shuffled) != list(question.items)
    assert session.options() == list(shuffled)
    first = shuffled.index(question.items[1])  # "received" first: wrong
    assert session.pick(first) is None
    assert session.pick(first) is None and session.answer.ordered == [first]  # picked once only
    rest = [shuffled.index(item) for item in question.items if item != question.items[1]]
    grades = [session.pick(i) for i in rest]
    assert grades[:-1] == [None] * (len(rest) - 1)
    final = grades[-1]
    assert final is not None and not final.correct
    assert final.feedback == ("3 of 5 are in the right place.",)
    # The same lesson shuffles the same way every time.
    again = Walk("01-acknowledgement.yaml", start_at="quiz").session
    again.enter()
    for _ in range(2):
        answer_right(again)
        again.next()
    assert again.answer.shuffled == shuffled


def test_multiple_choice_ticks_are_data_and_checked_on_demand() -> None:
    walk = Walk("02b-pool-children-and-countdowns.yaml", start_at="quiz")
    session = walk.session
    session.enter()
    while not isinstance(session.question, MultipleChoice):
        answer_right(session)
        assert session.next() is Move.QUESTION
    question = session.question
    assert isinstance(question, MultipleChoice)
    options = session.options()
    assert options is not None and options[-1] == CHECK_MY_ANSWER and len(options) == len(question.choices) + 1
    assert session.pick(0) is None and session.pick(1) is None and session.pick(0) is None  # tick, tick, untick
    assert session.answer.ticked == {1}
    grade = session.pick(len(question.choices))  # check my answer: B only, C missed
    assert grade is not None and not grade.correct
    assert grade.feedback[0] == "You missed 1 correct choice."
    assert session.answer.given == {1}
    assert question.describe(session.answer.given) == "B, the prefetched message"


def test_a_number_is_graded_with_its_known_wrong_answers() -> None:
    walk = Walk("01-acknowledgement.yaml", start_at="quiz")
    session = walk.session
    session.enter()
    while not isinstance(session.question, Numeric):
        answer_right(session)
        session.next()
    assert session.options() is None
    grade = session.give(5.0)
    assert grade is not None and not grade.correct
    assert grade.feedback == ("The running task was acked when it started. It is lost, not redelivered.",)
    assert session.question.right_answer() == "4 messages"
    assert session.next() is Move.END  # the last step of the lesson


@pytest.mark.parametrize("name", sorted(p.name for p in bundled_lessons().glob("*.yaml")))
def test_every_shipped_lesson_can_be_walked_to_its_end(name: str) -> None:
    walk = Walk(name)
    session = walk.session
    session.enter()
    steps = 1
    while True:
        if session.step.kind == "quiz":
            answer_right(session)
        move = session.next()
        if move is Move.END:
            break
        if move is Move.STEP:
            session.enter()
            steps += 1
    assert steps == len(session.lesson.steps)
    assert session.source_task() is not None


def test_next_skips_an_unanswered_question_and_the_quiz_is_done_only_when_all_are_answered() -> None:
    walk = Walk("03-idempotence.yaml", start_at="quiz")
    session = walk.session
    session.enter()
    step = session.step
    assert isinstance(step, QuizStep)
    for number in range(1, len(step.questions)):
        assert session.phase is Phase.ASKING
        assert session.next() is Move.QUESTION
        assert session.question_index == number
    assert not walk.step_progress("quiz").done  # nothing answered, nothing done
    answer_right(session)
    progress = walk.step_progress("quiz")
    assert not progress.done and progress.correct is None  # the skipped ones are still to answer
    assert session.next() is Move.END
    assert not session.summary().complete
    assert session.summary().missing[-1] == "6 unanswered questions in the quiz of step 8"
    session.enter()  # back in the quiz: at the first question left
    assert session.question_index == 0
    while True:
        answer_right(session)
        if session.next() is not Move.QUESTION:
            break
    assert walk.step_progress("quiz").done and walk.step_progress("quiz").correct is True
    assert session.summary().quiz == QuizScore(7, 7, 7)


def test_checking_a_multiple_choice_with_nothing_ticked_is_refused_not_graded() -> None:
    walk = Walk("03-idempotence.yaml", start_at="quiz")
    session = walk.session
    session.enter()
    session.next()
    question = session.question
    assert isinstance(question, MultipleChoice)
    refused = session.pick(len(question.choices))
    assert isinstance(refused, Refusal) and "ticked" in refused.reason
    assert session.phase is Phase.ASKING and session.answer.grade is None
    session.pick(0)
    grade = session.pick(len(question.choices))
    assert grade is not None and not isinstance(grade, Refusal) and session.phase is Phase.ANSWERED


def test_a_question_left_behind_takes_no_answer_and_shows_none_in_the_next_step() -> None:
    walk = Walk("01-acknowledgement.yaml", start_at="quiz")
    session = walk.session
    session.enter()
    assert session.pick(0) is not None and session.answer.grade is not None
    assert session.previous() and session.enter() is None
    assert session.step.kind == "predict" and session.phase is Phase.ASKING
    assert session.answer.grade is None and session.answer.given is None  # the quiz's answer is not this step's
    assert session.pick(0) is None and session.give(0) is None
    assert session.choice is None  # no prediction locked by a quiz answer


@pytest.mark.parametrize(
    ("name", "step_id", "task"),
    [
        ("03-idempotence.yaml", "at-least-once", "charge_card"),  # names none: the lesson's first
        ("03-idempotence.yaml", "idempotency-key", "charge_card_idempotent"),
        ("05-retry-as-a-task-option.yaml", "autoretry", "send_receipt"),
        ("05-retry-as-a-task-option.yaml", "predict-call-limit", "notify_warehouse"),  # what it sends
    ],
)
def test_the_code_panel_shows_the_task_a_step_names_or_sends(name: str, step_id: str, task: str) -> None:
    session = Walk(name, start_at=step_id).session
    session.enter()
    assert session.source_task() == task


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def walk_lesson_1(clock: Clock) -> Walk:
    """Lesson 1 from start to end: the lab goal reached, the right prediction, one quiz answer wrong."""
    walk = Walk("01-acknowledgement.yaml", clock=clock)
    session = walk.session
    session.enter()  # the read step
    clock.advance(seconds=40)
    assert session.next() is Move.STEP
    session.enter()  # the lab step
    walk.feed(*fresh_lab(), *add_runs())
    assert session.phase is Phase.DONE
    clock.advance(minutes=2)
    assert session.next() is Move.STEP
    session.enter()  # the prediction
    session.predict(1)
    session.experiment_done()
    clock.advance(hours=3)  # the learner went away
    assert session.next() is Move.STEP
    session.enter()  # the quiz: the first answer wrong, the rest right
    session.pick(0)
    while session.next() is Move.QUESTION:
        clock.advance(seconds=10)
        answer_right(session)
    return walk


def test_a_lesson_walked_to_its_end_sums_up_scores_goals_and_takeaways() -> None:
    clock = Clock()
    walk = walk_lesson_1(clock)
    summary = walk.session.summary()
    assert summary.complete and summary.missing == ()
    assert (summary.predictions, summary.goals, summary.quiz) == (Tally(1, 1), Tally(1, 1), QuizScore(3, 4, 4))
    assert summary.to_review == 1
    lesson = walk.session.lesson
    assert summary.takeaways == tuple(takeaway_of(step) for step in lesson.steps if step.kind != "quiz")
    assert len(summary.takeaways) == 3


def test_a_missed_question_goes_to_box_1_at_the_clocks_time_and_a_right_one_to_none() -> None:
    clock = Clock()
    walk = walk_lesson_1(clock)
    questions = walk.progress.lessons["acknowledgement"].questions
    missed = questions["when-early-ack"]
    assert (missed.correct, missed.box) == (False, 1)
    assert missed.due == missed.changed == datetime(2026, 11, 24, 12, 2, 40, tzinfo=UTC)
    assert all(questions[q].correct is True and questions[q].box == 0 for q in ("acked-is-gone", "prefetched-back"))


def test_time_in_a_lesson_counts_an_idle_stretch_a_few_minutes_at_most() -> None:
    clock = Clock()
    walk = walk_lesson_1(clock)
    walk.session.leave()
    # 40 s, 2 min, 3 h read as 5 min, then three questions 10 s apart
    assert walk.progress.lessons["acknowledgement"].seconds == 40 + 120 + IDLE_CAP.total_seconds() + 30


def test_a_lesson_not_finished_says_what_is_left_and_where_to_go_back() -> None:
    walk = Walk("01-acknowledgement.yaml")
    session = walk.session
    session.enter()
    while session.next() is Move.STEP:
        session.enter()  # the lab goal not reached, no prediction made, the quiz skipped
    summary = session.summary()
    assert not summary.complete
    assert summary.missing == (
        "the lab goal of step 2",
        "the prediction of step 3",
        "4 unanswered questions in the quiz of step 4",
    )
    assert (summary.predictions, summary.goals, summary.quiz) == (Tally(0, 1), Tally(0, 1), QuizScore(0, 4, 0))
    assert summary.quiz.answered_note == " (0 answered)"
    assert session.first_unfinished() == 1
    session.go_to(1)
    session.enter()
    assert session.step.id == "send-one"
