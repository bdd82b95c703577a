"""A lesson's minutes come from its words and its lab time, and ``check`` warns when they stray."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from celery_tutor.cli import main
from celery_tutor.course import pace
from celery_tutor.course.lessons import load_course
from celery_tutor.course.loader import load_lesson, parse_lesson
from celery_tutor.course.pace import Pace, estimate
from celery_tutor.paths import bundled_lessons

LESSONS = bundled_lessons()
SHIPPED = sorted(LESSONS.glob("*.yaml"))
DOCS = Path(__file__).parents[2] / "docs" / "lesson-format.md"

# 25 counted words (one, two, … a5); every text the rule leaves out says "skipped".
PACED = """\
schema: 1
id: paced
title: Paced
summary: A lesson whose every word is counted, or skipped.
minutes: {minutes}
lab:
  tasks: [add]
steps:
  - id: intro
    read: one two three four
  - id: guess
    predict:
      question: five six
      choices:
        - text: seven
          correct: true
          feedback: skipped skipped skipped
        - text: eight nine
          feedback: skipped skipped
      experiment:
        - send: {{task: add, args: [1, 2], as: sum}}
        - wait: {{seconds: 1.5}}
        - wait: {{until: {{task: sum, state: SUCCESS}}, timeout: 4}}
      expect:
        - label: ten
          state: {{task: sum, is: SUCCESS}}
      explain: eleven twelve
  - id: try
    lab:
      body: thirteen
      goal:
        - label: fourteen
          state: {{task: sum, is: SUCCESS}}
      hints: [skipped skipped, skipped]
      solution:
        - send: {{task: add, args: [1, 2], as: sum}}
        - wait: {{until: {{task: sum, state: SUCCESS}}}}
      explain: fifteen
  - id: quiz
    quiz:
      - id: q1
        single: sixteen
        choices:
          - {{text: seventeen, correct: true, feedback: skipped}}
          - {{text: eighteen, feedback: skipped skipped}}
        explain: nineteen
      - id: q2
        ordering: twenty
        items: [a1, a2]
        explain: a3
      - id: q3
        numeric: a4
        answer: 3
        tolerance: 0
        wrong_answers: [{{value: 2, feedback: skipped}}]
        measure:
          experiment:
            - send: {{task: add, args: [1, 2], as: other}}
            - wait: {{seconds: 100}}
          count: {{event: started, task: other}}
        explain: a5
"""


def paced(minutes: int) -> str:
    return PACED.format(minutes=minutes)


def test_the_rule_counts_read_words_and_written_waits_only() -> None:
    got = estimate(parse_lesson(paced(3), "paced.yaml"))
    # The waits: 1.5 s, a 4 s timeout, the default 10 s timeout; never the measure's 100 s.
    assert got == Pace(words=25, predictions=1, labs=1, questions=3, wait_seconds=15.5)
    # 25 words at 200 a minute (7.5 s), 30 + 60 + 3 × 20 s of doing, 15.5 s of waits.
    assert got.seconds == pytest.approx(173.0)
    assert got.minutes == 3
    assert got.describe() == "25 words, 1 prediction, 1 lab step, 3 questions and 16 seconds of lab waits"


@pytest.mark.parametrize(("seconds", "minutes"), [(0, 1), (89.9, 1), (90, 2), (149.9, 2), (150, 3), (900, 15)])
def test_the_estimate_rounds_half_a_minute_up_and_is_never_zero(seconds: float, minutes: int) -> None:
    assert Pace(words=0, predictions=0, labs=0, questions=0, wait_seconds=seconds).minutes == minutes


@pytest.mark.parametrize("minutes", [1, 3, 5])
def test_minutes_within_the_margin_pass_without_a_warning(minutes: int) -> None:
    assert parse_lesson(paced(minutes), "paced.yaml").warnings == ()


@pytest.mark.parametrize("minutes", [6, 20])
def test_minutes_off_the_rule_are_a_warning_at_the_minutes_line(minutes: int) -> None:
    (warning,) = parse_lesson(paced(minutes), "paced.yaml").warnings
    assert (warning.path, warning.pos.line, warning.pos.col) == ("paced.yaml", 5, 10)
    assert warning.message == (
        f"warning: minutes: {minutes}, but the lesson takes about 3 (25 words, 1 prediction, 1 lab step, "
        "3 questions and 16 seconds of lab waits; docs/lesson-format.md, Minutes); set minutes: 3"
    )


def test_a_lesson_over_fifteen_minutes_is_told_to_split() -> None:
    long_read = " ".join(["word"] * 3_000)  # 15 minutes of reading, and the rest on top
    text = paced(16).replace("read: one two three four", f"read: {long_read}")
    (warning,) = parse_lesson(text, "paced.yaml").warnings
    assert warning.message == (
        "warning: minutes: the lesson takes about 18 minutes, over the 15 a lesson should take; split it"
    )


def test_check_prints_the_warning_and_still_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lesson = tmp_path / "paced.yaml"
    lesson.write_text(paced(9))
    assert main(["check", str(lesson)]) == 0
    out = capsys.readouterr()
    assert out.out == "1 lesson(s) OK, 1 warning\n"
    assert out.err.startswith(f"{lesson}:5:10: warning: minutes: 9, but the lesson takes about 3 (")
    assert load_course([lesson]).warnings == load_lesson(lesson).warnings


def test_the_docs_state_the_rule_the_code_applies() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    section = docs[docs.index("## Minutes") :]
    section = section[: section.index("\n## ", 1)]
    for stated in (
        f"{pace.WORDS_PER_MINUTE} words a minute",
        f"{pace.PREDICT_SECONDS} s per prediction",
        f"{pace.LAB_SECONDS} s per lab step",
        f"{pace.QUESTION_SECONDS} s per quiz question",
        f"more than {pace.MARGIN_MINUTES} minutes off",
        f"more than\n{pace.MAX_LESSON_MINUTES} minutes",
    ):
        assert stated in section, stated


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_lesson_keeps_to_its_pace(path: Path) -> None:
    lesson = load_lesson(path)
    assert [str(w) for w in lesson.warnings] == []
    assert estimate(lesson).minutes <= pace.MAX_LESSON_MINUTES


def texts(value: object) -> Iterator[str]:
    """Every text in a lesson's model, wherever it sits (feedback, hints, labels…)."""
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from texts(getattr(value, item.name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from texts(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts(item)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_no_lesson_refers_to_another_by_number(path: Path) -> None:
    """Lessons get inserted and their numbers move: a lesson names another by its title."""
    lesson = load_lesson(path)
    numbered = [text for text in texts(lesson.steps) if re.search(r"\blessons? \d", text, re.IGNORECASE)]
    assert numbered == []
