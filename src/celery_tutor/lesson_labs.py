"""How a lesson's labs are set up: the lesson's own lab, and a code step's lab with the learner's tasks.

The lesson screen and ``verify`` both start labs from here, so a claim ``verify`` proves
is about the same lab the learner sees.
"""

from __future__ import annotations

import dataclasses

from celery_tutor.course.code_step import CodeStep
from celery_tutor.course.model import Lesson
from celery_tutor.lab.code_source import CodeProblem
from celery_tutor.lab.lab_config import LabConfig
from celery_tutor.lab.learner_code import LearnerCode, compile_code


def lab_config(lesson: Lesson) -> LabConfig:
    """How the lab starts for this lesson."""
    setup = lesson.lab
    options = {task: dict(values) for task, values in setup.task_options.items()}
    return LabConfig(dict(setup.settings), options, setup.workers, setup.broker)


def code_lab_config(lesson: Lesson, step: CodeStep, source: str) -> tuple[LabConfig, LearnerCode] | CodeProblem:
    """The lab a code step's experiment runs on, with ``source``'s tasks registered; or why it cannot run.

    The code's top level runs here (it defines the tasks), with the lab's time limit; the
    tasks it defines must be the step's.
    """
    compiled = compile_code(source, step.tasks)
    if isinstance(compiled, CodeProblem):
        return compiled
    return dataclasses.replace(lab_config(lesson), extra_tasks=compiled.specs), compiled
