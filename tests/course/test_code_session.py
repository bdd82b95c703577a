"""A code step walked through without Textual and without Celery: the screen's part is played by hand."""

from __future__ import annotations

from itertools import count
from pathlib import Path
from typing import Any

from celery_tutor.course.code_step import CodeStep
from celery_tutor.course.loader import load_lesson
from celery_tutor.course.phases import LabScript, Phase
from celery_tutor.course.session import LessonSession
from celery_tutor.lab import events as ev
from celery_tutor.lab.code_source import CodeProblem
from celery_tutor.lab.limits import MAX_CODE_CHARS
from celery_tutor.lab.state import LabState
from celery_tutor.progress import Progress

LESSON = Path(__file__).parents[1] / "data" / "code-lessons" / "01-write-a-retry.yaml"
_seq = count(1)


def e(cls: type[ev.LabEvent], **fields: Any) -> ev.LabEvent:
    return cls(seq=next(_seq), at=0.0, **fields)


class Walk:
    """A session at the fixture's code step, folding events into whichever lab state is current."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress or Progress()
        self.saves = 0
        self.state = LabState()
        self.session = LessonSession(load_lesson(LESSON), self.state, self.progress, self.save, "write-it")

    def save(self) -> None:
        self.saves += 1

    @property
    def step(self) -> CodeStep:
        step = self.session.step
        assert isinstance(step, CodeStep)
        return step

    def run(self) -> LabScript | None:
        """What the screen does once the code compiled: a fresh lab, its own state."""
        self.state = LabState()
        self.session.lab_replaced(self.state)
        assert self.session.code is not None
        return self.session.code.started()

    def feed(self, *events: ev.LabEvent) -> bool:
        for event in events:
            self.state.apply(event)
        return self.session.observe(events)


def retried_and_succeeded() -> list[ev.LabEvent]:
    w, task = "worker1", "fetch_exchange_rate"
    return [
        e(ev.WorkerStarted, worker=w, concurrency=1, prefetch_multiplier=4),
        e(ev.TaskPublished, task_id="r1", task=task, alias="rate"),
        e(ev.TaskReceived, task_id="r1", task=task, worker=w, redelivered=False, retries=0),
        e(ev.TaskStarted, task_id="r1", task=task, worker=w, run=1, redelivered=False, retries=0),
        e(
            ev.RetryScheduled,
            task_id="r1",
            task=task,
            worker=w,
            attempt=1,
            max_retries=3,
            countdown=1.0,
            eta_at=1.0,
            exc_type="ConnectionError",
            exc_message="down",
        ),
        e(ev.TaskStarted, task_id="r1", task=task, worker=w, run=2, redelivered=False, retries=1),
        e(ev.TaskSucceeded, task_id="r1", task=task, worker=w, result="1.1"),
    ]


def test_entering_a_code_step_runs_nothing_and_shows_the_starter() -> None:
    walk = Walk()
    assert walk.session.enter() is None  # no lab script until the learner runs the code
    code = walk.session.code
    assert code is not None and code.source == walk.step.starter.source and not code.edited
    assert walk.session.phase is Phase.WORKING
    assert [ok for _, ok in walk.session.goal()] == [False, False]
    assert walk.session.source_task() == "fetch_exchange_rate"


def test_the_goal_is_tracked_only_after_a_run_and_the_step_is_done_when_it_holds() -> None:
    walk = Walk()
    walk.session.enter()
    assert not walk.feed(*retried_and_succeeded())  # the lesson's own lab: not the learner's code
    assert walk.session.phase is Phase.WORKING
    script = walk.run()
    assert script == LabScript("code", walk.step.experiment)
    assert walk.session.code is not None and walk.session.code.running
    saves = walk.saves
    assert walk.feed(*retried_and_succeeded())
    assert walk.session.phase is Phase.DONE
    assert [ok for _, ok in walk.session.goal()] == [True, True]
    assert walk.progress.lessons["write-a-retry"].steps["write-it"].done and walk.saves > saves
    assert walk.session.code.ended(None) and not walk.session.code.running
    assert not walk.session.code.ended(None)  # only once per run


def test_the_code_is_kept_in_the_progress_and_found_again_on_the_next_visit() -> None:
    walk = Walk()
    walk.session.enter()
    code = walk.session.code
    assert code is not None
    saves = walk.saves
    assert code.keep("# mine\n" + code.source)
    assert walk.saves == saves + 1
    assert code.keep("# mine\n" + walk.step.starter.source) and walk.saves == saves + 1  # unchanged: no save
    again = Walk(walk.progress)
    again.session.enter()
    assert again.session.code is not None and again.session.code.source.startswith("# mine\n")
    assert again.session.code.reset() == walk.step.starter.source
    assert walk.progress.lessons["write-a-retry"].steps["write-it"].code is None
    assert not code.keep("x" * (MAX_CODE_CHARS + 1))  # over the limit: not kept, the last one stays
    assert walk.progress.lessons["write-a-retry"].steps["write-it"].code is None


def test_a_problem_is_kept_until_the_next_run_and_a_timeout_is_told() -> None:
    walk = Walk()
    walk.session.enter()
    code = walk.session.code
    assert code is not None
    problem = CodeProblem(3, 5, "invalid syntax")
    code.refused(problem)
    assert code.problem == problem and not code.running and code.runs == 0
    walk.run()
    assert code.problem is None and code.runs == 1
    message = "task fetch_exchange_rate ran for more than 10 s"
    walk.feed(e(ev.CodeTimedOut, task_id="r1", task="fetch_exchange_rate", worker="w", seconds=10.0, message=message))
    assert code.halted == message
    code.ended("line 26: " + message)
    assert code.failure == "line 26: " + message and walk.session.phase is Phase.WORKING
    walk.run()
    assert code.halted is None and code.failure is None  # a new run starts clean


def test_hints_ladder_and_the_solution_fills_the_editor_and_counts_as_revealed() -> None:
    walk = Walk()
    walk.session.enter()
    assert walk.session.hint() and walk.session.hints() == walk.step.hints[:1]
    assert walk.session.hint() and not walk.session.hint()
    code = walk.session.code
    assert code is not None
    assert code.reveal_solution() == walk.step.solution.source
    step = walk.progress.lessons["write-a-retry"].steps["write-it"]
    assert step.solution_used and step.hints == 2 and step.code == walk.step.solution.source
    assert code.source == walk.step.solution.source


def test_leaving_a_code_step_forgets_its_work_but_not_its_code() -> None:
    walk = Walk()
    walk.session.enter()
    assert walk.session.code is not None and walk.session.code.keep("# kept\n")
    walk.session.next()
    walk.session.enter()
    assert walk.session.code is None
    walk.session.previous()
    walk.session.enter()
    assert walk.session.code is not None and walk.session.code.source == "# kept\n"
