"""Prove a lesson's claims on the real lab, headless (``celery-tutor verify``).

For every predict step, the experiment runs on a fresh lab and the expected observation
must hold. For every lab step, the goal must not hold at the step's start and must hold
after its solution. Every numeric answer that names a measurement is measured. A lesson
that says something Celery 5.7 does not do fails here, not in front of a learner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any

from celery_tutor.course.conditions import GoalTracker
from celery_tutor.course.model import LabStep, Lesson, Numeric, PredictStep, QuizStep, WrongSolution
from celery_tutor.lab import events as ev
from celery_tutor.lab.actions import Action
from celery_tutor.lab.engine import Lab, LabConfig
from celery_tutor.lab.runner import ScriptRunner
from celery_tutor.lab.state import LabState
from celery_tutor.yaml_source import shorten

GOAL_TIMEOUT = 15.0
"""How long the goal may take to hold after a lab step's solution ran."""


@dataclass(frozen=True)
class Check:
    """The outcome of one claim."""

    lesson: str
    step: str
    what: str
    ok: bool
    detail: str
    seconds: float

    def line(self) -> str:
        """One line for the terminal."""
        mark = "ok  " if self.ok else "FAIL"
        detail = f" - {shorten(self.detail)}" if self.detail else ""  # it may quote a lesson's names
        return f"{mark} {self.lesson} / {self.step}: {self.what} ({self.seconds:.1f}s){detail}"


def lab_config(lesson: Lesson) -> LabConfig:
    """How the lab starts for this lesson (the app's lesson screen uses it too)."""
    setup = lesson.lab
    options = {task: dict(values) for task, values in setup.task_options.items()}
    return LabConfig(dict(setup.settings), options, setup.workers, setup.broker)


def fresh_lab(lesson: Lesson) -> Lab:
    """A lab set up the way the lesson starts (not started yet)."""
    return Lab(lab_config(lesson))


class _Interrupted(Exception):
    """Raised in a check's thread when the run was interrupted: no new lab may start."""


class _OpenLabs:
    """The labs verify's checks have open, so that an interrupted run can close them all.

    A check may be stuck in a long wait; its thread cannot be stopped, but its lab can be
    closed, and no check may start a new lab once the run is interrupted.
    """

    def __init__(self, make_lab: Callable[[LabConfig], Lab] | None = None) -> None:
        self._lock = threading.Lock()
        self._labs: set[Lab] = set()
        self._stopped = False
        self._make_lab = make_lab

    @contextmanager
    def lab(self, lesson: Lesson) -> Iterator[Lab]:
        """A fresh lab for the lesson, closed afterwards."""
        with self._lock:
            if self._stopped:
                raise _Interrupted
            lab = fresh_lab(lesson) if self._make_lab is None else self._make_lab(lab_config(lesson))
            self._labs.add(lab)
        try:
            yield lab
        finally:
            with self._lock:
                self._labs.discard(lab)
            lab.close()

    def stop(self) -> None:
        """Close every open lab; refuse new ones."""
        with self._lock:
            self._stopped = True
            labs = list(self._labs)
        closers = [threading.Thread(target=lab.close, name="celery-tutor-verify-close") for lab in labs]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join(5)


_RUN_LABS: ContextVar[_OpenLabs | None] = ContextVar("celery_tutor_verify_labs", default=None)
"""The open labs of the verify run whose thread this is (None outside a run)."""


def _open_lab(lesson: Lesson) -> AbstractContextManager[Lab]:
    return (_RUN_LABS.get() or _OpenLabs()).lab(lesson)


def _timed(lesson: Lesson, step: str, what: str, body: Callable[[], tuple[bool, str]]) -> Check:
    started = time.monotonic()
    try:
        ok, detail = body()
    except Exception as exc:  # a crash in a check is a failed check, reported, not a traceback
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return Check(lesson.id, step, what, ok, detail, time.monotonic() - started)


def run_experiment(lesson: Lesson, actions: tuple[Action, ...]) -> tuple[str | None, list[ev.LabEvent]]:
    """Run a script on a fresh lab set up as the lesson says: (the failure, if any; every event)."""
    with _open_lab(lesson) as lab:
        runner = ScriptRunner(lab)
        try:
            lab.start()
            failure = runner.run(actions)
            return failure, runner.events
        finally:
            runner.close()


def _verify_predict(lesson: Lesson, step: PredictStep) -> Check:
    def body() -> tuple[bool, str]:
        failure, events = run_experiment(lesson, step.experiment)
        if failure:
            return False, f"the experiment failed: {failure}"
        tracker = _fold(step.expect, lesson, events)
        missed = [condition.label for condition, ok in tracker.results() if not ok]
        return not missed, "not observed: " + "; ".join(missed) if missed else ""

    return _timed(lesson, step.id, "the experiment shows what the lesson says", body)


def _fold(conditions: tuple, lesson: Lesson, events: list[ev.LabEvent]) -> GoalTracker:
    state = LabState()  # the lab reports its whole configuration as its first event
    tracker = GoalTracker(conditions, state)
    for event in events:
        state.apply(event)
        tracker.observe(event)
    return tracker


def _verify_lab(lesson: Lesson, step: LabStep) -> Iterator[Check]:
    with _open_lab(lesson) as lab:
        yield from _verify_lab_on(lab, lesson, step)
    for wrong in step.wrong_solutions:
        yield _verify_wrong(lesson, step, wrong)


def _verify_lab_on(lab: Lab, lesson: Lesson, step: LabStep) -> Iterator[Check]:
    runner = ScriptRunner(lab)
    state = LabState()
    tracker = GoalTracker(step.goal, state)
    fed = 0

    def feed(events: list[ev.LabEvent]) -> bool:
        nonlocal fed
        for event in events[fed:]:
            state.apply(event)
            tracker.observe(event)
        fed = len(events)
        return tracker.satisfied

    try:
        lab.start()

        def at_start() -> tuple[bool, str]:
            failure = runner.run(step.setup)
            if failure:
                return False, f"the setup failed: {failure}"
            if feed(runner.events):
                return False, "the goal already holds before the learner did anything"
            return True, ""

        start = _timed(lesson, step.id, "the goal does not hold at the start", at_start)
        yield start

        def after_solution() -> tuple[bool, str]:
            failure = runner.run(step.solution)
            if failure:
                return False, f"the solution failed: {failure}"
            if runner.wait_for(feed, GOAL_TIMEOUT):
                return True, ""
            missed = [condition.label for condition, ok in tracker.results() if not ok]
            return False, f"after {GOAL_TIMEOUT:g}s still not: " + "; ".join(missed)

        yield _timed(lesson, step.id, "the solution reaches the goal", after_solution)
    finally:
        runner.close()


def _verify_wrong(lesson: Lesson, step: LabStep, wrong: WrongSolution) -> Check:
    def body() -> tuple[bool, str]:
        failure, events = run_experiment(lesson, (*step.setup, *wrong.script))
        if failure:
            return False, f"the wrong solution's script failed: {failure}"
        tracker = _fold(step.goal, lesson, events)
        return not tracker.satisfied, "it reaches the goal after all" if tracker.satisfied else ""

    return _timed(lesson, step.id, f"a wrong solution does not reach the goal ({wrong.why})", body)


def measure(lesson: Lesson, question: Numeric) -> float:
    """Run a numeric question's experiment and read the number it asks about."""
    assert question.measure is not None
    spec = question.measure
    failure, events = run_experiment(lesson, spec.experiment)
    if failure:
        raise RuntimeError(f"the experiment failed: {failure}")
    tracker = _fold((), lesson, events)
    if spec.count is not None:
        match = spec.count.match  # type: ignore[attr-defined]
        return float(sum(1 for event in events if match.matches(event, tracker.state.aliases)))
    assert spec.retry_countdown is not None
    alias, retry = spec.retry_countdown
    task_id = tracker.state.aliases.get(alias)
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

    return _timed(lesson, f"{step.id}/{question.id}", "the numeric answer matches the lab", body)


def _jobs(lesson: Lesson) -> list[Callable[[], list[Check]]]:
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
    return jobs


def _listed(check: Callable[..., Check], *args: Any) -> list[Check]:
    return [check(*args)]


def _all(checks: Callable[..., Iterator[Check]], *args: Any) -> list[Check]:
    return list(checks(*args))


def verify(
    lessons: list[Lesson],
    jobs: int = 4,
    on_check: Callable[[Check], None] | None = None,
    make_lab: Callable[[LabConfig], Lab] | None = None,
) -> list[Check]:
    """Check every claim of every lesson (several labs at once); results in lesson order.

    ``make_lab`` builds each check's lab (default: the in-process lab the lesson describes);
    ``verify --broker`` passes one that runs real workers on a real broker.

    Ctrl-C (KeyboardInterrupt) stops the run at once: the labs are closed, no further check
    starts, and the interrupt goes on to the caller. The checks run on daemon threads, so a
    check stuck in a long wait cannot keep the process alive (a thread pool's threads would
    be waited for at exit).
    """
    work = [job for lesson in lessons for job in _jobs(lesson)]
    labs = _OpenLabs(make_lab)
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

    def __init__(self, work: list[Callable[[], list[Check]]], threads: int, labs: _OpenLabs) -> None:
        self._work = work
        self._labs = labs
        self._done: dict[int, list[Check] | BaseException] = {}
        self._changed = threading.Condition()
        self._next = 0
        self._stopped = False
        for number in range(min(threads, len(work))):
            threading.Thread(target=self._run, name=f"celery-tutor-verify-{number}", daemon=True).start()

    def _run(self) -> None:
        _RUN_LABS.set(self._labs)  # this thread's checks open their labs in this run
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
