"""A code step: the learner writes a lab task, and an experiment runs it on a fresh lab.

Its code (starter, solution, wrong solutions) is kept as text with its place in the
lesson file; the loader only checks it statically (:func:`~celery_tutor.lab.code_source.check_code`),
so a lesson stays data until the learner presses run or ``verify`` runs the lesson.
"""

from __future__ import annotations

from dataclasses import dataclass

from celery_tutor.course.parts import GoalStep
from celery_tutor.lab.actions import Action
from celery_tutor.yaml_source import Pos


@dataclass(frozen=True)
class LessonCode:
    """Python source written in a lesson file: data until someone asks to run it."""

    source: str
    pos: Pos
    """Where the value starts in the lesson file (a literal block's ``|``), to place problems."""


@dataclass(frozen=True)
class WrongCode:
    """A tempting version of a code step's task that must NOT reach its goal (``verify`` proves it)."""

    why: str
    code: LessonCode


@dataclass(frozen=True)
class CodeStep(GoalStep, kind="code"):
    """Write the task: the experiment runs on a fresh lab with the learner's code registered.

    ``tasks`` are the task names the starter defines: the learner's code, the solution and
    every wrong solution must define exactly these, and the experiment sends them. A task
    named like one of the lab's replaces it for the run.
    """

    starter: LessonCode
    tasks: tuple[str, ...]
    experiment: tuple[Action, ...]
    solution: LessonCode
    wrong_solutions: tuple[WrongCode, ...] = ()
