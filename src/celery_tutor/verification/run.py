"""What every ``verify`` check stands on: a fresh lab per claim, and a script run with a goal watched.

Predict steps, lab steps, code steps and measured answers all prove their claims the same
way: start a lab from a :class:`~celery_tutor.lab.lab_config.LabConfig` (the lesson's, or
a code step's with the learner's tasks), run a script on it while the conditions are
folded event by event, and read which conditions hold. Keeping that in one place means a
lab step and a code step are judged by the same rules, and Ctrl-C closes every lab any
kind of check has open.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from celery_tutor.course.conditions import Condition, GoalTracker
from celery_tutor.course.model import Lesson
from celery_tutor.lab import events as ev
from celery_tutor.lab.actions import Action
from celery_tutor.lab.engine import Lab
from celery_tutor.lab.lab_config import LabConfig
from celery_tutor.lab.runner import ScriptRunner
from celery_tutor.lab.state import LabState
from celery_tutor.yaml_source import shorten

GOAL_TIMEOUT = 15.0
"""How long a goal may take to hold after a lab step's solution, or a code step's experiment, ran."""


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


def timed(lesson: Lesson, step: str, what: str, body: Callable[[], tuple[bool, str]]) -> Check:
    """Run one claim's body, timed; a crash in it is a failed check, reported, not a traceback."""
    started = time.monotonic()
    try:
        ok, detail = body()
    except Exception as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return Check(lesson.id, step, what, ok, detail, time.monotonic() - started)


class Interrupted(Exception):
    """Raised in a check's thread when the run was interrupted: no new lab may start."""


class OpenLabs:
    """The labs verify's checks have open, so that an interrupted run can close them all.

    A check may be stuck in a long wait; its thread cannot be stopped, but its lab can be
    closed, and no check may start a new lab once the run is interrupted.
    """

    def __init__(self, make_lab: Callable[[LabConfig], Lab] = Lab) -> None:
        self._lock = threading.Lock()
        self._labs: set[Lab] = set()
        self._stopped = False
        self._make_lab = make_lab
        """Builds each lab: the in-process lab, or real worker processes on a broker (``verify --broker``)."""

    @contextmanager
    def lab(self, config: LabConfig) -> Iterator[Lab]:
        """A fresh lab set up as ``config`` says (not started yet), closed afterwards."""
        with self._lock:
            if self._stopped:
                raise Interrupted
            lab = self._make_lab(config)
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


RUN_LABS: ContextVar[OpenLabs | None] = ContextVar("celery_tutor_verify_labs", default=None)
"""The open labs of the verify run whose thread this is (None outside a run)."""


class GoalRun:
    """Scripts run on one started lab while conditions are folded, event by event, as they happen.

    The lab reports its whole configuration as its first event, so the state built here
    from the events alone is the lab's own.
    """

    def __init__(self, lab: Lab, conditions: tuple[Condition, ...]) -> None:
        self.runner = ScriptRunner(lab)  # before the lab starts: it must see the first event
        self.state = LabState()
        self.tracker = GoalTracker(conditions, self.state)
        self._fed = 0

    def run(self, script: tuple[Action, ...]) -> str | None:
        """Run a script; its first failure, if any."""
        return self.runner.run(script)

    def _feed(self, events: list[ev.LabEvent]) -> bool:
        for event in events[self._fed :]:
            self.state.apply(event)
            self.tracker.observe(event)
        self._fed = len(events)
        return self.tracker.satisfied

    def holds(self) -> bool:
        """Whether every condition holds on the events so far."""
        return self._feed(self.runner.events)

    def wait(self, timeout: float) -> bool:
        """Whether every condition holds within ``timeout`` seconds."""
        return self.runner.wait_for(self._feed, timeout)

    @property
    def events(self) -> list[ev.LabEvent]:
        """Every event of the lab so far."""
        return self.runner.events

    def missed(self) -> list[str]:
        """The labels of the conditions that do not hold (as of the last look)."""
        return [condition.label for condition, ok in self.tracker.results() if not ok]

    def reaches(self, script: tuple[Action, ...], what: str) -> tuple[bool, str]:
        """Run ``what`` (a solution) and give the goal :data:`GOAL_TIMEOUT` (or the lab's wait floor) to hold."""
        failure = self.run(script)
        if failure:
            return False, f"{what} failed: {failure}"
        timeout = max(GOAL_TIMEOUT, self.runner.lab.wait_floor)
        if self.wait(timeout):
            return True, ""
        return False, f"after {timeout:g}s still not: " + "; ".join(self.missed())


@contextmanager
def goal_run(config: LabConfig, conditions: tuple[Condition, ...]) -> Iterator[GoalRun]:
    """A fresh lab set up as ``config`` says, started, with ``conditions`` watched; closed afterwards."""
    with (RUN_LABS.get() or OpenLabs()).lab(config) as lab:
        run = GoalRun(lab, conditions)
        try:
            lab.start()
            yield run
        finally:
            run.runner.close()


def run_to_end(config: LabConfig, script: tuple[Action, ...], goal: tuple[Condition, ...]) -> tuple[str | None, bool]:
    """Run a script on a fresh lab: (its failure, if any; whether the goal holds at its end)."""
    with goal_run(config, goal) as run:
        failure = run.run(script)
        return failure, run.holds()
