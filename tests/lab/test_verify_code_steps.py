"""``verify`` runs a code step's own code: the starter and wrong solutions miss the goal, the solution reaches it."""

from __future__ import annotations

from pathlib import Path

import pytest

from celery_tutor.cli import main
from celery_tutor.course.loader import parse_lesson
from celery_tutor.verification import verify

pytestmark = pytest.mark.lab

NO_RETRY = """\
        from lab import app, rates_api

        @app.task(bind=True)
        def fetch_exchange_rate(self, currency):
            return rates_api.fetch(currency)
"""
RETRY = """\
        from lab import app, rates_api

        @app.task(bind=True)
        def fetch_exchange_rate(self, currency):
            try:
                return rates_api.fetch(currency)
            except ConnectionError as exc:
                raise self.retry(exc=exc, countdown=1)
"""


def indent(code: str, by: int) -> str:
    return "".join(" " * by + line if line.strip() else line for line in code.splitlines(keepends=True))


def lesson_text(*, starter: str = NO_RETRY, solution: str = RETRY, wrong: str = NO_RETRY) -> str:
    """A lesson with one code step: the rates API fails once, and the rate must arrive after a retry."""
    return f"""\
schema: 1
id: code-probe
title: Code probe
summary: Write a retry.
minutes: 3
lab:
  tasks: [fetch_exchange_rate]
steps:
  - id: write-it
    takeaway: Retry.
    code:
      body: Make it retry.
      starter: |
{starter}      experiment:
        - fail_next: {{task: fetch_exchange_rate, times: 1, exc: ConnectionError}}
        - send: {{task: fetch_exchange_rate, args: [EUR], as: rate}}
        - wait: {{until: {{task: rate, state: SUCCESS}}, timeout: 3}}
      goal:
        - label: a retry was scheduled
          event: retry_scheduled
          task: rate
        - label: the rate arrived
          state: {{task: rate, is: SUCCESS}}
      hints: [Catch the error and call self.retry.]
      solution: |
{solution}      explain: A retry is a new message.
      wrong_solutions:
        - why: no retry at all
          code: |
{indent(wrong, 4)}"""


def checks_of(text: str) -> dict[str, tuple[bool, str]]:
    lesson = parse_lesson(text, "probe.yaml")
    return {c.what: (c.ok, c.detail) for c in verify([lesson], jobs=3)}


def test_a_sound_code_step_holds() -> None:
    assert checks_of(lesson_text()) == {
        "the starter code does not reach the goal": (True, ""),
        "the reference solution reaches the goal": (True, ""),
        "a wrong solution does not reach the goal (no retry at all)": (True, ""),
    }


def test_a_solution_that_misses_the_goal_fails_and_says_what_it_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("celery_tutor.verification.run.GOAL_TIMEOUT", 0.5)
    no_exc_retry = RETRY.replace("raise self.retry(exc=exc, countdown=1)", "raise")
    ok, detail = checks_of(lesson_text(solution=no_exc_retry))["the reference solution reaches the goal"]
    assert not ok
    assert detail.startswith("the experiment failed: line "), detail
    assert "wait timed out after 3s" in detail


def test_a_wrong_solution_that_reaches_the_goal_fails() -> None:
    checks = checks_of(lesson_text(wrong=RETRY))
    assert checks["a wrong solution does not reach the goal (no retry at all)"] == (
        False,
        "it reaches the goal after all",
    )
    assert checks["the reference solution reaches the goal"] == (True, "")


def test_a_starter_that_already_reaches_the_goal_fails() -> None:
    checks = checks_of(lesson_text(starter=RETRY))
    assert checks["the starter code does not reach the goal"] == (False, "it reaches the goal after all")


def test_code_that_fails_at_import_is_a_failed_check_at_its_line_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "lessons"
    folder.mkdir()
    path = folder / "01-probe.yaml"
    text = lesson_text(solution=RETRY.replace("from lab import app, rates_api", "import os"))
    path.write_text(text)
    assert main(["--lessons", str(folder), "verify"]) == 1
    out = capsys.readouterr().out
    line = text.splitlines().index("        import os") + 1
    failed = [row for row in out.splitlines() if row.startswith("FAIL")]
    assert len(failed) == 1, out
    assert failed[0].startswith("FAIL code-probe / write-it: the reference solution reaches the goal ("), failed[0]
    assert f"the solution cannot run: {path}:{line}:9: the lab's code cannot import os;" in failed[0]
