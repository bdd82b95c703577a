"""A code step's lab: the learner's code compiled, its tasks registered on the lesson's lab config."""

from __future__ import annotations

from tests.course.test_code_step_reader import HEAD, REST

from celery_tutor.course.code_step import CodeStep
from celery_tutor.course.loader import parse_lesson
from celery_tutor.lab.code_source import CodeProblem
from celery_tutor.lesson_labs import code_lab_config


def _lesson_and_step() -> tuple:
    lesson = parse_lesson(
        HEAD.replace("  tasks: [fetch_exchange_rate]", "  broker: redis\n  workers: 2") + REST, "d.yaml"
    )
    (step,) = lesson.steps
    assert isinstance(step, CodeStep)
    return lesson, step


def test_the_learner_s_tasks_join_the_lesson_s_lab() -> None:
    lesson, step = _lesson_and_step()
    result = code_lab_config(lesson, step, step.solution.source)
    assert not isinstance(result, CodeProblem)
    config, code = result
    assert [spec.name for spec in config.extra_tasks] == ["fetch_exchange_rate"]
    assert (config.broker, config.workers) == ("redis", 2)
    assert code.lines == {"fetch_exchange_rate": 4}


def test_code_defining_other_tasks_is_refused_before_a_lab_starts() -> None:
    lesson, step = _lesson_and_step()
    result = code_lab_config(lesson, step, step.solution.source.replace("def fetch_exchange_rate", "def rate"))
    assert isinstance(result, CodeProblem)
    assert result.kind == "tasks" and "fetch_exchange_rate" in result.message


def test_an_exception_at_import_time_is_reported_at_its_line() -> None:
    lesson, step = _lesson_and_step()
    result = code_lab_config(lesson, step, "from lab import app\n\nx = 1 / 0\n")
    assert isinstance(result, CodeProblem)
    assert (result.line, result.kind) == (3, "import") and "ZeroDivisionError" in result.message
