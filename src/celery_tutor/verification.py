"""Prove a lesson's claims on the real lab, headless (``celery-tutor verify``).

For every predict step, the experiment runs on a fresh lab and the expected observation
must hold. For every lab step, the goal must not hold at the step's start and must hold
after its solution. Every numeric answer that names a measurement is measured. A lesson
that says something Celery 5.7 does not do fails here, not in front of a learner.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from celery_tutor.course.conditions import GoalTracker
from celery_tutor.course.model import LabStep, Lesson, Numeric, PredictStep, QuizStep, WrongSolution
from celery_tutor.lab import events as ev
from celery_tutor.lab import settings
from celery_tutor.lab.actions import Action
from celery_tutor.lab.engine import Lab, LabConfig
from celery_tutor.lab.runner import ScriptRunner
from celery_tutor.lab.state import LabState

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
        detail = f" - {self.detail}" if self.detail else ""
        return f"{mark} {self.lesson} / {self.step}: {self.what} ({self.seconds:.1f}s){detail}"


def initial_settings(lesson: Lesson) -> dict[str, object]:
    """Every setting the lab starts with (Celery's defaults, then the lesson's)."""
    return settings.with_defaults(lesson.lab.settings)


def lab_config(lesson: Lesson) -> LabConfig:
    """How the lab starts for this lesson (the app's lesson screen uses it too)."""
    setup = lesson.lab
    return LabConfig(dict(setup.settings), {k: dict(v) for k, v in setup.task_options.items()}, setup.workers)


def fresh_lab(lesson: Lesson) -> Lab:
    """A lab set up the way the lesson starts (not started yet)."""
    return Lab(lab_config(lesson))


def _timed(lesson: Lesson, step: str, what: str, body: Callable[[], tuple[bool, str]]) -> Check:
    started = time.monotonic()
    try:
        ok, detail = body()
    except Exception as exc:  # a crash in a check is a failed check, reported, not a traceback
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return Check(lesson.id, step, what, ok, detail, time.monotonic() - started)


def run_experiment(lesson: Lesson, actions: tuple[Action, ...]) -> tuple[str | None, list[ev.LabEvent]]:
    """Run a script on a fresh lab set up as the lesson says: (the failure, if any; every event)."""
    lab = fresh_lab(lesson)
    runner = ScriptRunner(lab)
    try:
        lab.start()
        failure = runner.run(actions)
        return failure, runner.events
    finally:
        runner.close()
        lab.close()


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
    lab = fresh_lab(lesson)
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
        lab.close()
    for wrong in step.wrong_solutions:
        yield _verify_wrong(lesson, step, wrong)


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
            jobs.append(lambda step=step: [_verify_predict(lesson, step)])
        elif isinstance(step, LabStep):
            jobs.append(lambda step=step: list(_verify_lab(lesson, step)))
        elif isinstance(step, QuizStep):
            for question in step.questions:
                if isinstance(question, Numeric) and question.measure is not None:
                    jobs.append(lambda step=step, q=question: [_verify_numeric(lesson, step, q)])
    return jobs


def verify(lessons: list[Lesson], jobs: int = 4, on_check: Callable[[Check], None] | None = None) -> list[Check]:
    """Check every claim of every lesson (several labs at once); results in lesson order."""
    work = [job for lesson in lessons for job in _jobs(lesson)]
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="celery-tutor-verify") as pool:
        futures = [pool.submit(job) for job in work]
        results: list[Check] = []
        for future in futures:
            for check in future.result():
                results.append(check)
                if on_check is not None:
                    on_check(check)
    return results
