"""Reading a ``code`` step: its code is checked statically and placed in the lesson file."""

from __future__ import annotations

import pytest

from celery_tutor.course.code_step import CodeStep
from celery_tutor.course.loader import LessonError, parse_lesson
from celery_tutor.lab.actions import Send
from celery_tutor.yaml_source import Pos

HEAD = """\
schema: 1
id: code-demo
title: Code demo
summary: Write a task.
minutes: 5
lab:
  tasks: [fetch_exchange_rate]
steps:
  - id: write-it
    code:
      body: Make it retry.
      starter: |
        from lab import app, rates_api

        @app.task(bind=True)
        def fetch_exchange_rate(self, currency):
            return rates_api.fetch(currency)
"""
REST = """\
      experiment:
        - fail_next: {task: fetch_exchange_rate, times: 1, exc: ConnectionError}
        - send: {task: fetch_exchange_rate, args: [EUR], as: rate}
        - wait: {until: {task: rate, state: SUCCESS}, timeout: 10}
      goal:
        - label: the rate arrives after a retry
          state: {task: rate, is: SUCCESS}
      hints: [Catch the error and call self.retry.]
      solution: |
        from lab import app, rates_api

        @app.task(bind=True)
        def fetch_exchange_rate(self, currency):
            try:
                return rates_api.fetch(currency)
            except ConnectionError as exc:
                raise self.retry(exc=exc, countdown=1)
      explain: A retry is a new message.
"""


def test_a_code_step_reads_into_the_model() -> None:
    lesson = parse_lesson(HEAD + REST, "demo.yaml")
    (step,) = lesson.steps
    assert isinstance(step, CodeStep)
    assert step.tasks == ("fetch_exchange_rate",)
    assert "rates_api.fetch" in step.starter.source
    assert "self.retry" in step.solution.source
    assert isinstance(step.experiment[1], Send)
    assert [c.label for c in step.goal] == ["the rate arrives after a retry"]
    assert step.wrong_solutions == ()


def test_the_experiment_may_send_a_task_only_the_code_defines() -> None:
    head, steps = (HEAD + REST).split("steps:\n")
    text = head + "steps:\n" + steps.replace("fetch_exchange_rate", "fetch_rate_v2")
    lesson = parse_lesson(text, "demo.yaml")
    (step,) = lesson.steps
    assert isinstance(step, CodeStep) and step.tasks == ("fetch_rate_v2",)


def test_the_same_name_in_a_lab_step_is_still_unknown() -> None:
    head, steps = (HEAD + REST).split("steps:\n")
    text = head + "steps:\n" + steps.replace("fetch_exchange_rate", "fetch_rate_v2")
    text += """\
  - id: other
    predict:
      question: What?
      choices: [{text: a, correct: true}, {text: b}]
      experiment:
        - send: {task: fetch_rate_v2}
      expect: [{label: x, state: {task: fetch_rate_v2, is: SUCCESS}}]
      explain: Because.
"""
    with pytest.raises(LessonError) as info:
        parse_lesson(text, "demo.yaml")
    assert "fetch_rate_v2" in str(info.value)
    assert all(problem.pos.line > 30 for problem in info.value.problems)


def test_a_syntax_error_in_the_solution_is_placed_at_its_line_and_column_in_the_file() -> None:
    text = (HEAD + REST).replace("raise self.retry(exc=exc, countdown=1)", "raise self.retry(exc=exc, countdown=1")
    with pytest.raises(LessonError) as info:
        parse_lesson(text, "demo.yaml")
    (problem,) = info.value.problems
    line, row = next((n, row) for n, row in enumerate(text.splitlines(), 1) if "raise self.retry(" in row)
    assert problem.pos == Pos(line, row.index("self.retry(") + len("self.retry(")), problem
    assert problem.message.startswith("write-it.code.solution: ")
    assert "never closed" in problem.message


def test_a_solution_must_define_the_starter_s_tasks() -> None:
    text = HEAD + REST.replace(
        "def fetch_exchange_rate(self, currency):\n            try", "def other(self, currency):\n            try"
    )
    with pytest.raises(LessonError) as info:
        parse_lesson(text, "demo.yaml")
    assert any("fetch_exchange_rate" in p.message and "solution" in p.message for p in info.value.problems)


def test_a_missing_starter_is_one_problem() -> None:
    start = HEAD.index("      starter: |")
    text = HEAD[:start] + REST
    with pytest.raises(LessonError) as info:
        parse_lesson(text, "demo.yaml")
    assert [p.message for p in info.value.problems] == ["write-it.code: missing required key 'starter'"]


def test_a_wrong_solution_is_read_and_checked() -> None:
    text = (
        HEAD
        + REST
        + """\
      wrong_solutions:
        - why: no retry at all
          code: |
            from lab import app, rates_api

            @app.task(bind=True)
            def fetch_exchange_rate(self, currency):
                return rates_api.fetch(currency)
"""
    )
    (step,) = parse_lesson(text, "demo.yaml").steps
    assert isinstance(step, CodeStep)
    assert [w.why for w in step.wrong_solutions] == ["no retry at all"]


def test_a_broken_solution_does_not_hide_the_problems_of_the_rest_of_the_step() -> None:
    text = (HEAD + REST).replace("      hints: [Catch the error and call self.retry.]", "      hints: [[nested]]")
    text = text.replace("                return rates_api.fetch(currency)\n", "                return (\n", 1)
    with pytest.raises(LessonError) as raised:
        parse_lesson(text, "demo.yaml")
    messages = [p.message for p in raised.value.problems]
    assert any(m.startswith("write-it.code.solution:") for m in messages), messages
    assert any(m.startswith("write-it.code.hints") for m in messages), messages
