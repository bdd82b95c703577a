"""``verify`` for code steps: the lesson's own code, run the way the learner's will be.

A code step makes three kinds of claim, each proved on a fresh lab built by
:func:`~celery_tutor.lesson_labs.code_lab_config` from that code, exactly as the learner's
run builds it:

- the **starter** does not reach the goal (otherwise there is nothing to write);
- the **reference solution** reaches it, within :data:`~.run.GOAL_TIMEOUT` after the
  experiment;
- every **wrong solution** does not (otherwise the lesson calls working code wrong).

Code that cannot run (it does not compile, or its top level raises) fails its check, placed
at its line in the lesson file. This is the only place where ``verify`` runs a lesson's
code, and it does so only for the lessons it was asked to verify.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from celery_tutor.course.code_step import CodeStep, LessonCode, WrongCode
from celery_tutor.course.model import Lesson
from celery_tutor.lab.code_source import CodeProblem, position_in_file
from celery_tutor.lab.lab_config import LabConfig
from celery_tutor.lesson_labs import code_lab_config
from celery_tutor.verification.run import Check, goal_run, run_to_end, timed


def code_step_checks(lesson: Lesson, step: CodeStep) -> list[Callable[[], Check]]:
    """One check per piece of code in the step, each on a lab of its own (they may run at once)."""
    checks: list[Callable[[], Check]] = [
        partial(_misses_goal, lesson, step, step.starter, "the starter", "the starter code does not reach the goal"),
        partial(_reaches_goal, lesson, step),
    ]
    checks.extend(partial(_wrong, lesson, step, wrong) for wrong in step.wrong_solutions)
    return checks


def _reaches_goal(lesson: Lesson, step: CodeStep) -> Check:
    def body() -> tuple[bool, str]:
        config = _lab_for(lesson, step, step.solution, "the solution")
        if isinstance(config, str):
            return False, config
        with goal_run(config, step.goal) as run:
            return run.reaches(step.experiment, "the experiment")

    return timed(lesson, step.id, "the reference solution reaches the goal", body)


def _wrong(lesson: Lesson, step: CodeStep, wrong: WrongCode) -> Check:
    what = f"a wrong solution does not reach the goal ({wrong.why})"
    return _misses_goal(lesson, step, wrong.code, "the wrong solution", what)


def _misses_goal(lesson: Lesson, step: CodeStep, code: LessonCode, whose: str, what: str) -> Check:
    """The code runs, and the goal does not hold when the experiment ends.

    A wait of the experiment that times out is no failure here: code that misses the goal
    often leaves the experiment waiting for something that never comes.
    """

    def body() -> tuple[bool, str]:
        config = _lab_for(lesson, step, code, whose)
        if isinstance(config, str):
            return False, config
        _, reached = run_to_end(config, step.experiment, step.goal)
        return not reached, "it reaches the goal after all" if reached else ""

    return timed(lesson, step.id, what, body)


def _lab_for(lesson: Lesson, step: CodeStep, code: LessonCode, whose: str) -> LabConfig | str:
    """The lab the code's experiment runs on, or why the code cannot run (placed in the lesson file)."""
    made = code_lab_config(lesson, step, code.source)
    if isinstance(made, CodeProblem):
        return f"{whose} cannot run: {place(lesson.path, code, made)}"
    return made[0]


def place(path: str, code: LessonCode, problem: CodeProblem) -> str:
    """``path:line:col: message`` for a problem in code held by a lesson file.

    The line and column are the file's (see :func:`~.code_source.position_in_file`); a
    lesson not read from a file (or no longer there) gets the code's own line instead.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return f"{path}:{code.pos.line}: {problem}"
    pos = position_in_file(text, code.pos, problem)
    return f"{path}:{pos.line}:{pos.col}: {problem.message}"
