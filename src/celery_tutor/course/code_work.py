"""The learner's work in a code step: the code as typed, kept in the progress, and how the last run went.

:class:`~celery_tutor.course.session.LessonSession` owns one while a code step is the
current step. It never compiles or runs anything: the screen compiles the code (with
:func:`~celery_tutor.lesson_labs.code_lab_config`, a layer above this one) and starts the
lab; it tells the session the new lab's state (``lab_replaced``), and this object what
happened: a :class:`~celery_tutor.lab.code_source.CodeProblem`, the run starting, its
experiment failing, the lab halting on an endless loop.
"""

from __future__ import annotations

from collections.abc import Callable

from celery_tutor.course.code_step import CodeStep
from celery_tutor.course.phases import LabScript
from celery_tutor.lab.code_source import CodeProblem
from celery_tutor.lab.limits import MAX_CODE_CHARS
from celery_tutor.progress import StepProgress


class CodeWork:
    """One code step's editor content and the outcome of its last run."""

    def __init__(self, step: CodeStep, progress: StepProgress, save: Callable[[], None]) -> None:
        self.step = step
        self._progress = progress
        self._save = save
        self.problem: CodeProblem | None = None
        """Why the code last run could not start (a syntax error, an exception at import time…)."""
        self.running = False
        """The experiment is running on a lab with the learner's code."""
        self.runs = 0
        """How many runs started in this visit of the step."""
        self.failure: str | None = None
        """How the last run's experiment failed (a wait that timed out, the lab halting)."""
        self.halted: str | None = None
        """The lab stopped the learner's code at its time limit (an endless loop?): why."""

    @property
    def source(self) -> str:
        """The code to show: the learner's as last kept, else the starter."""
        kept = self._progress.code
        return kept if kept is not None else self.step.starter.source

    @property
    def edited(self) -> bool:
        """Does the kept code differ from the starter?"""
        return self._progress.code is not None

    def keep(self, source: str) -> bool:
        """Keep the learner's code in the progress (False when it is over the size limit: not kept)."""
        if len(source) > MAX_CODE_CHARS:
            return False
        code = None if source == self.step.starter.source else source
        if code != self._progress.code:
            self._progress.code = code
            self._save()
        return True

    def reset(self) -> str:
        """Back to the starter (the code it returns); the problem shown goes with the old code."""
        self.problem = None
        self.keep(self.step.starter.source)
        return self.step.starter.source

    def reveal_solution(self) -> str:
        """The reference solution, to put in the editor: counts as revealed, as a lab step's replay does."""
        self.problem = None
        self._progress.solution_used = True
        self._progress.code = self.step.solution.source
        self._save()
        return self.step.solution.source

    def refused(self, problem: CodeProblem) -> None:
        """The code could not start: nothing ran, the lab is the one there was."""
        self.problem = problem
        self.running = False

    def started(self) -> LabScript:
        """A run started on a fresh lab with the learner's tasks: the experiment to run on it."""
        self.problem = None
        self.failure = None
        self.halted = None
        self.running = True
        self.runs += 1
        return LabScript("code", self.step.experiment)

    def ended(self, failure: str | None) -> bool:
        """The run's experiment ended (``failure``: how it went wrong); False when no run was going."""
        if not self.running:
            return False
        self.running = False
        self.failure = failure
        return True
