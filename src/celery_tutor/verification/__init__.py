"""Prove a lesson's claims on the real lab, headless (``celery-tutor verify``).

For every predict step, the experiment runs on a fresh lab and the expected observation
must hold. For every lab step, the goal must not hold at the step's start and must hold
after its solution. For every code step, the starter and each wrong solution must miss
the goal and the reference solution must reach it (:mod:`.code_steps`). Every numeric
answer that names a measurement is measured. A lesson that says something Celery 5.7 does
not do fails here, not in front of a learner. The labs and the goal watching all kinds of
check share are in :mod:`.run`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from celery_tutor.course.code_step import CodeStep
from celery_tutor.course.model import LabStep, Lesson, Numeric, PredictStep, QuizStep, WrongSolution
from celery_tutor.lab import events as ev
from celery_tutor.lab.actions import Action
from celery_tutor.lab.engine import Lab
from celery_tutor.lab.lab_config import LabConfig
from celery_tutor.lesson_labs import lab_config
from celery_tutor.verification.code_steps import code_step_checks
from celery_tutor.verification.run import GOAL_TIMEOUT, RUN_LABS, Check, OpenLabs, goal_run, run_to_end, timed

__all__ = ["GOAL_TIMEOUT", "Check", "code_steps_of", "measure", "run_experiment", "verify"]


def run_experiment(lesson: Lesson, actions: tuple[Action, ...]) -> tuple[str | None, list[ev.LabEvent]]:
    """Run a script on a fresh lab set up as the lesson says: (the failure, if any; every event)."""
    with goal_run(lab_config(lesson), ()) as run:
        return run.run(actions), run.events


def _verify_predict(lesson: Lesson, step: PredictStep) -> Check:
    def body() -> tuple[bool, str]:
        with goal_run(lab_config(lesson), step.expect) as run:
            failure = run.run(step.experiment)
            if failure:
                return False, f"the experiment failed: {failure}"
            run.holds()
            missed = run.missed()
        return not missed, "not observed: " + "; ".join(missed) if missed else ""

    return timed(lesson, step.id, "the experiment shows what the lesson says", body)


def _verify_lab(lesson: Lesson, step: LabStep) -> Iterator[Check]:
    with goal_run(lab_config(lesson), step.goal) as run:

        def at_start() -> tuple[bool, str]:
            failure = run.run(step.setup)
            if failure:
                return False, f"the setup failed: {failure}"
            if run.holds():
                return False, "the goal already holds before the learner did anything"
            return True, ""

        yield timed(lesson, step.id, "the goal does not hold at the start", at_start)

        yield timed(
            lesson, step.id, "the solution reaches the goal", lambda: run.reaches(step.solution, "the solution")
        )
    for wrong in step.wrong_solutions:
        yield _verify_wrong(lesson, step, wrong)


def _verify_wrong(lesson: Lesson, step: LabStep, wrong: WrongSolution) -> Check:
    def body() -> tuple[bool, str]:
        failure, reached = run_to_end(lab_config(lesson), (*step.setup, *wrong.script), step.goal)
        if failure:
            return False, f"the wrong solution's script failed: {failure}"
        return not reached, "it reaches the goal after all" if reached else ""

    return timed(lesson, step.id, f"a wrong solution does not reach the goal ({wrong.why})", body)


def measure(lesson: Lesson, question: Numeric) -> float:
    """Run a numeric question's experiment and read the number it asks about."""
    assert question.measure is not None
    spec = question.measure
    with goal_run(lab_config(lesson), ()) as run:
        failure = run.run(spec.experiment)
        run.holds()  # folds every event: the aliases the script gave
        events, aliases = run.events, run.state.aliases
    if failure:
        raise RuntimeError(f"the experiment failed: {failure}")
    if spec.count is not None:
        match = spec.count.match  # type: ignore[attr-defined]
        return float(sum(1 for event in events if match.matches(event, aliases)))
    assert spec.retry_countdown is not None
    alias, retry = spec.retry_countdown
    task_id = aliases.get(alias)
    for event in events:
        if not isinstance(event, ev.RetryScheduled) or event.attempt != retry:
            continue
        if event.task_id == task_id if task_id is not None else event.task == alias:
            return event.countdown
    raise RuntimeError(f"no retry {retry} of {alias} happened")


def _verify_numeric(lesson: Lesson, step: QuizStep, question: Numeric) -> Check:
    def body() -> tuple[bool, str]:
        value = measure(lesson, question)
        ok = abs(value - question.answer) <= question.tolerance + 1e-9
        return (
            ok,
            "" if ok else f"the lab measured {value:g}, the lesson says {question.answer:g} ± {question.tolerance:g}",
        )

    return timed(lesson, f"{step.id}/{question.id}", "the numeric answer matches the lab", body)


def _jobs(lesson: Lesson, code_steps: bool = True) -> list[Callable[[], list[Check]]]:
    jobs: list[Callable[[], list[Check]]] = []
    for step in lesson.steps:
        if isinstance(step, PredictStep):
            jobs.append(partial(_listed, _verify_predict, lesson, step))
        elif isinstance(step, LabStep):
            jobs.append(partial(_all, _verify_lab, lesson, step))
        elif isinstance(step, QuizStep):
            for question in step.questions:
                if isinstance(question, Numeric) and question.measure is not None:
                    jobs.append(partial(_listed, _verify_numeric, lesson, step, question))
        elif isinstance(step, CodeStep) and code_steps:
            jobs.extend(partial(_listed, check) for check in code_step_checks(lesson, step))
    return jobs


def code_steps_of(lessons: list[Lesson]) -> list[tuple[Lesson, str]]:
    """Each lesson's code steps, by id: what ``verify(code_steps=False)`` leaves out."""
    return [(lesson, step.id) for lesson in lessons for step in lesson.steps if isinstance(step, CodeStep)]


def _listed(check: Callable[..., Check], *args: Any) -> list[Check]:
    return [check(*args)]


def _all(checks: Callable[..., Iterator[Check]], *args: Any) -> list[Check]:
    return list(checks(*args))


def verify(
    lessons: list[Lesson],
    jobs: int = 4,
    on_check: Callable[[Check], None] | None = None,
    make_lab: Callable[[LabConfig], Lab] | None = None,
    code_steps: bool = True,
) -> list[Check]:
    """Check every claim of every lesson (several labs at once); results in lesson order.

    ``make_lab`` builds each check's lab (default: the in-process lab the lesson describes);
    ``verify --broker`` passes one that runs real workers on a real broker, and
    ``code_steps=False``: the learner's own code runs only in the in-process lab.

    Ctrl-C (KeyboardInterrupt) stops the run at once: the labs are closed, no further check
    starts, and the interrupt goes on to the caller. The checks run on daemon threads, so a
    check stuck in a long wait cannot keep the process alive (a thread pool's threads would
    be waited for at exit).
    """
    work = [job for lesson in lessons for job in _jobs(lesson, code_steps)]
    labs = OpenLabs(make_lab or Lab)
    pool = _Pool(work, max(1, jobs), labs)
    results: list[Check] = []
    try:
        for index in range(len(work)):
            for check in pool.result(index):
                results.append(check)
                if on_check is not None:
                    on_check(check)
    except BaseException:
        pool.stop()
        labs.stop()
        raise
    return results


class _Pool:
    """Runs jobs on daemon threads, a few at a time, in order; results are read in order."""

    def __init__(self, work: list[Callable[[], list[Check]]], threads: int, labs: OpenLabs) -> None:
        self._work = work
        self._labs = labs
        self._done: dict[int, list[Check] | BaseException] = {}
        self._changed = threading.Condition()
        self._next = 0
        self._stopped = False
        for number in range(min(threads, len(work))):
            threading.Thread(target=self._run, name=f"celery-tutor-verify-{number}", daemon=True).start()

    def _run(self) -> None:
        RUN_LABS.set(self._labs)  # this thread's checks open their labs in this run
        while True:
            with self._changed:
                if self._stopped or self._next >= len(self._work):
                    return
                index, self._next = self._next, self._next + 1
            outcome: list[Check] | BaseException
            try:
                outcome = self._work[index]()
            except BaseException as exc:  # handed to the reader, raised there
                outcome = exc
            with self._changed:
                self._done[index] = outcome
                self._changed.notify_all()

    def result(self, index: int) -> list[Check]:
        """The checks of job ``index``, once it is done (its exception, if it raised one)."""
        with self._changed:
            while index not in self._done:
                self._changed.wait()
            outcome = self._done.pop(index)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def stop(self) -> None:
        """Start no more jobs."""
        with self._changed:
            self._stopped = True
